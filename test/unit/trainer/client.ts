/**
 * A test client for the backend: forks `dist/cli.js serve` (build first) and talks JSON-RPC to it over
 * the IPC channel, recording every notification.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { Notifications } from '../../../src/core/protocol/backend';
import type { BackendStatus, CheckpointInfo } from '../../../src/core/protocol/backend';
import type { MetricsRow } from '../../../src/core/run';

export const CLI = join(__dirname, '..', '..', '..', 'dist', 'cli.js');

export interface BackendClient {
  child: ChildProcess;
  connection: MessageConnection;
  states: BackendStatus[];
  metrics: MetricsRow[];
  checkpoints: CheckpointInfo[];
  logs: string[];
  errors: Array<{ message: string; fatal: boolean }>;
  stderr: () => string;
  /** Resolves when `predicate` holds after some notification (rejects after `ms`). */
  waitFor(predicate: () => boolean, ms?: number): Promise<void>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

/** `env` is added to this process's environment for the child. */
export function forkBackend(env: NodeJS.ProcessEnv = {}): BackendClient {
  const child = fork(CLI, ['serve'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
  const waiters: Array<() => void> = [];
  const poke = () => waiters.forEach((w) => w());
  const client: BackendClient = {
    child,
    connection,
    states: [],
    metrics: [],
    checkpoints: [],
    logs: [],
    errors: [],
    stderr: () => err,
    waitFor(predicate, ms = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate()) {
            waiters.splice(waiters.indexOf(check), 1);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`waitFor: timed out after ${ms} ms; stderr: ${err}`));
        }, ms);
        waiters.push(check);
        check();
      });
    },
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    kill: (signal = 'SIGKILL') => child.kill(signal),
  };
  child.on('exit', poke);
  connection.onNotification(Notifications.state, (s) => (client.states.push(s), poke()));
  connection.onNotification(Notifications.metrics, (m) => (client.metrics.push(m.row), poke()));
  connection.onNotification(Notifications.checkpoint, (c) => (client.checkpoints.push(c), poke()));
  connection.onNotification(Notifications.log, (l) => (client.logs.push(l.message), poke()));
  connection.onNotification(Notifications.error, (e) => (client.errors.push(e), poke()));
  connection.onError(() => undefined);
  connection.onClose(() => undefined);
  connection.listen();
  return client;
}
