/**
 * The datasets the charts draw, as `Series`: a run's metric, or a group's mean with its 95 % t-interval band
 * (a lower and an upper dataset, the upper filled down to the lower with Chart.js's Filler, `fill: '-1'`). Each
 * series keeps every point; a run's dataset draws at most 4 of them per pixel column (`decimate`).
 */
import type { ChartDataset } from 'chart.js';
import type { ChartRun } from '../../src/core/protocol/webview';
import type { MetricsRow } from '../../src/core/run/schema';
import { groupLabel, meanBand, type BandPoint } from '../../src/core/study/groups';
import { decimateMinMax } from '../../src/core/view/decimate';
import { displayString } from '../text';
import { ChartDef, colourFor, dashPattern, paletteColour } from './defs';
import { withAlpha } from './parts';
import { ViewState, groupRunsOf } from './viewState';

export type Point = { x: number; y: number };

/**
 * One dataset of a chart: a run's metric, or one of a group's three (the band's lower and upper ends, the mean).
 * `id` ties a legend entry to the datasets it shows and hides (a mean and its band).
 */
export interface Series {
  id: string;
  runId?: string;
  group?: string;
  kind: 'run' | 'mean' | 'lo' | 'hi';
  key: string;
  /**
   * Every point: a run's rows, or a group's per-step mean and band ends. A run's dataset draws at most 4 of them per
   * pixel column (decimateMinMax: a run of 100,000 rows stays a few thousand points); a group's draws them all
   * (one point per step of its runs).
   */
  points: Point[];
  dataset: ChartDataset<'line', Point[]>;
}

/** Adds the rows' finite values of one metric to `points`, as chart points. */
export function pushPoints(points: Point[], rows: readonly MetricsRow[], key: string): Point[] {
  for (const row of rows) {
    const y = row[key];
    if (typeof y === 'number' && Number.isFinite(y)) points.push({ x: row.step, y });
  }
  return points;
}

/** A run's finite values of one metric, as chart points. */
const pointsOf = (run: ChartRun, key: string): Point[] => pushPoints([], run.rows, key);

/** The line of a run's metric or a group's mean: solid or dashed, dots only on validation accuracy (a few steps have it). */
function lineDataset(label: string, key: string, color: string, dash: number[], borderWidth: number): ChartDataset<'line', Point[]> {
  return {
    label,
    data: [], // draw() fills a run's once the chart knows its width; fillGroupSeries a mean's
    borderColor: color,
    backgroundColor: color,
    borderDash: dash,
    borderWidth,
    pointRadius: key === 'valAccuracy' ? 2.5 : 0,
    pointHoverRadius: 4,
    spanGaps: true,
    tension: 0,
  };
}

/** The runs' datasets for one chart: one per run and metric. */
export function runSeries(state: ViewState, def: ChartDef): Series[] {
  const { runs } = state;
  const series: Series[] = [];
  runs.forEach((r, ri) => {
    def.metrics.forEach(([key, label], mi) => {
      const { color, dash } = colourFor(runs.length, ri, mi);
      series.push({
        id: `${r.id}|${key}`,
        runId: r.id,
        kind: 'run',
        key,
        points: pointsOf(r, key),
        // applyTheme sets the theme's width
        dataset: lineDataset(runs.length > 1 ? `${displayString(r.name)} · ${label}` : label, key, color, dash, 1.75),
      });
    });
  });
  return series;
}

/** The groups' datasets for one chart, per group and metric: the band's lower end, its upper end (filled down to the lower), the mean. */
export function groupSeries(state: ViewState, def: ChartDef): Series[] {
  const series: Series[] = [];
  state.groups.forEach((g, gi) => {
    const color = paletteColour(gi);
    // Light enough that the mean lines of other groups show through it, dark enough to read on a dark theme.
    const band = withAlpha(color, 0.22) ?? color;
    const name = displayString(g.name);
    def.metrics.forEach(([key, label], mi) => {
      const id = `${g.name}|${key}`;
      const edge = { borderWidth: 0, pointRadius: 0, pointHoverRadius: 0, spanGaps: false, tension: 0, borderColor: band, backgroundColor: band };
      const meanLabel = def.metrics.length > 1 ? `${displayString(groupLabel(g))} · ${label}` : displayString(groupLabel(g));
      series.push(
        { id, group: g.name, kind: 'lo', key, points: [], dataset: { label: `${name} · ${label} · lower 95 %`, data: [], fill: false, ...edge } },
        { id, group: g.name, kind: 'hi', key, points: [], dataset: { label: `${name} · ${label} · upper 95 %`, data: [], fill: '-1', ...edge } },
        { id, group: g.name, kind: 'mean', key, points: [], dataset: { ...lineDataset(meanLabel, key, color, dashPattern(mi), 2), fill: false } },
      );
    });
  });
  fillGroupSeries(state, series);
  return series;
}

/** Recomputes the means and bands of `only` (every group when absent) from the runs' rows. */
export function fillGroupSeries(state: ViewState, series: Series[], only?: Set<string>): void {
  for (const s of series) {
    if (s.kind !== 'mean' || (only && !only.has(s.group!))) continue;
    const g = state.groups.find((x) => x.name === s.group)!;
    const band: BandPoint[] = meanBand(groupRunsOf(state, g).map((r) => pointsOf(r, s.key)));
    s.points = s.dataset.data = band;
    // No band where one run has the step (NaN ends leave a gap in the fill).
    const ends = (end: 'lo' | 'hi') => band.map((p) => ({ x: p.x, y: p[end] }));
    for (const e of series) {
      if (e.id !== s.id) continue;
      if (e.kind === 'lo') e.points = e.dataset.data = ends('lo');
      if (e.kind === 'hi') e.points = e.dataset.data = ends('hi');
    }
  }
}

/** Adds a run's new rows to its series (a group's are recomputed instead: fillGroupSeries). */
export function appendRunRows(series: readonly Series[], runId: string, rows: readonly MetricsRow[]): void {
  for (const s of series) if (s.runId === runId) pushPoints(s.points, rows, s.key);
}

/** Points to draw for a plot `width` pixels wide: a run's at most 4 per pixel column (see Series.points). */
export function decimate(series: readonly Series[], width: number): void {
  const columns = Math.max(100, Math.round(width));
  for (const s of series) if (s.kind === 'run') s.dataset.data = decimateMinMax(s.points, columns) as Point[];
}
