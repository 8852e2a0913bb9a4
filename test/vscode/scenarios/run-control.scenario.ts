// Steering a run from the palette: start (quick picks) → running in the explorer and the status bar → pause →
// checkpoint now (it appears in the explorer) → stop → resume from that checkpoint. Runs the real trainer
// (`dist/cli.js serve`, the built-in model and task); PRPO_SCENARIO_FAKE_BACKEND=1 swaps in the
// protocol-compatible fake backend (test/vscode/suite/fakeBackend.ts).
import assert from 'node:assert/strict';
import { scenario } from '../harness/studio';
import type { Workbench } from '../harness/workbench';
import { useFakeBackend } from '../suite/fakeBackendBundle';
import { runRow as runRowOf, showStudio, statusBarText, steerLiveRun, until, widenSideBar } from '../suite/scenarioHelpers';

const real = process.env.PRPO_SCENARIO_FAKE_BACKEND !== '1';
if (!real) useFakeBackend({ FAKE_STEP_MS: '400' });

const RUN = 'Scenario PRPO-R run';
const runRow = (workbench: Workbench, description: RegExp, timeoutMs = 60_000) => runRowOf(workbench, RUN, description, timeoutMs);

scenario('start, pause, checkpoint, stop and resume a run from the palette', { runs: [], timeoutMs: real ? 420_000 : 240_000 }, async ({ workbench, page, screenshot }) => {
  await showStudio(workbench);
  await widenSideBar(page, 480);
  await page.locator('.part.sidebar').getByText('No training runs yet').waitFor({ timeout: 60_000 });
  await screenshot('welcome-view');

  // Start: backend, preset, steps, seed, execution provider, name.
  await workbench.runCommand('prpoStudio.startRun');
  await workbench.pickQuickItem('Built-in · onnxruntime');
  await page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'PRPO-R' }).first().waitFor({ timeout: 15_000 });
  await screenshot('preset-pick');
  await workbench.pickQuickItem('PRPO-R');
  await workbench.answerInput('400', { title: /: steps$/ });
  await workbench.answerInput('0', { title: /: seed$/ });
  await workbench.pickQuickItem('cpu');
  await workbench.answerInput(RUN, { title: /: run name$/ });
  await screenshot('starting');

  const running = await runRow(workbench, /running/, real ? 240_000 : 60_000);
  assert.match(running.description, /PRPO-R/);
  await until('a step in the status bar', async () => /PRPO-R running · step [1-9]/.test(await statusBarText(workbench)), real ? 240_000 : 30_000);
  await screenshot('running');

  // The status bar item opens the live run's trajectory view.
  await page.locator('.part.statusbar .statusbar-item', { hasText: /PRPO-R running/ }).first().locator('a, .statusbar-item-label').first().click();
  await page.locator('.part.editor .tab', { hasText: `Trajectory · ${RUN}` }).first().waitFor({ timeout: 60_000 });
  await page.waitForTimeout(real ? 4000 : 2000); // let a step or two arrive
  await screenshot('watching-live-run');
  await workbench.runCommand('View: Close All Editors');

  await steerLiveRun(workbench, screenshot, { name: RUN, preset: 'PRPO-R', stopMs: 60_000, startMs: real ? 240_000 : 60_000 });
});
