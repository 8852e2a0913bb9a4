/**
 * The backend's JSON-RPC server (src/core/protocol/backend.ts): one run per process. Requests start a run
 * or continue one, pause/resume it at the next safe point, checkpoint it, stop it (checkpoint, then the
 * process exits); notifications stream its state, metrics, rollouts, checkpoints, log lines and errors.
 * If the extension host goes away (the IPC channel closes) or SIGTERM arrives, the run is stopped the same
 * way; a failure marks the run failed in events.jsonl and is reported before the process exits.
 */
import { ResponseError, type MessageConnection } from 'vscode-jsonrpc';
import { Notifications, Requests, type BackendStatus } from '../core/protocol/backend';
import { Trainer, type EngineFactory, type TrainerHooks } from './trainer/trainer';

export interface ServerOptions {
  /** Ends the process (tests pass their own). */
  exit: (code: number) => void;
  engineFactory?: EngineFactory;
}

/** JSON-RPC error codes of this server (application range). */
export const ErrorCodes = { busy: 1, noRun: 2, failed: 3 } as const;

export function startServer(connection: MessageConnection, opts: ServerOptions): { shutdown(reason: string): Promise<void> } {
  let trainer: Trainer | undefined;
  let exiting = false;

  const hooks: TrainerHooks = {
    onState: (s) => connection.sendNotification(Notifications.state, s),
    onMetrics: (row) => connection.sendNotification(Notifications.metrics, { runId: trainer?.writer.manifest.id ?? '', row }),
    onRollouts: (step, rollouts) => connection.sendNotification(Notifications.rollouts, { runId: trainer?.writer.manifest.id ?? '', step, rollouts, sentAt: Date.now() }),
    onCheckpoint: (info) => connection.sendNotification(Notifications.checkpoint, info),
    onLog: (level, message) => connection.sendNotification(Notifications.log, { level, message }),
  };

  const idle = (): BackendStatus => ({ state: 'idle', step: 0 });
  const current = (): Trainer => {
    if (!trainer) throw new ResponseError(ErrorCodes.noRun, 'No run has been started in this backend (send run/start or run/resumeFrom first).');
    return trainer;
  };

  /** Exit after the reply in flight has been handed to the IPC channel. */
  const exitSoon = (code: number) => {
    if (exiting) return;
    exiting = true;
    setTimeout(() => opts.exit(code), 100);
  };

  const launch = (t: Trainer): BackendStatus => {
    trainer = t;
    t.run().then(
      () => connection.sendNotification(Notifications.state, t.status()),
      (e: Error) => {
        connection.sendNotification(Notifications.error, { message: `Training failed at step ${t.currentStep + 1}: ${e.message}`, fatal: true });
        exitSoon(1);
      },
    );
    return t.status();
  };

  const begin = async (make: () => Promise<Trainer>): Promise<BackendStatus> => {
    if (trainer) throw new ResponseError(ErrorCodes.busy, `This backend already runs ${trainer.writer.manifest.id}; start another backend for another run.`);
    try {
      return launch(await make());
    } catch (e) {
      throw new ResponseError(ErrorCodes.failed, (e as Error).message);
    }
  };

  // The request's fields pass through whole, so a field added to the protocol reaches the trainer.
  connection.onRequest(Requests.start, (p) => begin(() => Trainer.start({ ...p, engineFactory: opts.engineFactory, hooks })));
  connection.onRequest(Requests.resumeFrom, (p) => begin(() => Trainer.resume({ ...p, engineFactory: opts.engineFactory, hooks })));
  connection.onRequest(Requests.pause, () => current().pause());
  connection.onRequest(Requests.resume, () => current().resume());
  connection.onRequest(Requests.checkpoint, async () => {
    try {
      return await current().checkpointNow();
    } catch (e) {
      if (e instanceof ResponseError) throw e;
      throw new ResponseError(ErrorCodes.failed, `Checkpoint failed: ${(e as Error).message}`);
    }
  });
  connection.onRequest(Requests.stop, async () => {
    const status = trainer ? await trainer.stop().catch(() => trainer!.status()) : idle();
    exitSoon(0);
    return status;
  });
  connection.onRequest(Requests.status, () => trainer?.status() ?? idle());

  const shutdown = async (reason: string): Promise<void> => {
    if (exiting) return;
    if (trainer) {
      hooks.onLog?.('info', `${reason}: stopping the run with a checkpoint`);
      await trainer.stop().catch(() => undefined);
    }
    exitSoon(0);
  };
  return { shutdown };
}
