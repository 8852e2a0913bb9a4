/**
 * Timing marks (../marks.ts) and the read-only test hooks: the benchmarks (bench/webview-bench.ts,
 * bench/webview-vscode.ts) and the UI scenarios read the marks and `window.prpoTrajectory`.
 */
import { SignalId } from '../scales';
import type { WhatIfPanel } from './whatIfPanel';

export { report, type Report } from '../marks';

/**
 * Runs `fn` after the next paint: a task posted from a frame callback runs once that frame is painted. Called
 * from a frame callback itself (`inFrame`), that frame is the one to wait for, not the next.
 */
export function afterPaint(fn: () => void, inFrame = false): void {
  const afterThisFrame = (): void => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => fn();
    ch.port2.postMessage(null);
  };
  if (inFrame) afterThisFrame();
  else requestAnimationFrame(afterThisFrame);
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
