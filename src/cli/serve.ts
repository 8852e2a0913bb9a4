/**
 * prpo-studio serve — the backend process the extension forks: JSON-RPC (src/core/protocol/backend.ts)
 * over the Node IPC channel. It needs that channel: start it with child_process.fork.
 */
import { createMessageConnection, IPCMessageReader, IPCMessageWriter } from 'vscode-jsonrpc/node';
import { Notifications } from '../core/protocol/backend';
import { startServer } from '../backend/server';

export async function main(_argv: string[]): Promise<number> {
  if (!process.send) {
    process.stderr.write('prpo-studio serve: no IPC channel; this command is started by the extension (child_process.fork).\n');
    return 2;
  }
  const connection = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
  const server = startServer(connection, { exit: (code) => process.exit(code) });
  const fatal = (e: unknown) => {
    const message = e instanceof Error ? e.stack ?? e.message : String(e);
    try {
      connection.sendNotification(Notifications.error, { message, fatal: true });
    } catch {
      // The channel may be gone already.
    }
    process.stderr.write(`prpo-studio serve: ${message}\n`);
    setTimeout(() => process.exit(1), 100);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  process.on('disconnect', () => void server.shutdown('the extension host disconnected'));
  process.on('SIGTERM', () => void server.shutdown('SIGTERM'));
  process.on('SIGINT', () => void server.shutdown('SIGINT'));
  connection.listen();
  // Stay alive until a stop request, a shutdown or a fatal error ends the process.
  await new Promise<never>(() => {});
  return 0;
}
