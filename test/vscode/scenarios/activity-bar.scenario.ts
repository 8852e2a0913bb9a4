// The studio's view container is in the activity bar and opens the run explorer.
import assert from 'node:assert/strict';
import { scenario } from '../harness/studio';

scenario('the studio view container appears in the activity bar', async ({ workbench, screenshot }) => {
  const item = workbench.activityBarItem('PRPO Studio');
  await item.waitFor({ state: 'visible', timeout: 60_000 });
  await screenshot('activity-bar');
  await workbench.openViewContainer('PRPO Studio');
  assert.match(await workbench.page.locator('.part.sidebar .composite.title').innerText(), /PRPO STUDIO/i);
  await screenshot('view-container-open');
});
