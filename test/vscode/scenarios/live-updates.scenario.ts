// The explorer follows runs as they are written: a run written by another process (a terminal's
// `prpo-studio train`) updates from file watching, its step rows open while they refresh, and it is read-only here; `prpoStudio.autoStart` starts the
// built-in default when the workspace opens.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { RunWriter } from '../../../src/core/run/writer';
import { scenario } from '../harness/studio';
import { fakeRollouts } from '../suite/fixtures';
import { useFakeBackend } from '../suite/fakeBackendBundle';
import { contextMenuLabels, showStudio, sleep, statusBarText, until, widenSideBar } from '../suite/scenarioHelpers';

useFakeBackend({ FAKE_STEP_MS: '400' });

const EXTERNAL = 'Terminal run (external)';

scenario(
  'a run written by another process updates live in the explorer and is read-only',
  {
    runs: [],
    setup: (ws) => {
      const w = RunWriter.create(join(ws, 'runs'), {
        id: 'external-run',
        name: EXTERNAL,
        source: 'prpo-studio',
        algorithm: 'vppo',
        config: {},
        model: { name: 'tiny-vlm', config: {} },
        task: { name: 'shapes', config: {} },
        seed: 7,
        steps: 200,
      });
      // This test process plays the external trainer: its pid is alive, so the run reads as running.
      w.appendEvent({ type: 'started', step: 0, pid: process.pid });
    },
  },
  async ({ workbench, page, runsDir, screenshot }) => {
    await showStudio(workbench);
    await widenSideBar(page);
    await workbench.treeItem('Runs', EXTERNAL, 90_000);
    const w = RunWriter.open(join(runsDir, 'external-run'));
    for (let step = 1; step <= 3; step++) {
      w.appendRollouts(step, fakeRollouts(step));
      w.appendMetrics({ step, reward: step / 4, accuracy: step / 4 });
      await sleep(400);
    }
    const row = await until('step 3 in the explorer', async () =>
      (await workbench.treeItems('Runs')).find((i) => i.label === EXTERNAL && /step 3\/200 · R 0\.75 · running/.test(i.description)),
    );
    assert.match(row.description, /VPPO/);
    await screenshot('external-run-live');

    // Step rows of a run that is being written open it, click after click, while the explorer refreshes under
    // the pointer: a row's command must not go stale between a refresh and the click ("Actual command not found").
    const item = await workbench.treeItem('Runs', EXTERNAL);
    await item.click();
    await item.press('ArrowRight');
    const stepsGroup = await workbench.treeItem('Runs', 'Steps');
    await stepsGroup.click();
    await stepsGroup.press('ArrowRight');
    let writing = true;
    let last = 3;
    const writer = (async () => {
      while (writing && last < 200) {
        last++;
        w.appendRollouts(last, fakeRollouts(last));
        w.appendMetrics({ step: last, reward: 0.5, accuracy: 0.5 });
        await sleep(60);
      }
    })();
    try {
      // The newest rows, at the top of the list: each new step re-creates them.
      const stepRows = workbench.view('Runs').locator('.monaco-list-row', { hasText: /^step \d+\s*R / });
      for (let i = 0; i < 24; i++) {
        await stepRows.nth(i % 2).click();
        await sleep(50);
      }
    } finally {
      writing = false;
      await writer;
    }
    await page.locator('.part.editor .tab', { hasText: `Trajectory · ${EXTERNAL}` }).first().waitFor({ timeout: 60_000 });
    const stale = (await workbench.allNotifications()).filter((n) => /command not found/i.test(n.message));
    assert.deepEqual(stale, [], 'a click on a refreshing step row failed');
    await workbench.runCommand('View: Close All Editors');
    await stepsGroup.click();
    await stepsGroup.press('ArrowLeft');
    await item.click();
    await item.press('ArrowLeft');

    // Not ours to steer: no Pause/Stop in its menu.
    await item.click({ button: 'right' });
    const menu = await contextMenuLabels(page);
    assert.ok(!menu.includes('Pause Run') && !menu.includes('Stop Run'), JSON.stringify(menu));
    assert.ok(menu.includes('Open Run (Trajectory View)'), JSON.stringify(menu));
    await page.keyboard.press('Escape');

    // A checkpoint and the end of the run show up as they are written.
    const { writeCheckpoint } = await import('../suite/fixtures');
    writeCheckpoint(w.dir, 3);
    w.appendEvent({ type: 'checkpoint', step: 3, checkpoint: 'checkpoints/step-000003' });
    w.appendEvent({ type: 'completed', step: last });
    await until('completed in the explorer', async () =>
      (await workbench.treeItems('Runs')).find((i) => i.label === EXTERNAL && /completed/.test(i.description)),
    );
    await item.click();
    await item.press('ArrowRight');
    await until('one checkpoint', async () => (await workbench.treeItems('Runs')).find((i) => i.label === 'Checkpoints' && i.description === '1'));
    await screenshot('external-run-completed');
  },
);

scenario(
  'prpoStudio.autoStart starts a PRPO-R run when the workspace opens',
  { runs: [], settings: { 'prpoStudio.autoStart': true, 'prpoStudio.defaultSteps': 200 } },
  async ({ workbench, screenshot }) => {
    await until('the auto-started run in the status bar', async () => /PRPO-R running · step \d+\/200/.test(await statusBarText(workbench)), 90_000);
    await showStudio(workbench);
    await workbench.treeItem('Runs', /^PRPO-R seed 0 · /, 30_000);
    await screenshot('auto-started');
    await workbench.runCommand('prpoStudio.stopRun');
    await until('stopped', async () => (await workbench.treeItems('Runs')).find((i) => /^PRPO-R seed 0 · /.test(i.label) && /stopped/.test(i.description)));
  },
);
