/**
 * One chart's card: its title, the Chart.js line chart of its series, and the note under it when none of its
 * metrics is recorded yet. The legend and the hover list only what is drawn; a group's mean shows and hides its
 * band with it, and its hover gives the mean with its confidence interval and n.
 */
import { Chart, LineController, LineElement, PointElement, LinearScale, Legend, Tooltip, Title, Filler } from 'chart.js';
import type { BandPoint } from '../../src/core/study/groups';
import { h } from '../elements';
import type { ChartDef } from './defs';
import { bandTooltip } from './parts';
import { decimate, type Point, type Series } from './series';
import { applyTheme } from './theme';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip, Title, Filler);

export interface ChartCard {
  chart: Chart<'line', Point[]>;
  def: ChartDef;
  series: Series[];
  wrap: HTMLElement;
  note: HTMLElement;
}

/** Adds the card of `def` to `grid`, drawing `series` (themed; in the page before Chart.js measures its canvas). */
export function createChartCard(grid: HTMLElement, def: ChartDef, series: Series[]): ChartCard {
  const wrap = h('div', 'chart-card');
  wrap.dataset.chart = def.id;
  const title = h('div', 'chart-title', def.title);
  const box = h('div', 'chart-box');
  const canvas = h('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', def.title);
  const note = h('div', 'chart-note');
  box.append(canvas);
  wrap.append(title, box, note);
  grid.append(wrap);
  const shown = (i: number | undefined): boolean => {
    const s = series[i ?? 0];
    return !!s && (s.kind === 'run' || s.kind === 'mean') && s.points.length > 0;
  };
  const chart = new Chart<'line', Point[]>(canvas, {
    type: 'line',
    data: { datasets: series.map((s) => s.dataset) },
    options: {
      animation: false,
      parsing: false,
      normalized: true,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      // A new width draws another number of columns (Chart.js redraws right after this callback).
      onResize: (_chart, size) => decimate(series, size.width),
      scales: {
        x: { type: 'linear', title: { display: true, text: 'step' } },
        y: { type: 'linear', min: def.yMin, max: def.yMax },
      },
      plugins: {
        // Only what is drawn: a metric a run never recorded has no entry; a band's ends have none of their own.
        legend: {
          position: 'bottom',
          labels: { boxWidth: 14, boxHeight: 2, filter: (item) => shown(item.datasetIndex) },
          // A mean's entry shows and hides its band too.
          onClick: (_e, item, legend) => {
            const ci = legend.chart;
            const id = series[item.datasetIndex ?? 0]?.id;
            const visible = !ci.isDatasetVisible(item.datasetIndex ?? 0);
            series.forEach((s, i) => s.id === id && ci.setDatasetVisibility(i, visible));
            ci.update('none');
          },
        },
        tooltip: {
          enabled: true,
          filter: (item) => shown(item.datasetIndex),
          callbacks: {
            title: (items) => (items.length ? `step ${items[0].parsed.x}` : ''),
            // A run's value as Chart.js writes it (undefined falls back to its default); a group's mean with its CI and n.
            label: (item) => (series[item.datasetIndex]?.kind === 'mean' ? bandTooltip(item.dataset.label ?? '', item.raw as BandPoint) : undefined),
          },
        },
      },
    },
  });
  applyTheme(chart, series);
  const card = { chart, def, series, wrap, note };
  drawCard(card);
  updateNote(card);
  return card;
}

/** Draws the card's points again: a run's at most 4 per pixel column of the plot (see Series.points). */
export function drawCard(c: Pick<ChartCard, 'chart' | 'series'>): void {
  decimate(c.series, c.chart.chartArea?.width ?? c.chart.width);
  c.chart.update('none');
}

/** The "not recorded yet" note, and hides the series a run never recorded so the legend lists only what is drawn. */
export function updateNote(c: ChartCard): void {
  const missing = c.series.every((s) => s.points.length === 0);
  c.wrap.classList.toggle('empty', missing);
  c.note.textContent = missing ? `Not recorded yet (${c.def.metrics.map(([k]) => k).join(', ')}).` : '';
  for (const s of c.series) (s.dataset as { hidden?: boolean }).hidden = s.points.length === 0;
}
