/**
 * Timing marks and the read-only test hooks. The benchmarks (bench/webview-bench.ts, bench/webview-vscode.ts)
 * and the UI scenarios read `performance` marks with the measured milliseconds as detail, the host's
 * PerfReportCommand copy of them, and `window.prpoTrajectory`.
 */
import { PerfReportCommand } from '../../src/core/protocol/webview';
import { HostIpc } from '../ipc';
import { SignalId } from '../scales';

export type Report = (name: string, ms: number) => void;

export function perfReporter(ipc: HostIpc): Report {
  return (name, ms) => {
    performance.mark(name, { detail: ms });
    ipc.command(PerfReportCommand, { name, ms });
  };
}

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
}

export function exposeForTests(hooks: TrajectoryHooks): void {
  (window as unknown as { prpoTrajectory: TrajectoryHooks }).prpoTrajectory = hooks;
}
