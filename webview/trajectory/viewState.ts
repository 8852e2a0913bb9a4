/**
 * The one state of the trajectory view, shared by its parts (toolbar, windowed list, step loader, token
 * cursor): the run, its steps, the step on show, the colour signal and the filters. Each part reads it and
 * changes only what it owns; what outlives a reload of the panel (step, signal, filters) is saved with VS Code's
 * webview state.
 */
import type { WebviewRunInfo } from '../../src/core/protocol/webview';
import { SignalDef, SignalId, signalDef } from '../scales';
import { FilterState, StepData, defaultFilter } from './model';
import { SignalRanges } from './ranges';

export interface ViewState {
  run: WebviewRunInfo | undefined;
  /** The run's steps that have rollouts, ascending. */
  steps: number[];
  /** The step on show (undefined until one is opened). */
  data: StepData | undefined;
  /** The step being opened, until the host's first reply for it is in. */
  loadingStep: number | undefined;
  /** Rollouts the step on show has, once the host has read it whole (the rest arrives in parts after the first). */
  expectedTotal: number | undefined;
  /** Live follow: new rollouts are shown as produced, new steps opened. */
  follow: boolean;
  /** The signal tokens are coloured by, and its definition. */
  signal: SignalId;
  def: SignalDef;
  filter: FilterState;
  ranges: SignalRanges;
}

/** What is saved across reloads of the panel (JSON: NaN bounds are saved as null). */
export interface SavedView {
  step?: number;
  signal?: SignalId;
  filter?: Omit<FilterState, 'minReward' | 'threshold'> & { minReward: number | null; threshold: number | null };
}

export function restoreView(saved: SavedView): ViewState {
  const signal = saved.signal ?? 'rvd';
  return {
    run: undefined,
    steps: [],
    data: undefined,
    loadingStep: undefined,
    expectedTotal: undefined,
    follow: false,
    signal,
    def: signalDef(signal),
    filter: { ...defaultFilter(), ...(saved.filter ?? {}), minReward: saved.filter?.minReward ?? NaN, threshold: saved.filter?.threshold ?? NaN },
    ranges: new SignalRanges(),
  };
}

export function savedView(s: ViewState): SavedView {
  const f = s.filter;
  return {
    step: s.data?.step,
    signal: s.signal,
    filter: { ...f, minReward: Number.isFinite(f.minReward) ? f.minReward : null, threshold: Number.isFinite(f.threshold) ? f.threshold : null },
  };
}

/** Switches the colour signal (the definition follows). */
export function chooseSignal(s: ViewState, id: SignalId): void {
  s.signal = id;
  s.def = signalDef(id);
}

/** The range of the current signal for the step on show. */
export const currentHi = (s: ViewState): number => s.ranges.hi(s.def, s.data?.rollouts ?? []);
/** The range of the per-rollout advantage (the chip on each card). */
export const advantageHi = (s: ViewState): number => s.ranges.hi(signalDef('advantage'), s.data?.rollouts ?? []);

/**
 * What the range is fixed across. The host computes it over the whole step, so the count is the step's, not the
 * rollouts drawn so far (the first part of a 64-rollout step is 48: the legend said "48").
 */
export function legendNote(state: Pick<ViewState, 'def' | 'data' | 'expectedTotal'>): string {
  if (state.def.fixedHi !== undefined) return 'fixed range';
  const read = state.data?.rollouts.length ?? 0;
  if (state.expectedTotal === undefined) return `range of the rollouts read so far (the whole step's once it is in)`;
  return `range fixed across the ${Math.max(state.expectedTotal, read)} rollouts of the step`;
}
