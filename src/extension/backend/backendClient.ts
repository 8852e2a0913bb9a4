/**
 * One training backend, a child process of the extension host spoken to with JSON-RPC (vscode-jsonrpc), over one
 * of two transports:
 *   - the built-in backend: `dist/cli.js serve` forked with Node, messages over the Node IPC channel;
 *   - the PyTorch backend: `<python> -m prpo_studio serve` spawned with pipes, messages over stdin/stdout
 *     (StreamMessageReader/Writer: `Content-Length` framing); its stderr is its log.
 * Typed requests and notifications come from src/core/protocol/backend.ts, the same for both. The client owns the
 * child: it kills it on dispose and on cancelled start-up, and tells an expected exit (after `stop`, or dispose)
 * from a crash.
 */
import type { ChildProcess } from 'node:child_process';
import * as vscode from 'vscode';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import {
  Notifications,
  Requests,
  type BackendStatus,
  type Payload,
  type CheckpointInfo,
  type ResumeFromParams,
  type StartParams,
} from '../../core/protocol/backend';
import { RunFormatError, validateMetricsRow, validateRollout } from '../../core/run/validate';
import type { MetricsRow, RolloutRecord } from '../../core/run/schema';
import { startBackendProcess, type BackendCommand } from './transport';

export type { BackendCommand, BackendKind } from './transport';

export interface BackendLaunch {
  command: BackendCommand;
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** How long the child may take to answer its first request. */
  startupTimeoutMs: number;
  /** Everything the child prints, and the protocol's log notifications, go here. */
  log: vscode.LogOutputChannel;
}

export interface BackendExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** False when the child went away on its own (a crash), true after stop/dispose. */
  expected: boolean;
  /** The last lines the child wrote to stderr, for the error report. */
  stderrTail: string;
}

/** Thrown when start-up is cancelled by the user; callers stay quiet about it. */
export class BackendCancelled extends Error {
  constructor() {
    super('Start-up of the training backend was cancelled.');
  }
}

const STDERR_TAIL_LINES = 20;

/** The validated value, or undefined after logging why it is not valid. */
function validLive<T>(validate: () => T, log: vscode.LogOutputChannel): T | undefined {
  try {
    return validate();
  } catch (e) {
    if (!(e instanceof RunFormatError)) throw e;
    log.error(`backend sent a malformed record: ${e.message}`);
    return undefined;
  }
}

export class BackendClient implements vscode.Disposable {
  private readonly stateEmitter = new vscode.EventEmitter<Payload<typeof Notifications.state>>();
  private readonly metricsEmitter = new vscode.EventEmitter<Payload<typeof Notifications.metrics>>();
  private readonly rolloutsEmitter = new vscode.EventEmitter<Payload<typeof Notifications.rollouts>>();
  private readonly checkpointEmitter = new vscode.EventEmitter<Payload<typeof Notifications.checkpoint>>();
  private readonly errorEmitter = new vscode.EventEmitter<Payload<typeof Notifications.error>>();
  private readonly exitEmitter = new vscode.EventEmitter<BackendExit>();

  readonly onState = this.stateEmitter.event;
  readonly onMetrics = this.metricsEmitter.event;
  readonly onRollouts = this.rolloutsEmitter.event;
  readonly onCheckpoint = this.checkpointEmitter.event;
  readonly onError = this.errorEmitter.event;
  readonly onExit = this.exitEmitter.event;

  private exitExpected = false;
  private exited: BackendExit | undefined;
  private readonly stderrLines: string[] = [];

  private constructor(
    private readonly child: ChildProcess,
    private readonly connection: MessageConnection,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** How the child exited, once it has. */
  get exit(): BackendExit | undefined {
    return this.exited;
  }

  /**
   * Forks the backend and waits until it answers `run/status`. Rejects (and kills the child) on timeout,
   * on cancellation (with BackendCancelled), or when the child exits first (with its stderr tail).
   */
  static async launch(options: BackendLaunch, token?: vscode.CancellationToken): Promise<BackendClient> {
    const { child, connection } = startBackendProcess(options.command, options.cwd, options.env);
    const client = new BackendClient(child, connection, options.log);
    client.wire();
    connection.listen();

    let timer: NodeJS.Timeout | undefined;
    let cancelListener: vscode.Disposable | undefined;
    try {
      await Promise.race([
        connection.sendRequest(Requests.status),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`The training backend did not answer within ${Math.round(options.startupTimeoutMs / 1000)} s (setting prpoStudio.backend.startupTimeout).`)),
            options.startupTimeoutMs,
          );
          cancelListener = token?.onCancellationRequested(() => reject(new BackendCancelled()));
          client.onExit((exit) => reject(new Error(`The training backend exited during start-up (${describeExit(exit)}).${exit.stderrTail ? `\n${exit.stderrTail}` : ''}`)));
          child.once('error', (err) => reject(new Error(`Could not start the training backend: ${err.message}`)));
        }),
      ]);
      return client;
    } catch (err) {
      client.dispose();
      throw err;
    } finally {
      clearTimeout(timer);
      cancelListener?.dispose();
    }
  }

  private wire(): void {
    const { child, connection, log } = this;
    const pipeLines = (stream: NodeJS.ReadableStream | null, isErr: boolean) => {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (!line) continue;
          if (isErr) {
            this.stderrLines.push(line);
            if (this.stderrLines.length > STDERR_TAIL_LINES) this.stderrLines.shift();
            log.warn(`[backend ${child.pid}] ${line}`);
          } else {
            log.info(`[backend ${child.pid}] ${line}`);
          }
        }
      });
    };
    // Over stdio, stdout carries the messages; the IPC child's stdout is free for its log.
    if (!child.channel) child.stdin?.on('error', (err) => log.warn(`[backend ${child.pid}] stdin: ${err.message}`));
    else pipeLines(child.stdout, false);
    pipeLines(child.stderr, true);

    connection.onNotification(Notifications.state, (s) => this.stateEmitter.fire(s));
    // Live records are validated here, as the file reader validates the same records on disk: JSON over IPC turns
    // NaN into null, and a record the viewer cannot show must be reported, not break the view. (The other way,
    // a `{runId, step}` notice that makes the host read the step file, would re-read each step the backend
    // already holds in memory, and change the backend protocol.) A bad record is logged and left out.
    connection.onNotification(Notifications.metrics, ({ runId, row }) => {
      const valid = validLive(() => validateMetricsRow(row, `run/metrics of ${runId}`), log);
      if (valid) this.metricsEmitter.fire({ runId, row: valid });
    });
    connection.onNotification(Notifications.rollouts, ({ runId, step, rollouts, sentAt }) => {
      const valid = rollouts.flatMap((r, i) => validLive(() => validateRollout(r, `run/rollouts of ${runId}, step ${step}, rollout ${i}`), log) ?? []);
      this.rolloutsEmitter.fire({ runId, step, rollouts: valid, sentAt: typeof sentAt === 'number' && Number.isFinite(sentAt) ? sentAt : undefined });
    });
    connection.onNotification(Notifications.checkpoint, (c) => this.checkpointEmitter.fire(c));
    connection.onNotification(Notifications.log, ({ level, message }) => log[level](`[backend ${child.pid}] ${message}`));
    connection.onNotification(Notifications.error, (e) => {
      log.error(`[backend ${child.pid}] ${e.fatal ? 'fatal: ' : ''}${e.message}`);
      this.errorEmitter.fire(e);
    });
    connection.onError(([err]) => log.error(`[backend ${child.pid}] connection: ${err.message}`));

    child.on('exit', (code, signal) => {
      this.exited = { code, signal, expected: this.exitExpected, stderrTail: this.stderrLines.join('\n') };
      log.info(`[backend ${child.pid}] exited (${describeExit(this.exited)})${this.exitExpected ? '' : ' unexpectedly'}`);
      connection.dispose();
      this.exitEmitter.fire(this.exited);
    });
  }

  start(params: StartParams): Promise<BackendStatus> {
    return this.connection.sendRequest(Requests.start, params);
  }
  resumeFrom(params: ResumeFromParams): Promise<BackendStatus> {
    return this.connection.sendRequest(Requests.resumeFrom, params);
  }
  pause(): Promise<BackendStatus> {
    return this.connection.sendRequest(Requests.pause);
  }
  resume(): Promise<BackendStatus> {
    return this.connection.sendRequest(Requests.resume);
  }
  checkpoint(): Promise<CheckpointInfo> {
    return this.connection.sendRequest(Requests.checkpoint);
  }
  status(): Promise<BackendStatus> {
    return this.connection.sendRequest(Requests.status);
  }

  /** Checkpoint, then end the run; the child exits after answering, which is then not a crash. */
  async stop(): Promise<BackendStatus> {
    this.exitExpected = true;
    try {
      return await this.connection.sendRequest(Requests.stop);
    } catch (err) {
      // The child may exit before the answer is read; the exit handler reports a real failure.
      if (this.exited && (this.exited.code === 0 || this.exited.code === null)) return { state: 'stopped', step: -1 };
      throw err;
    }
  }

  /** From now on the child's exit is part of the plan (the run completed, or failed and said so). */
  expectExit(): void {
    this.exitExpected = true;
  }

  /** Resolves when the child has exited (at once if it already has); kills it after `killAfterMs`. */
  waitForExit(killAfterMs: number): Promise<BackendExit> {
    if (this.exited) return Promise.resolve(this.exited);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.kill(), killAfterMs);
      this.onExit((e) => {
        clearTimeout(timer);
        resolve(e);
      });
    });
  }

  private kill(): void {
    this.exitExpected = true;
    if (!this.exited) this.child.kill('SIGTERM');
    const child = this.child;
    setTimeout(() => {
      if (!this.exited) child.kill('SIGKILL');
    }, 3000).unref();
  }

  dispose(): void {
    this.kill();
    this.connection.dispose();
    this.stateEmitter.dispose();
    this.metricsEmitter.dispose();
    this.rolloutsEmitter.dispose();
    this.checkpointEmitter.dispose();
    this.errorEmitter.dispose();
    // exitEmitter stays alive so that listeners hear the exit that dispose causes.
  }
}

export function describeExit(exit: Pick<BackendExit, 'code' | 'signal'>): string {
  if (exit.signal) return `signal ${exit.signal}`;
  return `exit code ${exit.code}`;
}
