/**
 * Timing marks and the read-only test hooks. The benchmarks (bench/webview-bench.ts, bench/webview-vscode.ts)
 * and the UI scenarios read `performance` marks with the measured milliseconds as detail, and
 * `window.prpoTrajectory`.
 */
import { SignalId } from '../scales';
import type { WhatIfPanel } from './whatIfPanel';

export type Report = (name: string, ms: number) => void;

/** Marks kept per name: a view streaming 100 rollouts a second for hours must not keep every one. */
const MAX_MARKS = 10_000;
const markCounts = new Map<string, number>();

/** A timing mark with the measured milliseconds as its detail (kept in the page: nothing crosses to the host). */
export const report: Report = (name, ms) => {
  const n = (markCounts.get(name) ?? 0) + 1;
  if (n > MAX_MARKS) performance.clearMarks(name);
  markCounts.set(name, n > MAX_MARKS ? 1 : n);
  performance.mark(name, { detail: ms });
};

/** Runs `fn` after the next paint (a frame, then a task). */
export function afterPaint(fn: () => void): void {
  requestAnimationFrame(() => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => fn();
    ch.port2.postMessage(null);
  });
}

/** `window.prpoTrajectory`: facts about what is shown, and the two actions the benchmarks drive. */
export interface TrajectoryHooks {
  readonly step: number | undefined;
  readonly signal: SignalId;
  /** Rollouts of the step that have arrived. */
  readonly rollouts: number;
  /** Rollouts that pass the filters. */
  readonly shown: number;
  /** Token spans built (the windowing keeps this bounded). */
  readonly renderedTokens: number;
  setSignal(id: SignalId): void;
  loadStep(step: number): Promise<void>;
  /** The what-if panel: its settings and summary now. */
  whatIf: WhatIfPanel;
}

export function exposeForTests(hooks: TrajectoryHooks): void {
  (window as unknown as { prpoTrajectory: TrajectoryHooks }).prpoTrajectory = hooks;
}
