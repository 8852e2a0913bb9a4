/**
 * The charts view: reward/accuracy, validation accuracy, loss terms, entropy, dependency sparsity and AUROC,
 * and the step-time split, for one run or several overlaid; live while runs train. Themed from the --vscode-*
 * CSS variables (and re-themed when the theme changes).
 *
 * Several runs can also be drawn "grouped by preset" (a study opens so): runs grouped by study arm, or by preset
 * without study.json (src/core/study/groups.ts), each group one colour, its mean at each step drawn with the
 * 95 % t-interval as a band.
 *
 * This file puts the parts together around one view state (viewState.ts): the charts and their palette
 * (defs.ts), the datasets of runs and groups (series.ts), one card per chart (chartCard.ts), the theme
 * (theme.ts), the toolbar and chips (header.ts), and the test hooks (testHooks.ts); then it answers the host.
 */
import { ChartsGrouping, ChartsInitNotification, MetricsAppendedNotification, StatusChangedNotification } from '../../src/core/protocol/webview';
import { groupRuns } from '../../src/core/study/groups';
import type { MetricsRow } from '../../src/core/run/schema';
import { HostIpc } from '../ipc';
import { report } from '../marks';
import { h } from '../elements';
import { type ChartCard, createChartCard, drawCard, updateNote } from './chartCard';
import { CHARTS } from './defs';
import { refreshRunChip, renderHeader, renderToolbar } from './header';
import { metricsIssuesText } from './parts';
import { appendRunRows, fillGroupSeries, groupSeries, runSeries } from './series';
import { exposeForTests } from './testHooks';
import { applyTheme } from './theme';
import { SavedView, grouped, restoreView } from './viewState';

export function startCharts(root: HTMLElement): void {
  const ipc = new HostIpc('charts');
  const state = restoreView(ipc.getState<SavedView>());
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
  const charts = new Map<string, ChartCard>();

  function setGrouping(grouping: ChartsGrouping): void {
    state.grouping = grouping;
    ipc.setState<SavedView>({ grouping });
    build();
  }

  function build(): void {
    for (const c of charts.values()) c.chart.destroy();
    charts.clear();
    grid.replaceChildren();
    state.groups = groupRuns(state.runs);
    state.dirtyGroups.clear();
    issuesEl.textContent = metricsIssuesText(state.runs);
    issuesEl.hidden = !issuesEl.textContent;
    renderToolbar(toolbar, state, setGrouping);
    renderHeader(header, state);
    for (const def of CHARTS) {
      const series = grouped(state) ? groupSeries(state, def) : runSeries(state, def);
      charts.set(def.id, createChartCard(grid, def, series));
    }
  }

  let pending = false;
  function scheduleUpdate(t0: number): void {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (state.dirtyGroups.size) {
        for (const c of charts.values()) fillGroupSeries(state, c.series, state.dirtyGroups);
        state.dirtyGroups.clear();
        renderHeader(header, state);
      }
      for (const c of charts.values()) {
        updateNote(c);
        drawCard(c);
      }
      report('charts.append', performance.now() - t0);
    });
  }

  function append(runId: string, rows: MetricsRow[]): void {
    const run = state.runs.find((r) => r.id === runId);
    if (!run) return;
    run.rows.push(...rows);
    if (grouped(state)) {
      const g = state.groups.find((x) => x.runIds.includes(runId));
      if (g) state.dirtyGroups.add(g.name);
      scheduleUpdate(performance.now());
      return;
    }
    for (const c of charts.values()) appendRunRows(c.series, runId, rows);
    refreshRunChip(header, run);
    scheduleUpdate(performance.now());
  }

  ipc.on(ChartsInitNotification, (p) => {
    const t0 = performance.now();
    state.runs = p.runs.map((r) => ({ ...r, rows: [...r.rows] }));
    state.grouping = p.grouping ?? ipc.getState<SavedView>()?.grouping ?? 'runs';
    build();
    report('charts.init', performance.now() - t0);
  });
  ipc.on(MetricsAppendedNotification, (p) => append(p.runId, p.rows));
  ipc.on(StatusChangedNotification, (p) => {
    const run = state.runs.find((r) => r.id === p.runId);
    if (!run) return;
    run.status = p.status;
    refreshRunChip(header, run);
  });

  // Re-theme when VS Code switches the theme (it swaps the body's classes and CSS variables).
  new MutationObserver(() => {
    for (const c of charts.values()) {
      applyTheme(c.chart, c.series);
      c.chart.update('none');
    }
  }).observe(document.body, { attributes: true, attributeFilter: ['class', 'style'] });

  exposeForTests(state, charts);
  ipc.ready();
}
