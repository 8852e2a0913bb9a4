/**
 * The charts view: reward/accuracy, validation accuracy, loss terms, entropy, dependency sparsity and AUROC,
 * and the step-time split, for one run or several overlaid; live while runs train. Themed from the --vscode-*
 * CSS variables (and re-themed when the theme changes). Colours are the Okabe–Ito set (colour-blind safe):
 * one run → one colour per metric; several runs → one colour per run and one dash pattern per metric.
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
  type ChartDataset,
} from 'chart.js';
import { ChartRun, ChartsInitNotification, MetricsAppendedNotification, PerfReportCommand, StatusChangedNotification } from '../../src/core/protocol/webview';
import type { MetricsRow } from '../../src/core/run/schema';
import { HostIpc } from '../ipc';
import { h } from '../elements';
import { displayString } from '../text';
import { gridColour, metricsIssuesText, runChipText } from './parts';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip, Title);

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
interface Series {
  runId: string;
  key: string;
  dataset: ChartDataset<'line', Point[]>;
}

export function startCharts(root: HTMLElement): void {
  const ipc = new HostIpc('charts');
  const header = h('div', 'charts-header');
  // Lines of a metrics file that could not be read, named file:line: reason (the rest is drawn).
  const issuesEl = h('div', 'issues');
  issuesEl.hidden = true;
  const grid = h('div', 'charts-grid');
  root.replaceChildren(header, issuesEl, grid);
  header.append(h('span', 'dim', 'Waiting for metrics…'));

  let runs: ChartRun[] = [];
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

  function applyTheme(chart: Chart<'line', Point[]>): void {
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
    for (const d of chart.data.datasets) d.borderWidth = t.lineWidth;
  }

  function colourFor(runIndex: number, metricIndex: number): { color: string; dash: number[] } {
    if (runs.length <= 1) return { color: OKABE_ITO[metricIndex % OKABE_ITO.length], dash: [] };
    return { color: OKABE_ITO[runIndex % OKABE_ITO.length], dash: DASHES[metricIndex % DASHES.length] };
  }

  function build(): void {
    for (const c of charts.values()) c.chart.destroy();
    charts.clear();
    grid.replaceChildren();
    header.replaceChildren();
    issuesEl.textContent = metricsIssuesText(runs);
    issuesEl.hidden = !issuesEl.textContent;
    for (const [i, r] of runs.entries()) {
      const chip = h('span', 'run-chip');
      const sw = h('span', 'run-swatch');
      sw.style.backgroundColor = runs.length > 1 ? OKABE_ITO[i % OKABE_ITO.length] : 'transparent';
      chip.append(sw, h('span', 'run-name', displayString(r.name)), h('span', 'dim', runChipText(r)));
      chip.dataset.run = r.id;
      header.append(chip);
    }
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
      const series: Series[] = [];
      runs.forEach((r, ri) => {
        def.metrics.forEach(([key, label], mi) => {
          const { color, dash } = colourFor(ri, mi);
          const data: Point[] = [];
          for (const row of r.rows) {
            const y = row[key];
            if (typeof y === 'number' && Number.isFinite(y)) data.push({ x: row.step, y });
          }
          series.push({
            runId: r.id,
            key,
            dataset: {
              label: runs.length > 1 ? `${displayString(r.name)} · ${label}` : label,
              data,
              borderColor: color,
              backgroundColor: color,
              borderDash: dash,
              borderWidth: theme().lineWidth,
              pointRadius: key === 'valAccuracy' ? 2.5 : 0,
              pointHoverRadius: 4,
              spanGaps: true,
              tension: 0,
            },
          });
        });
      });
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
          scales: {
            x: { type: 'linear', title: { display: true, text: 'step' } },
            y: { type: 'linear', min: def.yMin, max: def.yMax },
          },
          plugins: {
            // Only what is drawn: a metric a run never recorded has no entry.
            legend: { position: 'bottom', labels: { boxWidth: 14, boxHeight: 2, filter: (item, data) => (data.datasets[item.datasetIndex ?? 0]?.data.length ?? 0) > 0 } },
            tooltip: { enabled: true },
          },
        },
      });
      applyTheme(chart);
      chart.update('none');
      charts.set(def.id, { chart, def, series, wrap, note });
      updateNote(def.id);
    }
  }

  function updateNote(id: string): void {
    const c = charts.get(id)!;
    const missing = c.series.every((s) => s.dataset.data.length === 0);
    c.wrap.classList.toggle('empty', missing);
    c.note.textContent = missing ? `Not recorded yet (${c.def.metrics.map(([k]) => k).join(', ')}).` : '';
    // Hide series a run never recorded, so the legend lists only what is drawn.
    for (const s of c.series) (s.dataset as { hidden?: boolean }).hidden = s.dataset.data.length === 0;
  }

  let pending = false;
  function scheduleUpdate(t0: number): void {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      for (const [id, c] of charts) {
        updateNote(id);
        c.chart.update('none');
      }
      ipc.command(PerfReportCommand, { name: 'charts.append', ms: performance.now() - t0 });
    });
  }

  function append(runId: string, rows: MetricsRow[]): void {
    const run = runs.find((r) => r.id === runId);
    if (!run) return;
    run.rows.push(...rows);
    for (const c of charts.values()) {
      for (const s of c.series) {
        if (s.runId !== runId) continue;
        for (const row of rows) {
          const y = row[s.key];
          if (typeof y === 'number' && Number.isFinite(y)) s.dataset.data.push({ x: row.step, y });
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
      applyTheme(c.chart);
      c.chart.update('none');
    }
  }).observe(document.body, { attributes: true, attributeFilter: ['class', 'style'] });

  (window as unknown as { prpoCharts: unknown }).prpoCharts = {
    /** The colours the charts are drawn with now (text, grid and axes). */
    get theme() {
      return theme();
    },
    get charts() {
      return [...charts.entries()].map(([id, c]) => ({ id, series: c.series.map((s) => ({ run: s.runId, key: s.key, points: s.dataset.data.length, width: s.dataset.borderWidth })) }));
    },
  };
  ipc.ready();
}
