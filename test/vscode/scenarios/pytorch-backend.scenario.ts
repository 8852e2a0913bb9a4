// The PyTorch backend from the palette, as a user drives it: Start Run… → PyTorch → PRPO-R → a model folder (a tiny
// random-weight Qwen2-VL made by `python -m prpo_studio tiny-model` at test time, typed as a path) → the built-in
// shapes task exported as a dataset → cpu. Rollouts stream into the trajectory view (tokens, hover card with the
// blind/mild views and RVD), then pause, checkpoint, stop, and resume from the checkpoint, which starts a new PyTorch
// backend. The backend is the real `python -m prpo_studio serve` in .toolchain/python (the extension's default).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toolchainPaths } from '../../../scripts/toolchain/provision';
import { scenario } from '../harness/studio';
import type { Workbench } from '../harness/workbench';
import { runRow as runRowOf, showStudio, sleep, statusBarText, steerLiveRun, until, widenSideBar } from '../suite/scenarioHelpers';

const RUN = 'Scenario PyTorch run';
const python = toolchainPaths().python;
let modelDir = '';

const runRow = (workbench: Workbench, description: RegExp, timeoutMs = 120_000) => runRowOf(workbench, RUN, description, timeoutMs);

/** A tiny random-weight model of a real family, written where the workspace can see it. */
function makeTinyModel(workspaceDir: string): void {
  if (!existsSync(python)) throw new Error(`the PyTorch scenario needs the Python environment ${python}: npm run toolchain`);
  modelDir = join(workspaceDir, 'models', 'tiny-qwen2-vl');
  const r = spawnSync(python, ['-m', 'prpo_studio', 'tiny-model', '--family', 'qwen2-vl', '--out', modelDir], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: join(__dirname, '..', '..', '..', 'python', 'src'), PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 180_000,
  });
  if (r.status !== 0) throw new Error(`tiny-model failed (${r.status ?? r.signal}):\n${r.stderr}`);
}

scenario(
  'a PRPO-R run on the PyTorch backend: start from the palette, watch rollouts, pause, checkpoint, stop, resume',
  // Small steps (the Python suite's fast settings) through the setting a user would use for the same.
  { runs: [], setup: makeTinyModel, timeoutMs: 600_000, settings: { 'prpoStudio.python.config': { promptsPerStep: 2, groupSize: 2, maxNewTokens: 6, microBatchSize: 2 } } },
  async ({ workbench, page, screenshot, workspaceDir }) => {
    await showStudio(workbench);
    await widenSideBar(page, 480);

    await workbench.runCommand('prpoStudio.startRun');
    const quickRow = (text: string | RegExp) => page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: text }).first();
    await quickRow('PyTorch').waitFor({ timeout: 15_000 });
    await screenshot('backend-pick');
    await workbench.pickQuickItem('PyTorch');
    await workbench.pickQuickItem('PRPO-R');
    // The model: a path typed into the pick becomes its first item; a folder that is not a model is refused in place.
    await workbench.answerInput(workspaceDir);
    await quickRow(/not a usable model folder: config\.json is missing/).waitFor({ timeout: 15_000 });
    await screenshot('model-folder-refused');
    await workbench.answerInput(modelDir);
    // The dataset: the built-in shapes task, exported for the PyTorch backend.
    await quickRow('Export the built-in shapes task').waitFor({ timeout: 30_000 });
    await screenshot('dataset-pick');
    await workbench.pickQuickItem('Export the built-in shapes task');
    // The export takes a while; the dataset pick stays on screen (disabled) until it is done.
    await workbench.answerInput('400', { timeoutMs: 60_000, title: /: steps$/ });
    await workbench.answerInput('0', { title: /: seed$/ });
    await workbench.pickQuickItem('cpu');
    await workbench.answerInput(RUN, { title: /: run name$/ });
    await screenshot('starting');
    const exported = join(workspaceDir, 'datasets', 'shapes-train-256', 'data.jsonl');
    assert.equal(readFileSync(exported, 'utf8').trim().split('\n').length, 256);

    const running = await runRow(workbench, /running/, 300_000);
    assert.match(running.description, /PRPO-R/);
    await until('a step in the status bar', async () => /PRPO-R running · step [1-9]/.test(await statusBarText(workbench)), 300_000);
    await screenshot('running');

    // Rollouts in the trajectory view, with the per-token hover card of a real tokenizer's tokens.
    await workbench.runCommand('prpoStudio.openRun');
    const webview = await workbench.waitForWebview('.tok', 120_000);
    await webview.locator('.rollout').first().waitFor({ timeout: 60_000 });
    assert.ok((await webview.locator('.rollout').count()) >= 2, 'a group of rollouts');
    // A live run opens following new steps; hold this one still to read a token's card.
    const following = () => webview.locator('.follow').evaluate((el) => (el as HTMLElement & { checked: boolean }).checked);
    await until('the view following the live run', following, 30_000);
    await webview.locator('.follow').click();
    await until('the view held on one step', async () => !(await following()), 10_000);
    await sleep(500);
    await webview.locator('.rollout').first().locator('.tok').first().hover();
    const card = webview.locator('.hover-card:not([hidden])');
    await card.waitFor({ timeout: 15_000 });
    const text = await card.innerText();
    for (const f of ['log p (image)', 'log p (blind)', 'log p (mild)', 'G', 'U', 'RVD', 'Aᵢ', 'Ã']) assert.ok(text.includes(f), `hover card shows ${f}: ${text}`);
    await screenshot('trajectory-hover');
    // The charts read the same metrics.jsonl.
    await workbench.runCommand('prpoStudio.openMetrics');
    await workbench.waitForWebview('.chart-card canvas', 60_000);
    await screenshot('charts');
    await workbench.runCommand('View: Close All Editors');

    await steerLiveRun(workbench, screenshot, { name: RUN, preset: 'PRPO-R', stopMs: 120_000, startMs: 300_000 });
  },
);
