/**
 * Starting a backend process and its JSON-RPC connection, for both transports (free of `vscode`, so the unit tests
 * drive the same code against the real backends):
 *   - built-in: `dist/cli.js serve` forked with Node, messages over the Node IPC channel;
 *   - PyTorch: `<python> -m prpo_studio serve` spawned with pipes, messages over stdin/stdout with `Content-Length`
 *     framing (StreamMessageReader/Writer); stdout is then the protocol's, the process logs on stderr.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { delimiter } from 'node:path';
import {
  createMessageConnection,
  IPCMessageReader,
  IPCMessageWriter,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';

/** Which backend to start, and with what. */
export type BackendCommand =
  | {
      kind: 'builtin';
      /** Absolute path of dist/cli.js. */
      cliPath: string;
      /** Node executable; empty or undefined: the extension host's own runtime (Electron runs as Node). */
      nodePath?: string;
    }
  | {
      kind: 'pytorch';
      /** The Python interpreter (prpoStudio.python.interpreter, or the one found for it). */
      python: string;
      /** Put first on PYTHONPATH: the extension's own python/src, so its package imports with any interpreter. */
      packagePath: string;
    };

export type BackendKind = BackendCommand['kind'];

/** Starts the backend's process; the connection is not listening yet. */
export function startBackendProcess(command: BackendCommand, cwd: string, env: NodeJS.ProcessEnv = {}): { child: ChildProcess; connection: MessageConnection } {
  if (command.kind === 'builtin') {
    const child = fork(command.cliPath, ['serve'], {
      cwd,
      env: { ...process.env, ...env, ELECTRON_RUN_AS_NODE: '1' },
      execArgv: [],
      execPath: command.nodePath || undefined,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    return { child, connection: createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child)) };
  }
  const inherited = env.PYTHONPATH ?? process.env.PYTHONPATH;
  const child = spawn(command.python, ['-m', 'prpo_studio', 'serve'], {
    cwd,
    env: {
      ...process.env,
      ...env,
      PYTHONPATH: inherited ? `${command.packagePath}${delimiter}${inherited}` : command.packagePath,
      // Log lines as they happen, not when a buffer fills.
      PYTHONUNBUFFERED: '1',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return { child, connection: createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!)) };
}
