// Runs from other trainers: a verl rollout_data_dir inside the runs directory shows up in the explorer as an
// imported run (read only: no checkpoints, no resume), its steps open in the trajectory view; an EasyR1 log
// folder elsewhere in the workspace is opened with "Open Run Folder…" from the file explorer.
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { scenario } from '../harness/studio';
import { clickMenuItem, contextMenuLabels, showStudio, until, widenSideBar } from '../suite/scenarioHelpers';

const fixtures = join(__dirname, '..', '..', 'fixtures', 'importers');

scenario(
  'runs imported from verl and EasyR1 appear in the explorer and open',
  {
    runs: [],
    setup: (ws) => {
      cpSync(join(fixtures, 'verl', 'rollout_data'), join(ws, 'runs', 'verl-rollouts'), { recursive: true });
      cpSync(join(fixtures, 'easyr1'), join(ws, 'elsewhere', 'easyr1-experiment'), { recursive: true });
    },
  },
  async ({ workbench, page, screenshot }) => {
    await showStudio(workbench);
    await widenSideBar(page);
    await workbench.treeItem('Runs', 'verl-rollouts', 90_000);
    const row = (await workbench.treeItems('Runs')).find((i) => i.label === 'verl-rollouts')!;
    assert.match(row.description, /^step 3 .*imported from verl/);

    const run = await workbench.treeItem('Runs', 'verl-rollouts');
    await run.click({ button: 'right' });
    const menu = await contextMenuLabels(page);
    assert.ok(menu.includes('Open Run (Trajectory View)') && menu.includes('Open Metrics (Charts)'), JSON.stringify(menu));
    assert.ok(!menu.includes('Resume from Checkpoint…') && !menu.includes('Open Rollout Step File'), JSON.stringify(menu));
    await page.keyboard.press('Escape');
    await run.click();
    await run.press('ArrowRight');
    const steps = await workbench.treeItem('Runs', 'Steps');
    const items = await workbench.treeItems('Runs');
    assert.ok(!items.some((i) => i.label === 'Checkpoints'), 'an import has no checkpoints group');
    await steps.click();
    await steps.press('ArrowRight');
    await workbench.view('Runs').locator('.monaco-list-row', { hasText: /step 1\s*R / }).first().click();
    await page.locator('.part.editor .tab', { hasText: 'Trajectory · verl-rollouts' }).first().waitFor({ timeout: 60_000 });
    await screenshot('verl-import');

    // EasyR1, from the file explorer.
    await workbench.runCommand('View: Show Explorer');
    const folder = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'elsewhere' }).first();
    await folder.click();
    const sub = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'easyr1-experiment' }).first();
    await sub.waitFor({ timeout: 15_000 });
    await sub.click({ button: 'right' });
    await clickMenuItem(page, 'Open Run Folder…');
    // Metrics only (no rollouts): it opens in the charts view.
    await page.locator('.part.editor .tab', { hasText: 'Charts · easyr1-experiment' }).first().waitFor({ timeout: 60_000 });
    await showStudio(workbench);
    const easy = await until('the EasyR1 run in the explorer', async () => (await workbench.treeItems('Runs')).find((i) => i.label === 'easyr1-experiment'));
    assert.match(easy.description, /imported from easyr1/);
    await screenshot('easyr1-opened');
  },
);
