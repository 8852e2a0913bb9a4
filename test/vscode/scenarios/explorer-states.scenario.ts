// The run explorer shows each run's state with its own icon and description (completed, failed,
// interrupted, stopped, a broken run.json), its checkpoints and steps, and context menus by state.
import assert from 'node:assert/strict';
import { scenario } from '../harness/studio';
import { writeFixtureRuns } from '../suite/fixtures';
import { clickMenuItem, contextMenuLabels, showStudio, until, widenSideBar } from '../suite/scenarioHelpers';
import { join } from 'node:path';

scenario(
  'the run explorer shows run states, checkpoints, steps and state-dependent menus',
  { runs: [], setup: (ws) => void writeFixtureRuns(join(ws, 'runs')) },
  async ({ workbench, page, screenshot }) => {
    await showStudio(workbench);
    await widenSideBar(page);
    await workbench.treeItem('Runs', 'PRPO-R shapes (fixture)', 90_000);
    const items = await until('five runs', async () => {
      const rows = await workbench.treeItems('Runs');
      return rows.length >= 5 && rows;
    });
    const byLabel = (l: string) => items.find((i) => i.label === l);
    assert.match(byLabel('PRPO-R shapes (fixture)')!.description, /^step 6\/6 · R [\d.]+ · completed · PRPO-R$/);
    assert.match(byLabel('VPPO crashed (fixture)')!.description, /^step 4\/10 .*failed · VPPO$/);
    assert.match(byLabel('GRPO interrupted (fixture)')!.description, /interrupted/);
    assert.match(byLabel('PGPO stopped (fixture)')!.description, /stopped/);
    assert.match(byLabel('broken-fixture')!.description, /run\.json missing or invalid/);
    await screenshot('run-states');

    // Tooltip of the failed run names why it failed.
    const failed = await workbench.treeItem('Runs', 'VPPO crashed (fixture)');
    const tip = await workbench.hover(failed.locator('.label-name'));
    assert.match(tip, /exited unexpectedly \(exit code 3\)/);
    await screenshot('failed-run-tooltip');
    await page.keyboard.press('Escape');

    // Context menu of a finished run: resume from a checkpoint, open, charts, reveal — no pause/stop.
    await failed.click({ button: 'right' });
    const menu = await contextMenuLabels(page);
    assert.ok(menu.includes('Resume from Checkpoint…'), JSON.stringify(menu));
    assert.ok(menu.includes('Open Run (Trajectory View)'), JSON.stringify(menu));
    assert.ok(!menu.includes('Pause Run') && !menu.includes('Stop Run'), JSON.stringify(menu));
    await screenshot('finished-run-menu');
    await page.keyboard.press('Escape');

    // Children: checkpoints (latest first) and steps with their reward.
    const completed = await workbench.treeItem('Runs', 'PRPO-R shapes (fixture)');
    await completed.click();
    await completed.press('ArrowRight');
    const checkpoints = await workbench.treeItem('Runs', 'Checkpoints');
    await checkpoints.click();
    await checkpoints.press('ArrowRight');
    await workbench.treeItem('Runs', 'step 6');
    const steps = await workbench.treeItem('Runs', 'Steps');
    await steps.click();
    await steps.press('ArrowRight');
    const rows = await until('step rows', async () => {
      const r = await workbench.treeItems('Runs');
      return r.filter((i) => /^step \d+$/.test(i.label)).length >= 8 && r;
    });
    const stepRow = rows.find((i) => i.level === 3 && i.label === 'step 6' && /R /.test(i.description));
    assert.ok(stepRow, `a step row with its reward: ${JSON.stringify(rows)}`);
    await screenshot('checkpoints-and-steps');

    // A step opens the trajectory view of its run at that step.
    // (the step row, not the checkpoint of the same step: steps carry their reward)
    await workbench.view('Runs').locator('.monaco-list-row', { hasText: /step 3\s*R / }).first().click();
    await page.locator('.part.editor .tab', { hasText: 'Trajectory · PRPO-R shapes (fixture)' }).first().waitFor({ timeout: 60_000 });
    await screenshot('step-opens-trajectory-view');

    // Two runs selected: Open Metrics overlays them in one charts view.
    const first = await workbench.treeItem('Runs', 'PRPO-R shapes (fixture)');
    await first.click();
    const second = await workbench.treeItem('Runs', 'VPPO crashed (fixture)');
    await second.click({ modifiers: ['Control'] });
    await second.click({ button: 'right' });
    await clickMenuItem(page, 'Open Metrics (Charts)');
    await page.locator('.part.editor .tab', { hasText: 'Charts · 2 runs' }).first().waitFor({ timeout: 60_000 });
    await screenshot('two-runs-charted');
    await workbench.runCommand('View: Close All Editors');

    // Reveal Run on Disk: in the browser (code-server) the run folder is revealed in the file explorer.
    const stopped = await workbench.treeItem('Runs', 'PGPO stopped (fixture)');
    await stopped.click({ button: 'right' });
    await clickMenuItem(page, 'Reveal Run on Disk');
    await page.locator('.explorer-folders-view .monaco-list-row.selected, .explorer-folders-view .monaco-list-row.focused', { hasText: 'pgpo-fixture-stopped' }).first().waitFor({ timeout: 30_000 });
    await screenshot('revealed-in-explorer');
    await showStudio(workbench);

    // The broken run explains itself.
    const broken = await workbench.treeItem('Runs', 'broken-fixture');
    await broken.click();
    await broken.press('ArrowRight');
    await workbench.treeItem('Runs', /^run\.json:2: not valid JSON/);
    await screenshot('broken-run');
  },
);
