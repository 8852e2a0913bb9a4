/**
 * The JSON-RPC protocol between the extension host (client) and the backend child process (server),
 * carried by vscode-jsonrpc over the Node IPC channel. Declared once; both sides import these types.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import type { AlgorithmName, MetricsRow, RolloutRecord, RunStatus } from '../run/schema';

export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';

export interface StartParams {
  /** Folder that holds run directories; a new run directory is created inside it. */
  runsDir: string;
  preset: AlgorithmName;
  /** Train until this step (inclusive). */
  steps: number;
  seed?: number;
  ep?: ExecutionProvider;
  name?: string;
  /** Overrides of the preset's configuration (ALGORITHMS.md constants, trainer settings). */
  config?: Record<string, unknown>;
  checkpointEvery?: number;
}

export interface ResumeFromParams {
  /** The run directory to continue. */
  runDir: string;
  /** Checkpoint folder (absolute, or relative to runDir); the latest complete one when omitted. */
  checkpoint?: string;
  /** Train until this step (inclusive). */
  steps: number;
  ep?: ExecutionProvider;
}

export interface BackendStatus {
  /** 'idle' before a run starts; afterwards the run's status. */
  state: 'idle' | RunStatus;
  runId?: string;
  runDir?: string;
  step: number;
  steps?: number;
  /** The execution provider actually in use (after any fallback). */
  ep?: ExecutionProvider;
  lastReward?: number;
}

export interface CheckpointInfo {
  runId: string;
  step: number;
  /** Absolute path of the checkpoint folder. */
  path: string;
}

export const Requests = {
  start: new RequestType<StartParams, BackendStatus, void>('run/start'),
  resumeFrom: new RequestType<ResumeFromParams, BackendStatus, void>('run/resumeFrom'),
  pause: new RequestType0<BackendStatus, void>('run/pause'),
  resume: new RequestType0<BackendStatus, void>('run/resume'),
  checkpoint: new RequestType0<CheckpointInfo, void>('run/checkpoint'),
  /** Checkpoint, then end the run; the process exits after answering. */
  stop: new RequestType0<BackendStatus, void>('run/stop'),
  status: new RequestType0<BackendStatus, void>('run/status'),
};

export const Notifications = {
  state: new NotificationType<BackendStatus>('run/state'),
  metrics: new NotificationType<{ runId: string; row: MetricsRow }>('run/metrics'),
  rollouts: new NotificationType<{ runId: string; step: number; rollouts: RolloutRecord[] }>('run/rollouts'),
  checkpoint: new NotificationType<CheckpointInfo>('run/checkpointSaved'),
  log: new NotificationType<{ level: 'info' | 'warn' | 'error'; message: string }>('run/log'),
  error: new NotificationType<{ message: string; fatal: boolean }>('run/error'),
};

/** The payload a notification carries: `Payload<typeof Notifications.rollouts>`. Listeners derive their types from it. */
export type Payload<N> = N extends NotificationType<infer P> ? P : never;

/** A step's rollouts as the host hands them on (the run is known from where they came from). */
export type StepRollouts = Omit<Payload<typeof Notifications.rollouts>, 'runId'>;
