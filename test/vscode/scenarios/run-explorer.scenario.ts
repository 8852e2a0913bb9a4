// The run explorer (tree view `prpoStudio.runs`) lists the fixture run of the workspace's runs directory.
import assert from 'node:assert/strict';
import { FIXTURE_RUN_NAME } from '../fixtures/runs';
import { scenario } from '../harness/studio';

scenario('the run explorer lists a fixture run', async ({ workbench, screenshot }) => {
  await workbench.openViewContainer('PRPO Studio');
  const row = await workbench.treeItem('Runs', FIXTURE_RUN_NAME, 90_000);
  const items = await workbench.treeItems('Runs');
  const run = items.find((i) => i.label === FIXTURE_RUN_NAME);
  assert.ok(run, `fixture run in ${JSON.stringify(items)}`);
  assert.equal(run.level, 1);
  await screenshot('run-listed');
  // Expanding the run shows its steps (the fixture has two).
  await row.click();
  await row.press('ArrowRight');
  const after = await workbench.treeItems('Runs', { atLeast: 2 });
  assert.ok(after.length > items.length, `children after expanding: ${JSON.stringify(after)}`);
  await screenshot('run-expanded');
});
