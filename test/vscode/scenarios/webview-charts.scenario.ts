// The charts view: curves of a fixture run, and two runs overlaid.
import assert from 'node:assert/strict';
import type { FrameLocator } from 'playwright-core';
import { scenario } from '../harness/studio';
import { FIXTURE_RUN_NAME } from '../fixtures/runs';
import { switchTheme, themeColours, waitForWebviewTheme, CONTRAST_BORDER, DARK, HC_DARK, HIGH_CONTRAST, LIGHT } from './webviewHelpers';

interface ChartInfo {
  id: string;
  series: Array<{ run: string; key: string; points: number; width: number }>;
}

async function chartsOf(webview: FrameLocator): Promise<ChartInfo[]> {
  return webview.locator('body').evaluate(() => (window as unknown as { prpoCharts: { charts: ChartInfo[] } }).prpoCharts.charts);
}

// The fixture's metrics.jsonl has a malformed line after step 4 (line 5): the charts draw the other 8 rows and
// say which line they could not read; the explorer's tooltip names it too.
scenario('charts view shows the curves of a fixture run', { runs: [{ steps: 8, badMetricsLineAfter: 4 }], settings: DARK }, async ({ workbench, screenshot }) => {
  await workbench.openViewContainer('PRPO Studio');
  const row = await workbench.treeItem('Runs', FIXTURE_RUN_NAME, 90_000);
  // The activity bar's own hover ("PRPO Studio") can still be up from opening the view: wait for the run's.
  const tooltip = await workbench.hover(row, 10_000, /metrics\.jsonl/);
  assert.match(tooltip, /metrics\.jsonl:5: /, tooltip);
  await workbench.runCommand('prpoStudio.openMetrics');
  const webview = await workbench.waitForWebview('.chart-card canvas', 90_000);
  const charts = await chartsOf(webview);
  assert.deepEqual(charts.map((c) => c.id), ['reward', 'val', 'loss', 'entropy', 'dependency', 'time']);
  const reward = charts.find((c) => c.id === 'reward')!;
  assert.ok(reward.series.some((s) => s.key === 'reward' && s.points === 8), JSON.stringify(reward));
  const banner = (await webview.locator('.issues').textContent()) ?? '';
  assert.match(banner, /^1 problem reading metrics\.jsonl: .*metrics\.jsonl:5: .*the other rows are drawn\.$/, banner);
  // The chip says the last step, as the explorer does ("step 8/8"), not a count of rows.
  assert.match((await webview.locator('.run-chip').first().textContent()) ?? '', /· step 8$/);
  await screenshot('charts-one-run');
});

scenario(
  'charts view overlays two runs',
  { runs: [{ steps: 8 }, { id: 'fixture-grpo-0002', name: 'Fixture GRPO run', algorithm: 'grpo', steps: 6 }], settings: LIGHT },
  async ({ workbench, screenshot }) => {
    await workbench.openViewContainer('PRPO Studio');
    await workbench.treeItem('Runs', 'Fixture GRPO run', 90_000);
    await workbench.runCommand('prpoStudio.openMetrics');
    // "Chart which runs?": tick the run that is not ticked yet, then OK.
    const widget = workbench.page.locator('.quick-input-widget');
    const row = widget.locator('.monaco-list-row', { hasText: FIXTURE_RUN_NAME }).first();
    await row.waitFor({ state: 'visible', timeout: 15_000 });
    // A row's description hover can cover the next row: move the pointer away and retry, bounded.
    for (let i = 0; i < 5 && (await row.getAttribute('aria-checked')) !== 'true'; i++) {
      await workbench.page.mouse.move(2, 2);
      await workbench.page.waitForTimeout(400);
      await row.click({ timeout: 5000 }).catch(() => undefined);
    }
    assert.equal(await row.getAttribute('aria-checked'), 'true', 'both runs ticked');
    await widget.locator('.monaco-button', { hasText: 'OK' }).first().click();
    const webview = await workbench.waitForWebview('.chart-card canvas', 90_000);
    const reward = (await chartsOf(webview)).find((c) => c.id === 'reward')!;
    const runs = new Set(reward.series.filter((s) => s.points > 0).map((s) => s.run));
    assert.equal(runs.size, 2, JSON.stringify(reward));
    assert.equal(await webview.locator('.run-chip').count(), 2);
    await screenshot('charts-two-runs');
  },
);

// Both high-contrast themes (switched live): the cards take the contrast border, while the grid is the
// foreground at a quarter strength, under the data lines (the contrast border outshone them), which are drawn wider.
scenario('charts view (high-contrast dark and light): contrast borders, a grid under the lines', { runs: [{ steps: 8 }], settings: HC_DARK }, async ({ workbench, screenshot }) => {
  await workbench.openViewContainer('PRPO Studio');
  await workbench.treeItem('Runs', FIXTURE_RUN_NAME, 90_000);
  await workbench.runCommand('prpoStudio.openMetrics');
  const webview = await workbench.waitForWebview('.chart-card canvas', 90_000);
  for (const [kind, settings] of HIGH_CONTRAST) {
    if (kind === 'hc-light') await switchTheme(workbench, settings);
    await waitForWebviewTheme(webview, kind);
    const t = await themeColours(webview, { '.chart-card': 'border-top-color' });
    assert.equal(t.contrastBorder, CONTRAST_BORDER[kind]);
    assert.equal(t.colours['.chart-card'], CONTRAST_BORDER[kind], `${kind}: the chart cards take the contrast border`);
    const drawn = await webview.locator('body').evaluate(() => (window as unknown as { prpoCharts: { theme: { fg: string; grid: string } } }).prpoCharts.theme);
    const fg = kind === 'hc-dark' ? 'rgba(255, 255, 255, 0.25)' : 'rgba(41, 41, 41, 0.25)';
    assert.equal(drawn.grid, fg, `${kind}: the grid is the foreground at a quarter strength (${JSON.stringify(drawn)})`);
    const widths = new Set((await chartsOf(webview)).flatMap((c) => c.series.map((x) => x.width)));
    assert.deepEqual([...widths], [2.5], `${kind}: the data lines are drawn wider than in the ordinary themes (1.75)`);
    await workbench.page.mouse.move(2, 2);
    await screenshot(`charts-${kind}`);
  }
});
