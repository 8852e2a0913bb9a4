/**
 * What a panel (trajectory view, charts) needs to know about a run, whether it is on disk only or live in a
 * backend: the host side builds one per run (from RunStore + BackendClient); panels only consume it.
 */
import type * as vscode from 'vscode';
import type { StepRollouts } from '../../core/protocol/backend';
import type { MetricsRow, RolloutRecord, RunManifest, RunStatus } from '../../core/run/schema';

export interface RunSource {
  /** Absolute path of the run directory. */
  readonly runDir: string;
  readonly manifest: RunManifest;
  status(): RunStatus;
  /** Steps that have a rollouts file, ascending. */
  steps(): Promise<number[]>;
  /** Reads one step's rollouts; malformed lines are reported through `onIssue`, never thrown. */
  readStep(step: number, onIssue?: (message: string) => void): Promise<RolloutRecord[]>;
  /** The same rollouts as they are read (the first before the file's end), under the same rules. */
  streamStep(step: number, onIssue?: (message: string) => void): AsyncIterable<RolloutRecord>;
  readMetrics(onIssue?: (message: string) => void): Promise<MetricsRow[]>;
  /** New rollouts as they are produced (a live backend, or growth of the step file on disk). */
  readonly onRollouts: vscode.Event<StepRollouts>;
  readonly onMetrics: vscode.Event<MetricsRow>;
  readonly onStatus: vscode.Event<RunStatus>;
}
