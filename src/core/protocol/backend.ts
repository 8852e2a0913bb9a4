/**
 * The JSON-RPC protocol between the extension host (client) and a backend child process (server). Two backends
 * speak it: the built-in one (`dist/cli.js serve`, vscode-jsonrpc over the Node IPC channel) and the PyTorch one
 * (`python -m prpo_studio serve`, the same messages over stdio with `Content-Length` framing; python/src/prpo_studio
 * mirrors these declarations). Declared once; the TypeScript sides import these types.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import type { AlgorithmName, MetricsRow, RolloutRecord, RunStatus } from '../run/schema';

export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';

/** The PyTorch backend's device: `auto` takes CUDA when torch sees a GPU, else the CPU. */
export type TorchDevice = 'auto' | 'cuda' | 'cpu';

/** The PyTorch backend's parameter precision: bf16 (autocast on GPU) or fp32. */
export type TorchDtype = 'bf16' | 'fp32';

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
  /** PyTorch backend: a local model folder (config.json + safetensors) or a Hub id already in the local cache. */
  model?: string;
  /** PyTorch backend: a dataset folder (data.jsonl + images; `export-task shapes` writes one). */
  data?: string;
  /** PyTorch backend: where to train. */
  device?: TorchDevice;
  /** PyTorch backend: bf16 or fp32 (the backend's default when omitted). */
  dtype?: TorchDtype;
}

export interface ResumeFromParams {
  /** The run directory to continue. */
  runDir: string;
  /** Checkpoint folder (absolute, or relative to runDir); the latest complete one when omitted. */
  checkpoint?: string;
  /** Train until this step (inclusive). */
  steps: number;
  ep?: ExecutionProvider;
  /** PyTorch backend: where to train from now on. */
  device?: TorchDevice;
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
  /** PyTorch backend: the device actually in use (after any fallback), e.g. "cuda:0" or "cpu". */
  device?: string;
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
  /** `sentAt`: when the trainer sent them (ms since the epoch), so a view can measure how late it paints them. */
  rollouts: new NotificationType<{ runId: string; step: number; rollouts: RolloutRecord[]; sentAt?: number }>('run/rollouts'),
  checkpoint: new NotificationType<CheckpointInfo>('run/checkpointSaved'),
  log: new NotificationType<{ level: 'info' | 'warn' | 'error'; message: string }>('run/log'),
  error: new NotificationType<{ message: string; fatal: boolean }>('run/error'),
};

/** The payload a notification carries: `Payload<typeof Notifications.rollouts>`. Listeners derive their types from it. */
export type Payload<N> = N extends NotificationType<infer P> ? P : never;

/** A step's rollouts as the host hands them on (the run is known from where they came from). */
export type StepRollouts = Omit<Payload<typeof Notifications.rollouts>, 'runId'>;
