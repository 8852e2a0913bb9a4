// Live follow: while a run trains (the protocol-compatible fake backend), the trajectory view moves to each new
// step as it is produced, and the charts grow without reopening.
import assert from 'node:assert/strict';
import type { FrameLocator } from 'playwright-core';
import { scenario } from '../harness/studio';
import { useFakeBackend } from '../suite/fakeBackendBundle';
import { until } from '../suite/scenarioHelpers';

useFakeBackend({ FAKE_STEP_MS: '1500' });
const RUN = 'Live follow run';

const stepShown = async (webview: FrameLocator): Promise<number> => {
  const m = /^Step (\d+) ·/.exec((await webview.locator('.status-line').innerText().catch(() => '')) ?? '');
  return m ? Number(m[1]) : -1;
};

scenario('live follow: the trajectory view and the charts follow a training run', { runs: [] }, async ({ workbench, screenshot }) => {
  await workbench.openViewContainer('PRPO Studio');
  await workbench.runCommand('prpoStudio.startRun');
  await workbench.pickQuickItem('Built-in · onnxruntime');
  await workbench.pickQuickItem('PRPO-R');
  await workbench.answerInput('200');
  await workbench.answerInput('0');
  await workbench.pickQuickItem('cpu');
  await workbench.answerInput(RUN);
  await until('the run in the explorer', async () => (await workbench.treeItems('Runs', { timeoutMs: 2000 })).find((i) => i.label === RUN && /running/.test(i.description)), 60_000);

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
