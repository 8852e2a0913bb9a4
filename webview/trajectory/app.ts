/**
 * The trajectory view: a step's rollouts grouped by prompt, tokens coloured by a signal, hover cards, filters,
 * live follow. This file puts the parts together around one view state (viewState.ts): the toolbar, the
 * windowed list (windowedList.ts), the step loader (stepLoader.ts), the token cursor and hover card, the legend
 * and status line (summary.ts), and the timing marks and test hooks (perf.ts); then it answers the host.
 */
import {
  OpenWhatIfNotification,
  RolloutsAppendedNotification,
  SetFollowCommand,
  ShowStepNotification,
  StatusChangedNotification,
  StepsChangedNotification,
  TrajectoryInitNotification,
} from '../../src/core/protocol/webview';
import { HostIpc } from '../ipc';
import { SignalId } from '../scales';
import { h } from '../elements';
import { FilterState } from './model';
import { HoverCard } from './hoverCard';
import { imageLoader } from './imageLoader';
import { afterPaint, exposeForTests, report } from './perf';
import { StepLoader } from './stepLoader';
import { renderLegend, updateStatus } from './summary';
import { attachTokenCursor } from './tokenCursor';
import { Toolbar } from './toolbar';
import { SavedView, chooseSignal, restoreView, savedView } from './viewState';
import { WindowedList } from './windowedList';
import { WhatIfPanel } from './whatIfPanel';
import { displayString } from '../text';

export function startTrajectory(root: HTMLElement): void {
  const ipc = new HostIpc('trajectory');
  const saved = ipc.getState<SavedView>() ?? {};
  const state = restoreView(saved);

  const legend = h('div', 'legend');
  const status = h('div', 'status-line');
  const issues = h('div', 'issues');
  issues.hidden = true;
  const showLegend = (): void => renderLegend(legend, state);
  const showStatus = (): void => {
    updateStatus(status, state, list.shown);
    whatIf.sync();
  };
  const saveState = (): void => ipc.setState<SavedView>(savedView(state));
  const whatIf = new WhatIfPanel({ ipc, state, report, showAdvantages: () => toolbar.chooseSignal('tokenAdvantage'), recolour: redraw });

  // The parts call each other through closures over `loader`, `list` and `card`, made below: none of them runs
  // before a control is used or the host speaks, after this function has returned.
  const toolbar = new Toolbar(state, {
    loadStep: (step) => void loader.load(step),
    setFollow,
    setSignal,
    updateFilter,
  });
  const list = new WindowedList(state, { loadImage: imageLoader(ipc), hideCard: () => card.hide(true), laidOut: showStatus });
  const loader = new StepLoader({ ipc, state, list, toolbar, status, issues, report, renderLegend: showLegend, updateStatus: showStatus, saveState, needsAllColumns: () => whatIf.needsAllColumns });
  toolbar.el.querySelector('.toolbar-row')?.append(whatIf.toggle);
  root.replaceChildren(toolbar.el, whatIf.el, legend, status, issues, list.el);
  const card = new HoverCard(() => state.run);
  attachTokenCursor(list, card);

  function setSignal(id: SignalId): void {
    if (id === state.signal) return;
    chooseSignal(state, id);
    saveState();
    showLegend();
    redraw();
  }

  /** Draws the tokens again after their colour values changed (a filter or sort on the signal lays them out again). */
  function redraw(): void {
    if (Number.isFinite(state.filter.threshold) || state.filter.sort === 'signal-desc') {
      list.relayout();
      return;
    }
    const t0 = performance.now();
    list.recolour();
    afterPaint(() => report('trajectory.recolour', performance.now() - t0));
  }

  function updateFilter(change: Partial<FilterState>): void {
    Object.assign(state.filter, change);
    saveState();
    list.relayout();
  }

  function setFollow(on: boolean): void {
    const { steps, data } = state;
    state.follow = on;
    toolbar.showFollow(on);
    ipc.command(SetFollowCommand, { follow: on, step: data?.step ?? -1 });
    if (on && steps.length && data && steps[steps.length - 1] !== data.step) void loader.load(steps[steps.length - 1]);
  }

  // ------------------------------------------------------------------------------------------- host messages
  ipc.on(TrajectoryInitNotification, (p) => {
    const run = (state.run = p.run);
    const steps = (state.steps = p.steps);
    const step = p.step ?? saved.step ?? steps[steps.length - 1];
    if (steps.length === 0) {
      list.showEmpty(`${displayString(run.name)} has no rollouts yet.${run.status === 'running' ? ' They appear here as the run produces them (Follow live).' : ''}`);
      if (run.status === 'running') setFollow(true);
      return;
    }
    toolbar.updateStepOptions();
    if (run.status === 'running' && p.step === undefined) setFollow(true);
    // The host answered the step to open with init, for the columns asked for in `ready` (the same rule).
    if (p.first) void loader.load(p.first.step, { reply: p.first.reply, only: p.first.fields });
    else void loader.load(step !== undefined && steps.includes(step) ? step : steps[steps.length - 1]);
  });
  ipc.on(ShowStepNotification, ({ step }) => {
    if (!state.steps.includes(step)) state.steps = [...state.steps, step].sort((a, b) => a - b);
    void loader.load(step);
  });
  ipc.on(StepsChangedNotification, (p) => {
    state.steps = p.steps;
    toolbar.updateStepOptions();
    if (!state.data && state.loadingStep === undefined && state.steps.length) void loader.load(state.steps[state.steps.length - 1]);
    else loader.followLatest();
  });
  ipc.on(OpenWhatIfNotification, ({ step }) => {
    if (step !== undefined && state.data?.step !== step) {
      if (!state.steps.includes(step)) state.steps = [...state.steps, step].sort((a, b) => a - b);
      void loader.load(step);
    }
    whatIf.open();
  });
  ipc.on(RolloutsAppendedNotification, (p, m) => loader.onAppended(p.rollouts, p.sentAt, m.sentAt));
  ipc.on(StatusChangedNotification, (p) => {
    if (state.run && p.runId === state.run.id) {
      state.run = { ...state.run, status: p.status };
      showStatus();
    }
  });

  exposeForTests({
    get step() {
      return state.data?.step;
    },
    get signal() {
      return state.signal;
    },
    get rollouts() {
      return state.data?.rollouts.length ?? 0;
    },
    get shown() {
      return list.shown;
    },
    get renderedTokens() {
      return list.el.querySelectorAll('.tok').length;
    },
    setSignal: (id) => toolbar.chooseSignal(id),
    loadStep: (s) => loader.load(s),
    whatIf,
  });

  // The page is up (its script ran, the toolbar is built): how long since the page started, for the benchmarks.
  report('trajectory.ready', performance.now());
  ipc.ready({ step: saved.step, fields: loader.firstFields() });
}
