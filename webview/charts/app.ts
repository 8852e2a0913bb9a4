/**
 * The charts view: reward/accuracy, validation accuracy, loss terms, entropy, dependency sparsity and AUROC,
 * and the step-time split, for one run or several overlaid; live while runs train. Themed from the --vscode-*
 * CSS variables (and re-themed when the theme changes). Colours are the Okabe–Ito set (colour-blind safe):
 * one run → one colour per metric; several runs → one colour per run and one dash pattern per metric.
 *
 * Several runs can also be drawn "grouped by preset" (a study opens so): runs grouped by study arm, or by preset
 * without study.json (src/core/study/groups.ts), each group one colour, its mean at each step drawn with the
 * 95 % t-interval as a filled band between a lower and an upper dataset (Chart.js's Filler, `fill: '-1'`).
 */
import {
  Chart,
  LineController,
  LineElement,
  PointElement,
  LinearScale,
  Legend,
  Tooltip,
  Title,
  Filler,
  type ChartDataset,
} from 'chart.js';
import { ChartRun, ChartsGrouping, ChartsInitNotification, MetricsAppendedNotification, PerfReportCommand, StatusChangedNotification } from '../../src/core/protocol/webview';
import { groupLabel, groupRuns, meanBand, type BandPoint, type RunGroup } from '../../src/core/study/groups';
import type { MetricsRow } from '../../src/core/run/schema';
import { HostIpc } from '../ipc';
import { h } from '../elements';
import { displayString } from '../text';
import { bandTooltip, gridColour, groupChipText, metricsIssuesText, runChipText, withAlpha } from './parts';
import { decimateMinMax } from '../../src/core/view/decimate';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip, Title, Filler);

export interface ChartDef {
  id: string;
  title: string;
  metrics: Array<[key: string, label: string]>;
  /** Fixed y range where the metric has one (accuracies, AUROC). */
  yMin?: number;
  yMax?: number;
}

export const CHARTS: ChartDef[] = [
  { id: 'reward', title: 'Reward and accuracy', metrics: [['reward', 'reward'], ['accuracy', 'accuracy']] },
  { id: 'val', title: 'Validation accuracy', metrics: [['valAccuracy', 'validation accuracy']], yMin: 0, yMax: 1 },
  { id: 'loss', title: 'Loss terms', metrics: [['loss', 'loss'], ['pgLoss', 'policy'], ['entropyLoss', 'entropy term'], ['klLoss', 'KL term']] },
  { id: 'entropy', title: 'Entropy', metrics: [['entropy', 'entropy']] },
  {
    id: 'dependency',
    title: 'Dependency sparsity and AUROC',
    metrics: [['dependencySparsity', 'sparsity'], ['aurocS', 'AUROC S'], ['aurocG', 'AUROC G'], ['aurocU', 'AUROC U'], ['aurocRvd', 'AUROC RVD']],
    yMin: 0,
    yMax: 1,
  },
  { id: 'time', title: 'Step time split (ms)', metrics: [['timeSampleMs', 'sampling'], ['timeProbeMs', 'probe views'], ['timeUpdateMs', 'update'], ['timeStepMs', 'whole step']] },
];

const OKABE_ITO = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#999999'];
const DASHES: number[][] = [[], [6, 3], [2, 2], [8, 3, 2, 3], [1, 3]];

type Point = { x: number; y: number };
/**
 * One dataset of a chart: a run's metric, or one of a group's three (the band's lower and upper ends, the mean).
 * `id` ties a legend entry to the datasets it shows and hides (a mean and its band).
 */
interface Series {
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

interface ChartsState {
  grouping?: ChartsGrouping;
}

/** A run's finite values of one metric, as chart points. */
function pointsOf(run: ChartRun, key: string): Point[] {
  const data: Point[] = [];
  for (const row of run.rows) {
    const y = row[key];
    if (typeof y === 'number' && Number.isFinite(y)) data.push({ x: row.step, y });
  }
  return data;
}

export function startCharts(root: HTMLElement): void {
  const ipc = new HostIpc('charts');
  const header = h('div', 'charts-header');
  // Lines of a metrics file that could not be read, named file:line: reason (the rest is drawn).
  const issuesEl = h('div', 'issues');
  issuesEl.hidden = true;
  const grid = h('div', 'charts-grid');
  // Runs or groups by preset: shown when there are several runs.
  const toolbar = h('div', 'charts-toolbar');
  toolbar.hidden = true;
  root.replaceChildren(toolbar, header, issuesEl, grid);
  header.append(h('span', 'dim', 'Waiting for metrics…'));

  let runs: ChartRun[] = [];
  let grouping: ChartsGrouping = ipc.getState<ChartsState>()?.grouping ?? 'runs';
  let groups: RunGroup[] = [];
  /** Groups whose runs got rows since the last redraw (their means and bands are recomputed). */
  const dirtyGroups = new Set<string>();
  const grouped = (): boolean => grouping === 'groups' && runs.length > 1;
  const charts = new Map<string, { chart: Chart<'line', Point[]>; def: ChartDef; series: Series[]; wrap: HTMLElement; note: HTMLElement }>();

  function theme(): { fg: string; grid: string; font: string; lineWidth: number } {
    const cs = getComputedStyle(document.body);
    const v = (name: string, fallback: string): string => cs.getPropertyValue(name).trim() || fallback;
    const highContrast = document.body.classList.contains('vscode-high-contrast') || document.body.classList.contains('vscode-high-contrast-light');
    return {
      fg: v('--vscode-foreground', '#cccccc'),
      grid: gridColour(
        v('--vscode-foreground', '#cccccc'),
        cs.getPropertyValue('--vscode-editorWidget-border').trim() || cs.getPropertyValue('--vscode-panel-border').trim() || undefined,
        highContrast,
      ),
      font: v('--vscode-font-family', 'sans-serif'),
      // The thin lines of the ordinary themes read faint on pure black or white (Okabe-Ito blue on black is 4:1).
      lineWidth: highContrast ? 2.5 : 1.75,
    };
  }

  function applyTheme(chart: Chart<'line', Point[]>, series: readonly Series[]): void {
    const t = theme();
    const o = chart.options;
    o.color = t.fg;
    o.font = { family: t.font, size: 12 };
    for (const axis of ['x', 'y'] as const) {
      const s = o.scales![axis]!;
      s.ticks = { ...(s.ticks ?? {}), color: t.fg };
      s.grid = { ...(s.grid ?? {}), color: t.grid };
      s.border = { ...(s.border ?? {}), color: t.grid };
      if (s.title) s.title.color = t.fg;
    }
    o.plugins!.legend!.labels = { ...(o.plugins!.legend!.labels ?? {}), color: t.fg };
    // Wider lines in high-contrast themes; a band's ends stay without a line (the fill between them shows).
    chart.data.datasets.forEach((d, i) => {
      const kind = series[i]?.kind;
      d.borderWidth = kind === 'lo' || kind === 'hi' ? 0 : kind === 'mean' ? t.lineWidth + 0.25 : t.lineWidth;
    });
  }

  function colourFor(runIndex: number, metricIndex: number): { color: string; dash: number[] } {
    if (runs.length <= 1) return { color: OKABE_ITO[metricIndex % OKABE_ITO.length], dash: [] };
    return { color: OKABE_ITO[runIndex % OKABE_ITO.length], dash: DASHES[metricIndex % DASHES.length] };
  }

  function buildToolbar(): void {
    toolbar.hidden = runs.length < 2;
    toolbar.replaceChildren();
    if (toolbar.hidden) return;
    const choices: Array<[ChartsGrouping, string, string]> = [
      ['runs', 'Runs', 'Each run its own curve'],
      ['groups', 'Groups by preset', 'Runs grouped by study arm (or preset): the mean at each step with its 95 % t-interval band'],
    ];
    toolbar.append(h('span', 'dim', 'Show'));
    for (const [value, label, title] of choices) {
      const b = document.createElement('vscode-button') as HTMLElement & { secondary: boolean };
      b.textContent = label;
      b.title = title;
      b.dataset.grouping = value;
      b.secondary = grouping !== value;
      b.setAttribute('aria-pressed', String(grouping === value));
      b.addEventListener('click', () => {
        if (grouping === value) return;
        grouping = value;
        ipc.setState<ChartsState>({ grouping });
        build();
      });
      toolbar.append(b);
    }
  }

  function groupRunsOf(g: RunGroup): ChartRun[] {
    return g.runIds.map((id) => runs.find((r) => r.id === id)!);
  }

  function buildHeader(): void {
    header.replaceChildren();
    if (grouped()) {
      for (const [i, g] of groups.entries()) {
        const chip = h('span', 'run-chip');
        const sw = h('span', 'run-swatch');
        sw.style.backgroundColor = OKABE_ITO[i % OKABE_ITO.length];
        chip.append(sw, h('span', 'run-name', displayString(g.name)), h('span', 'dim', groupChipText(groupRunsOf(g))));
        chip.dataset.group = g.name;
        header.append(chip);
      }
      return;
    }
    for (const [i, r] of runs.entries()) {
      const chip = h('span', 'run-chip');
      const sw = h('span', 'run-swatch');
      sw.style.backgroundColor = runs.length > 1 ? OKABE_ITO[i % OKABE_ITO.length] : 'transparent';
      chip.append(sw, h('span', 'run-name', displayString(r.name)), h('span', 'dim', runChipText(r)));
      chip.dataset.run = r.id;
      header.append(chip);
    }
  }

  /** A run's datasets for one chart: one per metric. */
  function runSeries(def: ChartDef): Series[] {
    const series: Series[] = [];
    runs.forEach((r, ri) => {
      def.metrics.forEach(([key, label], mi) => {
        const { color, dash } = colourFor(ri, mi);
        series.push({
          id: `${r.id}|${key}`,
          runId: r.id,
          kind: 'run',
          key,
          points: pointsOf(r, key),
          dataset: {
            label: runs.length > 1 ? `${displayString(r.name)} · ${label}` : label,
            data: [], // draw() fills it once the chart knows its width
            borderColor: color,
            backgroundColor: color,
            borderDash: dash,
            borderWidth: 1.75, // applyTheme sets the theme's width
            pointRadius: key === 'valAccuracy' ? 2.5 : 0,
            pointHoverRadius: 4,
            spanGaps: true,
            tension: 0,
          },
        });
      });
    });
    return series;
  }

  /** A group's datasets for one chart, per metric: the band's lower end, its upper end (filled down to the lower), the mean. */
  function groupSeries(def: ChartDef): Series[] {
    const series: Series[] = [];
    groups.forEach((g, gi) => {
      const color = OKABE_ITO[gi % OKABE_ITO.length];
      // Light enough that the mean lines of other groups show through it, dark enough to read on a dark theme.
      const band = withAlpha(color, 0.22) ?? color;
      const name = displayString(g.name);
      def.metrics.forEach(([key, label], mi) => {
        const id = `${g.name}|${key}`;
        const dash = DASHES[mi % DASHES.length];
        const edge = { borderWidth: 0, pointRadius: 0, pointHoverRadius: 0, spanGaps: false, tension: 0, borderColor: band, backgroundColor: band };
        series.push(
          { id, group: g.name, kind: 'lo', key, points: [], dataset: { label: `${name} · ${label} · lower 95 %`, data: [], fill: false, ...edge } },
          { id, group: g.name, kind: 'hi', key, points: [], dataset: { label: `${name} · ${label} · upper 95 %`, data: [], fill: '-1', ...edge } },
          {
            id,
            group: g.name,
            kind: 'mean',
            key,
            points: [],
            dataset: {
              label: def.metrics.length > 1 ? `${displayString(groupLabel(g))} · ${label}` : displayString(groupLabel(g)),
              data: [],
              borderColor: color,
              backgroundColor: color,
              borderDash: dash,
              borderWidth: 2,
              pointRadius: key === 'valAccuracy' ? 2.5 : 0,
              pointHoverRadius: 4,
              spanGaps: true,
              tension: 0,
              fill: false,
            },
          },
        );
      });
    });
    fillGroupSeries(series);
    return series;
  }

  /** Recomputes the means and bands of `only` (every group when absent) from the runs' rows. */
  function fillGroupSeries(series: Series[], only?: Set<string>): void {
    for (const s of series) {
      if (s.kind !== 'mean' || (only && !only.has(s.group!))) continue;
      const g = groups.find((x) => x.name === s.group)!;
      const band: BandPoint[] = meanBand(groupRunsOf(g).map((r) => pointsOf(r, s.key)));
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

  function build(): void {
    for (const c of charts.values()) c.chart.destroy();
    charts.clear();
    grid.replaceChildren();
    groups = groupRuns(runs);
    dirtyGroups.clear();
    issuesEl.textContent = metricsIssuesText(runs);
    issuesEl.hidden = !issuesEl.textContent;
    buildToolbar();
    buildHeader();
    for (const def of CHARTS) {
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
      const series = grouped() ? groupSeries(def) : runSeries(def);
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
      draw(chart, series);
      charts.set(def.id, { chart, def, series, wrap, note });
      updateNote(def.id);
    }
  }

  /** Points to draw: a run's at most 4 per pixel column of the plot (see Series.points). */
  function draw(chart: Chart<'line', Point[]>, series: Series[]): void {
    decimate(series, chart.chartArea?.width ?? chart.width);
    chart.update('none');
  }

  function decimate(series: Series[], width: number): void {
    const columns = Math.max(100, Math.round(width));
    for (const s of series) if (s.kind === 'run') s.dataset.data = decimateMinMax(s.points, columns) as Point[];
  }

  function updateNote(id: string): void {
    const c = charts.get(id)!;
    const missing = c.series.every((s) => s.points.length === 0);
    c.wrap.classList.toggle('empty', missing);
    c.note.textContent = missing ? `Not recorded yet (${c.def.metrics.map(([k]) => k).join(', ')}).` : '';
    // Hide series a run never recorded, so the legend lists only what is drawn.
    for (const s of c.series) (s.dataset as { hidden?: boolean }).hidden = s.points.length === 0;
  }

  let pending = false;
  function scheduleUpdate(t0: number): void {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (dirtyGroups.size) {
        for (const c of charts.values()) fillGroupSeries(c.series, dirtyGroups);
        dirtyGroups.clear();
        buildHeader();
      }
      for (const [id, c] of charts) {
        updateNote(id);
        draw(c.chart, c.series);
      }
      ipc.command(PerfReportCommand, { name: 'charts.append', ms: performance.now() - t0 });
    });
  }

  function append(runId: string, rows: MetricsRow[]): void {
    const run = runs.find((r) => r.id === runId);
    if (!run) return;
    run.rows.push(...rows);
    if (grouped()) {
      const g = groups.find((x) => x.runIds.includes(runId));
      if (g) dirtyGroups.add(g.name);
      scheduleUpdate(performance.now());
      return;
    }
    for (const c of charts.values()) {
      for (const s of c.series) {
        if (s.runId !== runId) continue;
        for (const row of rows) {
          const y = row[s.key];
          if (typeof y === 'number' && Number.isFinite(y)) s.points.push({ x: row.step, y });
        }
      }
    }
    const chip = header.querySelector(`[data-run="${CSS.escape(runId)}"] .dim`);
    if (chip) chip.textContent = runChipText(run);
    scheduleUpdate(performance.now());
  }

  ipc.on(ChartsInitNotification, (p) => {
    const t0 = performance.now();
    runs = p.runs.map((r) => ({ ...r, rows: [...r.rows] }));
    grouping = p.grouping ?? ipc.getState<ChartsState>()?.grouping ?? 'runs';
    build();
    ipc.command(PerfReportCommand, { name: 'charts.init', ms: performance.now() - t0 });
  });
  ipc.on(MetricsAppendedNotification, (p) => append(p.runId, p.rows));
  ipc.on(StatusChangedNotification, (p) => {
    const run = runs.find((r) => r.id === p.runId);
    if (!run) return;
    run.status = p.status;
    const chip = header.querySelector(`[data-run="${CSS.escape(p.runId)}"] .dim`);
    if (chip) chip.textContent = runChipText(run);
  });

  // Re-theme when VS Code switches the theme (it swaps the body's classes and CSS variables).
  new MutationObserver(() => {
    for (const c of charts.values()) {
      applyTheme(c.chart, c.series);
      c.chart.update('none');
    }
  }).observe(document.body, { attributes: true, attributeFilter: ['class', 'style'] });

  (window as unknown as { prpoCharts: unknown }).prpoCharts = {
    /** The colours the charts are drawn with now (text, grid and axes). */
    get theme() {
      return theme();
    },
    get grouping() {
      return grouped() ? 'groups' : 'runs';
    },
    get charts() {
      return [...charts.entries()].map(([id, c]) => ({
        id,
        series: c.series.map((s) => ({ run: s.runId, group: s.group, kind: s.kind, key: s.key, points: s.points.length, drawn: s.dataset.data.length, width: s.dataset.borderWidth })),
        // What Chart.js holds and draws: its datasets (label, fill, points with a finite y) and the legend's entries.
        datasets: c.chart.data.datasets.map((d) => ({ label: d.label, fill: d.fill ?? false, points: d.data.filter((p) => Number.isFinite((p as Point).y)).length })),
        legend: (c.chart.legend?.legendItems ?? []).map((i) => i.text),
        // The mean's first point (x, mean, n, lo, hi) in the groups view, to check against hand-computed values.
        first: c.series.filter((s) => s.kind === 'mean').map((s) => s.dataset.data[0]),
      }));
    },
    /** Shows the hover at `step` over every dataset that has it (as the pointer would) and returns its title and lines. */
    hoverAt(id: string, step: number): string[] {
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
  ipc.ready();
}
