// A palette command opens the trajectory webview on the fixture run, and the rollout's tokens are in its DOM.
import assert from 'node:assert/strict';
import { FIXTURE_RUN_NAME, FIXTURE_TOKENS } from '../fixtures/runs';
import { scenario } from '../harness/studio';

scenario('a palette command opens the trajectory webview with the rollout tokens', async ({ workbench, screenshot }) => {
  // The command is offered once the extension has read the runs (`prpoStudio.hasRuns`): wait for the explorer.
  await workbench.openViewContainer('PRPO Studio');
  await workbench.treeItem('Runs', FIXTURE_RUN_NAME, 90_000);
  await workbench.runCommand('prpoStudio.openRun');
  const webview = await workbench.waitForWebview(`text=${FIXTURE_TOKENS[3].trim()}`, 90_000);
  const text = await webview.locator('body').innerText();
  for (const token of [' crimson', ' triangles', ' B2']) assert.ok(text.includes(token.trim()), `token ${JSON.stringify(token)} in the webview`);
  await screenshot('trajectory');
});
