// Live follow: while a run trains (the protocol-compatible fake backend), the trajectory view moves to each new
// step as it is produced, and the charts grow without reopening.
import assert from 'node:assert/strict';
import type { FrameLocator } from 'playwright-core';
import { scenario } from '../harness/studio';
import { useFakeBackend } from '../suite/fakeBackendBundle';
import { startBuiltinRun, until } from '../suite/scenarioHelpers';

useFakeBackend({ FAKE_STEP_MS: '1500' });
const RUN = 'Live follow run';

const stepShown = async (webview: FrameLocator): Promise<number> => {
  const m = /^Step (\d+) ·/.exec((await webview.locator('.status-line').innerText().catch(() => '')) ?? '');
  return m ? Number(m[1]) : -1;
};

scenario('live follow: the trajectory view and the charts follow a training run', { runs: [] }, async ({ workbench, screenshot }) => {
  await workbench.openViewContainer('PRPO Studio');
  await startBuiltinRun(workbench, RUN, 200);

  await workbench.runCommand('prpoStudio.openRun');
  const webview = await workbench.waitForWebview('.follow', 60_000);
  // A running run opens following.
  await until('follow live is on', async () => webview.locator('.follow').evaluate((el) => (el as HTMLElement & { checked: boolean }).checked), 30_000);
  const first = await until('a step on show', async () => ((await stepShown(webview)) > 0 ? stepShown(webview) : undefined), 60_000);
  const later = await until('a later step on show, without touching the view', async () => {
    const s = await stepShown(webview);
    return s >= first + 2 ? s : undefined;
  }, 60_000);
  assert.ok(later > first);
  assert.ok((await webview.locator('.tok').count()) > 0);
  await screenshot('trajectory-following');

  await workbench.runCommand('prpoStudio.openMetrics');
  const charts = await workbench.waitForWebview('.chart-card canvas', 60_000);
  const points = async (): Promise<number> =>
    charts.locator('body').evaluate(() => {
      const c = (window as unknown as { prpoCharts: { charts: Array<{ id: string; series: Array<{ key: string; points: number }> }> } }).prpoCharts.charts;
      return c.find((x) => x.id === 'reward')?.series.find((s) => s.key === 'reward')?.points ?? 0;
    });
  const p0 = await points();
  await until('the reward curve grows live', async () => (await points()) >= p0 + 2, 60_000);
  await screenshot('charts-live');
  await workbench.runCommand('prpoStudio.stopRun').catch(() => undefined);
});

// Issue #16 item 4 in real VS Code: a short run followed live to its end shows the last step written, whatever
// the order of the final notifications (the view had stayed on step 27 or 28 of 30). 30 steps of 1.5 s: long
// enough for the view to open while the run trains on a loaded machine.
const LAST = 30;
scenario(`live follow to the end: a ${LAST}-step run, followed, ends showing step ${LAST}`, { runs: [], timeoutMs: 300_000 }, async ({ workbench, screenshot }) => {
  const name = 'Follow to the end run';
  await workbench.openViewContainer('PRPO Studio');
  await startBuiltinRun(workbench, name, LAST);

  await workbench.runCommand('prpoStudio.openRun');
  const webview = await workbench.waitForWebview('.follow', 60_000);
  await until('follow live is on', async () => webview.locator('.follow').evaluate((el) => (el as HTMLElement & { checked: boolean }).checked), 30_000);
  const first = await until('a step on show', async () => ((await stepShown(webview)) > 0 ? stepShown(webview) : undefined), 60_000);
  assert.ok(first < LAST, `the view was opened while the run trained (first step shown: ${first})`);

  await until('the run completed', async () => (await workbench.treeItems('Runs', { timeoutMs: 2000 })).find((i) => i.label === name && /completed/.test(i.description)), 150_000);
  // The last step written is shown once the view has caught up, and stays.
  await until(`step ${LAST} on show`, async () => (await stepShown(webview)) === LAST, 30_000);
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(await stepShown(webview), LAST, 'still on the last step');
  assert.ok((await webview.locator('.tok').count()) > 0, 'its tokens are drawn');
  await screenshot('followed-to-the-end');
});
