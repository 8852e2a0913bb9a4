/**
 * `window.prpoCharts`: what the UI scenarios read (webview-charts, study-charts, webview-live, untrusted-files):
 * the theme's colours, the grouping, each chart's series, datasets and legend, and a hover at a step.
 */
import type { ChartCard } from './chartCard';
import type { Point } from './series';
import { type ChartTheme, theme } from './theme';
import { ViewState, grouped } from './viewState';

/** What a scenario reads of one chart. */
function chartInfo(id: string, c: ChartCard) {
  return {
    id,
    series: c.series.map((s) => ({ run: s.runId, group: s.group, kind: s.kind, key: s.key, points: s.points.length, drawn: s.dataset.data.length, width: s.dataset.borderWidth })),
    // What Chart.js holds and draws: its datasets (label, fill, points with a finite y) and the legend's entries.
    datasets: c.chart.data.datasets.map((d) => ({ label: d.label, fill: d.fill ?? false, points: d.data.filter((p) => Number.isFinite((p as Point).y)).length })),
    legend: (c.chart.legend?.legendItems ?? []).map((i) => i.text),
    // The mean's first point (x, mean, n, lo, hi) in the groups view, to check against hand-computed values.
    first: c.series.filter((s) => s.kind === 'mean').map((s) => s.dataset.data[0]),
  };
}

export interface ChartsHooks {
  /** The colours the charts are drawn with now (text, grid and axes). */
  readonly theme: ChartTheme;
  readonly grouping: 'groups' | 'runs';
  readonly charts: Array<ReturnType<typeof chartInfo>>;
  /** Shows the hover at `step` over every dataset that has it (as the pointer would) and returns its title and lines. */
  hoverAt(id: string, step: number): string[];
}

export function exposeForTests(state: ViewState, charts: ReadonlyMap<string, ChartCard>): void {
  const hooks: ChartsHooks = {
    get theme() {
      return theme();
    },
    get grouping() {
      return grouped(state) ? 'groups' : 'runs';
    },
    get charts() {
      return [...charts.entries()].map(([id, c]) => chartInfo(id, c));
    },
    hoverAt(id, step) {
      const chart = charts.get(id)?.chart;
      if (!chart) return [];
      const active = chart.data.datasets.flatMap((d, datasetIndex) => {
        const index = d.data.findIndex((p) => (p as Point).x === step && Number.isFinite((p as Point).y));
        return index >= 0 && chart.isDatasetVisible(datasetIndex) ? [{ datasetIndex, index }] : [];
      });
      const el = active.length ? chart.getDatasetMeta(active[0].datasetIndex).data[active[0].index] : undefined;
      chart.tooltip?.setActiveElements(active, { x: el?.x ?? 0, y: el?.y ?? 0 });
      chart.update('none');
      return [...(chart.tooltip?.title ?? []), ...(chart.tooltip?.body ?? []).flatMap((b) => b.lines)];
    },
  };
  (window as unknown as { prpoCharts: ChartsHooks }).prpoCharts = hooks;
}
