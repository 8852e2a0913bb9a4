/**
 * The live runs of this window: one BackendClient (one child process) per run, on either backend (built-in or
 * PyTorch: the same protocol, the same calls). Starts and resumes runs with a cancellable progress notification,
 * forwards the backends' notifications, and turns an unexpected exit into a 'failed' event in the run's
 * events.jsonl plus an error the user can act on.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type {
  BackendStatus,
  CheckpointInfo,
  ExecutionProvider,
  Notifications,
  Payload,
  ResumeFromParams,
  StartParams,
  StepRollouts,
  TorchDevice,
} from '../../core/protocol/backend';
import type { MetricsRow, RolloutRecord, RunManifest } from '../../core/run/schema';
import * as config from '../config';
import { appendFailure } from '../../core/run/writer';
import { StepTimer } from '../../core/run/stepTimer';
import { latestCheckpoint } from '../../core/run/checkpoint';
import { escapeNotice } from '../../core/format';
import { BackendCancelled, BackendClient, describeExit, type BackendCommand, type BackendExit, type BackendKind } from './backendClient';
import { checkInterpreter, describeInterpreter, explainBackendError, packagePath, PythonSetupError, resolveInterpreter } from './python';

/** What the UI shows for a live run: the backend's state, plus the transitions the user asked for. */
export type LivePhase = 'running' | 'paused' | 'pausing' | 'checkpointing' | 'stopping';

export interface LiveRun {
  readonly runDir: string;
  readonly runId: string;
  /** The run's name as the user knows it (run.json "name"). */
  readonly name: string;
  readonly client: BackendClient;
  /** Which backend trains it. */
  readonly backend: BackendKind;
  /** The execution provider asked for (the backend reports the one in use in `status.ep`). */
  readonly requestedEp: ExecutionProvider;
  status: BackendStatus;
  phase: LivePhase;
  /** Measured step time, for the status bar's "~6 min left". */
  readonly timer: StepTimer;
}

export const RESUME_FROM_CHECKPOINT = 'Resume from Checkpoint';
const SHOW_LOG = 'Show Log';
const COPY_COMMAND = 'Copy pip Command';
const OPEN_SETTINGS = 'Open Settings';

export class BackendManager implements vscode.Disposable {
  private readonly runs = new Map<string, LiveRun>();
  private activeDir: string | undefined;
  private startingCount = 0;

  private readonly changeEmitter = new vscode.EventEmitter<LiveRun | undefined>();
  private readonly metricsEmitter = new vscode.EventEmitter<{ runDir: string } & Omit<Payload<typeof Notifications.metrics>, 'runId'>>();
  private readonly rolloutsEmitter = new vscode.EventEmitter<{ runDir: string } & StepRollouts>();
  private readonly checkpointEmitter = new vscode.EventEmitter<{ runDir: string; info: CheckpointInfo }>();

  /** A live run appeared, changed state, or went away (undefined: the set changed). */
  readonly onDidChange = this.changeEmitter.event;
  readonly onMetrics = this.metricsEmitter.event;
  readonly onRollouts = this.rolloutsEmitter.event;
  readonly onCheckpoint = this.checkpointEmitter.event;

  constructor(
    private readonly extensionPath: string,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  get starting(): boolean {
    return this.startingCount > 0;
  }

  all(): LiveRun[] {
    return [...this.runs.values()];
  }

  get(runDir: string): LiveRun | undefined {
    return this.runs.get(path.resolve(runDir));
  }

  /** The run the status bar follows: the last one started or acted on that is still live. */
  get active(): LiveRun | undefined {
    return (this.activeDir && this.runs.get(this.activeDir)) || this.all().at(-1);
  }

  /** Starts a run; a run with a model to load is the PyTorch backend's (the built-in backend has its own model). */
  async startRun(params: StartParams, backend: BackendKind = params.model ? 'pytorch' : 'builtin'): Promise<LiveRun | undefined> {
    const ep = params.ep ?? 'cpu';
    const device = backend === 'pytorch' ? (params.device ?? config.pythonDevice()) : undefined;
    const title = `Starting ${params.name ? `"${escapeNotice(params.name)}"` : `a ${params.preset} run`}${backend === 'pytorch' ? ' on the PyTorch backend' : ''}`;
    return this.launch(title, params.name, ep, backend, device, (c) => c.start({ ...params, ep, ...(device ? { device } : {}) }));
  }

  async resumeFrom(params: ResumeFromParams, label: string, backend: BackendKind = 'builtin'): Promise<LiveRun | undefined> {
    const existing = this.get(params.runDir);
    if (existing) {
      vscode.window.showWarningMessage(`"${label}" is already running in this window.`);
      return existing;
    }
    const ep = params.ep ?? 'cpu';
    const device = backend === 'pytorch' ? (params.device ?? config.pythonDevice()) : undefined;
    return this.launch(`Resuming "${label}"`, label, ep, backend, device, (c) => c.resumeFrom({ ...params, ep, ...(device ? { device } : {}) }));
  }

  /** How to start the chosen backend; for PyTorch, after checking its interpreter (throws PythonSetupError). */
  private async command(backend: BackendKind, progress: vscode.Progress<{ message?: string }>): Promise<BackendCommand> {
    if (backend === 'builtin') {
      // PRPO_STUDIO_BACKEND_CLI: another backend script speaking the same protocol (development, tests).
      return { kind: 'builtin', cliPath: process.env.PRPO_STUDIO_BACKEND_CLI || path.join(this.extensionPath, 'dist', 'cli.js'), nodePath: config.backendNodePath() };
    }
    const interpreter = await resolveInterpreter(this.extensionPath);
    progress.report({ message: `checking the Python environment (${interpreter.path})…` });
    this.log.info(`PyTorch backend: interpreter ${describeInterpreter(interpreter)}`);
    await checkInterpreter(interpreter, this.extensionPath);
    return { kind: 'pytorch', python: interpreter.path, packagePath: packagePath(this.extensionPath) };
  }

  /** Forks a backend and sends it the first request inside a cancellable progress notification. */
  private async launch(
    title: string,
    name: string | undefined,
    ep: ExecutionProvider,
    backend: BackendKind,
    device: TorchDevice | undefined,
    first: (client: BackendClient) => Promise<BackendStatus>,
  ): Promise<LiveRun | undefined> {
    // The backend runs code on the user's behalf: never in an untrusted workspace, whoever asks.
    if (!vscode.workspace.isTrusted) {
      this.log.warn(`${title}: refused, the workspace is not trusted.`);
      void vscode.window.showWarningMessage('PRPO Studio starts no training backend in an untrusted workspace.');
      return undefined;
    }
    this.startingCount++;
    this.changeEmitter.fire(undefined);
    let client: BackendClient | undefined;
    try {
      const status = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `PRPO Studio: ${title}`, cancellable: true },
        async (progress, token) => {
          const command = await this.command(backend, progress);
          if (token.isCancellationRequested) throw new BackendCancelled();
          progress.report({ message: 'starting the training backend…' });
          client = await BackendClient.launch({ command, cwd: this.extensionPath, startupTimeoutMs: config.startupTimeoutMs(), log: this.log }, token);
          progress.report({ message: 'loading the model and writing the run directory…' });
          const c = client;
          return await new Promise<BackendStatus>((resolve, reject) => {
            const onCancel = token.onCancellationRequested(() => reject(new BackendCancelled()));
            const onExit = c.onExit((e) => reject(new Error(`The training backend exited (${describeExit(e)}).${e.stderrTail ? `\n${e.stderrTail}` : ''}`)));
            first(c).then(resolve, reject).finally(() => {
              onCancel.dispose();
              onExit.dispose();
            });
          });
        },
      );
      if (!status.runDir || !status.runId) throw new Error('The training backend did not say which run it started.');
      const run = this.register(client!, status, name ?? path.basename(status.runDir), ep, backend);
      if (backend === 'pytorch') this.noticeDevice(run, device, status.device);
      else if (status.ep && status.ep !== ep) {
        vscode.window
          .showWarningMessage(
            `The ${ep} execution provider is not available here (no usable GPU); "${escapeNotice(run.name)}" runs on ${status.ep}.`,
            SHOW_LOG,
          )
          .then((choice) => choice === SHOW_LOG && this.log.show());
      }
      return run;
    } catch (err) {
      client?.dispose();
      if (err instanceof BackendCancelled) {
        this.log.info(err.message);
        return undefined;
      }
      const raw = err instanceof Error ? err.message : String(err);
      const message = backend === 'pytorch' ? explainBackendError(raw) : raw;
      this.log.error(message);
      const actions = err instanceof PythonSetupError ? [...(err.command ? [COPY_COMMAND] : []), ...(err.setting ? [OPEN_SETTINGS] : [])] : [];
      vscode.window.showErrorMessage(`PRPO Studio: ${title} failed: ${escapeNotice(message.split('\n')[0])}`, ...actions, SHOW_LOG).then((c) => {
        if (c === SHOW_LOG) this.log.show();
        if (c === COPY_COMMAND && err instanceof PythonSetupError && err.command) void vscode.env.clipboard.writeText(err.command);
        if (c === OPEN_SETTINGS && err instanceof PythonSetupError) void vscode.commands.executeCommand('workbench.action.openSettings', err.setting);
      });
      return undefined;
    } finally {
      this.startingCount--;
      this.changeEmitter.fire(undefined);
    }
  }

  /** The PyTorch backend falls back to the CPU when torch sees no GPU: say so, louder when a GPU was asked for. */
  private noticeDevice(run: LiveRun, asked: TorchDevice | undefined, inUse: string | undefined): void {
    if (!inUse || !inUse.startsWith('cpu') || asked === 'cpu') return;
    const text = `No GPU that torch can use here: "${escapeNotice(run.name)}" trains on the CPU (slow beyond tiny models; setting prpoStudio.python.device)`;
    const show = asked === 'cuda' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void show(`PRPO Studio: ${text}`, SHOW_LOG).then((c) => c === SHOW_LOG && this.log.show());
  }

  private register(client: BackendClient, status: BackendStatus, name: string, requestedEp: ExecutionProvider, backend: BackendKind): LiveRun {
    const runDir = path.resolve(status.runDir!);
    const run: LiveRun = { runDir, runId: status.runId!, name, client, backend, requestedEp, status, phase: phaseOf(status), timer: new StepTimer() };
    this.runs.set(runDir, run);
    this.activeDir = runDir;

    client.onState((s) => {
      run.status = { ...run.status, ...s };
      if (run.phase !== 'stopping' && run.phase !== 'checkpointing') run.phase = phaseOf(s);
      // A pause is not step time: the next step's interval starts when it runs again.
      if (run.phase !== 'running') run.timer.restart();
      this.changeEmitter.fire(run);
      if (s.state === 'completed') this.finished(run, 'completed');
      if (s.state === 'failed') this.finished(run, 'failed');
      if (s.state === 'stopped' && run.phase !== 'stopping') this.finished(run, 'stopped');
    });
    client.onMetrics(({ row }) => {
      run.status = { ...run.status, step: Math.max(run.status.step, row.step), lastReward: row.reward ?? run.status.lastReward };
      run.timer.observe(row.step, performance.now());
      this.metricsEmitter.fire({ runDir, row });
      this.changeEmitter.fire(run);
    });
    client.onRollouts(({ step, rollouts, sentAt }) => this.rolloutsEmitter.fire({ runDir, step, rollouts, sentAt }));
    client.onCheckpoint((info) => this.checkpointEmitter.fire({ runDir, info }));
    client.onError(({ message, fatal }) => {
      if (!fatal) {
        vscode.window.showWarningMessage(`PRPO Studio: ${escapeNotice(message)}`);
        return;
      }
      // The backend records a fatal error in events.jsonl itself, then exits.
      run.client.expectExit();
      this.reportFailure(run, run.backend === 'pytorch' ? explainBackendError(message) : message);
    });
    client.onExit((exit) => this.exited(run, exit));
    this.changeEmitter.fire(run);
    // It may have died between answering and now: that exit was heard by no one yet.
    if (client.exit) this.exited(run, client.exit);
    return run;
  }

  /** The run ended on its own terms (all steps done, or the trainer reported a failure it wrote itself). */
  private finished(run: LiveRun, how: 'completed' | 'failed' | 'stopped'): void {
    if (how === 'completed') {
      vscode.window
        .showInformationMessage(`PRPO Studio: "${escapeNotice(run.name)}" completed ${run.status.step} steps.`, 'Open Metrics')
        .then((c) => c && vscode.commands.executeCommand('prpoStudio.openMetrics', run.runDir));
    }
    // The backend has nothing left to do (and wrote its own last event): let it go. `stop` on a finished run
    // writes nothing more; a backend that does not answer is killed.
    run.phase = 'stopping';
    run.client.expectExit();
    if (how !== 'failed') void run.client.stop().catch(() => undefined);
    void run.client.waitForExit(10_000);
  }

  private exited(run: LiveRun, exit: BackendExit): void {
    this.runs.delete(run.runDir);
    if (this.activeDir === run.runDir) this.activeDir = undefined;
    if (!exit.expected) {
      const reason = `the training backend exited unexpectedly (${describeExit(exit)})${exit.stderrTail ? `: ${exit.stderrTail.split('\n').slice(-5).join(' | ')}` : ''}`;
      appendFailure(run.runDir, reason, run.status.step).catch((e) =>
        this.log.error(`Could not record the failure in ${run.runDir}: ${(e as Error).message}`),
      );
      this.reportFailure(run, reason);
    }
    this.changeEmitter.fire(undefined);
  }

  private reportFailure(run: LiveRun, reason: string): void {
    this.log.error(`${run.runDir}: ${reason}`);
    vscode.window
      // Resuming needs a complete checkpoint: a run that failed before its first one is not offered it.
      .showErrorMessage(
        `PRPO Studio: run "${escapeNotice(run.name)}" failed at step ${run.status.step}: ${escapeNotice(reason.split('\n')[0])}`,
        ...(latestCheckpoint(run.runDir) ? [RESUME_FROM_CHECKPOINT] : []),
        SHOW_LOG,
      )
      .then((choice) => {
        if (choice === RESUME_FROM_CHECKPOINT) vscode.commands.executeCommand('prpoStudio.resumeFromCheckpoint', run.runDir);
        if (choice === SHOW_LOG) this.log.show();
      });
  }

  private async transition<T>(run: LiveRun, phase: LivePhase, action: () => PromiseLike<T>): Promise<T> {
    const before = run.phase;
    run.phase = phase;
    this.activeDir = run.runDir;
    this.changeEmitter.fire(run);
    try {
      return await action();
    } catch (err) {
      run.phase = before;
      throw err;
    } finally {
      this.changeEmitter.fire(run);
    }
  }

  async pause(run: LiveRun): Promise<void> {
    const status = await this.transition(run, 'pausing', () =>
      vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Pausing training run…' }, () => run.client.pause()),
    );
    run.status = { ...run.status, ...status };
    run.phase = phaseOf(status);
    this.changeEmitter.fire(run);
  }

  async resume(run: LiveRun): Promise<void> {
    const status = await this.transition(run, run.phase, () => run.client.resume());
    run.status = { ...run.status, ...status };
    run.phase = phaseOf(status);
    this.changeEmitter.fire(run);
  }

  async checkpoint(run: LiveRun): Promise<CheckpointInfo> {
    const before = run.phase;
    const info = await this.transition(run, 'checkpointing', () =>
      vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `PRPO Studio: saving a checkpoint of "${escapeNotice(run.name)}"…` },
        () => run.client.checkpoint(),
      ),
    );
    run.phase = before === 'checkpointing' ? phaseOf(run.status) : before;
    this.checkpointEmitter.fire({ runDir: run.runDir, info });
    return info;
  }

  async stop(run: LiveRun): Promise<void> {
    await this.transition(run, 'stopping', () =>
      vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `PRPO Studio: stopping "${escapeNotice(run.name)}" (checkpoint, then exit)…` },
        async () => {
          const status = await run.client.stop();
          run.status = { ...run.status, ...status, step: status.step >= 0 ? status.step : run.status.step };
          await run.client.waitForExit(10_000);
        },
      ),
    );
  }

  /** Closing the window: ask each backend to stop (checkpoint), then kill what is left. */
  async shutdown(timeoutMs = 4000): Promise<void> {
    await Promise.all(
      this.all().map(async (run) => {
        run.phase = 'stopping';
        run.client.stop().catch(() => undefined);
        await run.client.waitForExit(timeoutMs);
      }),
    );
  }

  dispose(): void {
    for (const run of this.all()) run.client.dispose();
    this.runs.clear();
    this.changeEmitter.dispose();
    this.metricsEmitter.dispose();
    this.rolloutsEmitter.dispose();
    this.checkpointEmitter.dispose();
  }
}

/**
 * Which backend wrote a run, hence which one continues it: the PyTorch trainer records `"backend": "pytorch"` in
 * run.json's model config (python/src/prpo_studio/trainer/core.py); every other run of ours is the built-in one's.
 */
export function backendOfRun(manifest: Pick<RunManifest, 'model' | 'config'>): BackendKind {
  return manifest.model?.config?.backend === 'pytorch' || manifest.config?.backend === 'pytorch' ? 'pytorch' : 'builtin';
}

function phaseOf(s: BackendStatus): LivePhase {
  return s.state === 'paused' ? 'paused' : 'running';
}
