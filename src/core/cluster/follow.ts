/**
 * Follows a job's log over Ray's WebSocket tail (/api/jobs/{id}/logs/tail), with the Authorization header
 * (the npm `ws` client can send headers; a browser-style WebSocket cannot).
 *
 * Ray's tail sends the log from its first byte on every connection, in text frames, and closes when the log
 * ends. A close says nothing about why (a worker node lost, a proxy timeout and a finished job look the same:
 * Ray issue #60665), so every close is followed by a status check: a terminal job ends the follow; a job still
 * PENDING or RUNNING is re-tailed after a pause, and the part already shown is skipped.
 */
import WebSocket from 'ws';
import { ClusterError } from './errors';
import { isTerminal, sleep, type JobDetails, type RayJobsClient } from './client';

export interface FollowOptions {
  /** Each new piece of the log, in order, never twice. */
  onText: (text: string) => void;
  /** A line about the connection (reconnecting, status after a close), for the output channel. */
  onNotice?: (text: string) => void;
  signal?: AbortSignal;
  /** Re-tails allowed in a row without new text before giving up (a successful one resets the count). */
  maxReconnects?: number;
  firstDelayMs?: number;
  maxDelayMs?: number;
}

export interface FollowResult {
  /** The job's status after the last close (undefined when the follow was cancelled). */
  final: JobDetails | undefined;
  /** Characters of log shown. */
  shown: number;
  reconnects: number;
}

/** One WebSocket session: resolves when the server closes it; rejects when it cannot open. */
function tailOnce(client: RayJobsClient, id: string, onData: (text: string) => void, signal?: AbortSignal): Promise<{ code: number }> {
  return new Promise((resolve, reject) => {
    // No permessage-deflate: Ray 2.60's dashboard (aiohttp) then closes the tail without sending a line.
    const ws = new WebSocket(client.tailUrl(id), { headers: client.headers(), handshakeTimeout: 15_000, maxPayload: 64 * 1024 * 1024, perMessageDeflate: false });
    let opened = false;
    const onAbort = () => ws.terminate();
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    ws.on('open', () => (opened = true));
    ws.on('message', (data, isBinary) => {
      if (!isBinary) onData(data.toString());
    });
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      ws.terminate();
      done();
      if (status === 401) reject(new ClusterError('auth', `The Ray cluster at ${client.address} requires a token (401) for the log tail: set the cluster token.`, status));
      else if (status === 403) reject(new ClusterError('auth', `The Ray cluster at ${client.address} refused the token (403) for the log tail: set the cluster token again.`, status));
      else if (status === 404) reject(new ClusterError('not-found', `The Ray cluster at ${client.address} has no log tail for job "${id}" (404).`, status));
      else reject(new ClusterError('tail', `The Ray cluster at ${client.address} refused the log tail of "${id}" (${status}).`, status));
    });
    ws.on('error', (e) => {
      done();
      if (!opened) reject(new ClusterError('unreachable', `Cannot open the log tail of "${id}" at ${client.address} (${client.redact((e as NodeJS.ErrnoException).code ?? e.message)}).`));
    });
    ws.on('close', (code) => {
      done();
      if (opened) resolve({ code });
    });
  });
}

/**
 * Shows the job's log as it grows until the job ends (or `signal` aborts). Resolves with the final status;
 * rejects with a ClusterError when the cluster cannot be reached or refuses the token.
 */
export async function followLogs(client: RayJobsClient, id: string, options: FollowOptions): Promise<FollowResult> {
  const { onText, onNotice = () => {}, signal, maxReconnects = 8, firstDelayMs = 500, maxDelayMs = 10_000 } = options;
  let shown = 0;
  let reconnects = 0;
  let failedInARow = 0;
  for (;;) {
    if (signal?.aborted) return { final: undefined, shown, reconnects };
    // Each session starts at byte 0 of the log: skip what is already shown.
    let seen = 0;
    const onData = (text: string) => {
      const fresh = text.slice(Math.max(0, shown - seen));
      seen += text.length;
      if (fresh) {
        shown += fresh.length;
        failedInARow = 0;
        onText(fresh);
      }
    };
    let closeCode: number | undefined;
    try {
      closeCode = (await tailOnce(client, id, onData, signal)).code;
    } catch (e) {
      if (signal?.aborted) return { final: undefined, shown, reconnects };
      if (e instanceof ClusterError && (e.kind === 'auth' || e.kind === 'not-found')) throw e;
      if (++failedInARow > maxReconnects) throw e;
      onNotice(`log tail of ${id}: ${(e as Error).message} Retrying…`);
    }
    if (signal?.aborted) return { final: undefined, shown, reconnects };
    // Why did it close? Only the job's status says.
    const details = await client.status(id);
    if (isTerminal(details.status)) {
      // The tail can close before the last lines were sent (Ray PR #44709): fetch the rest in one piece.
      const full = await client.logs(id).catch(() => undefined);
      if (full !== undefined && full.length > shown) {
        onText(full.slice(shown));
        shown = full.length;
      }
      return { final: details, shown, reconnects };
    }
    if (closeCode !== undefined) {
      if (++failedInARow > maxReconnects) {
        throw new ClusterError('tail', `The log tail of "${id}" at ${client.address} kept closing while the job is ${details.status} (last close code ${closeCode}); follow it again later.`);
      }
      onNotice(`log tail of ${id} closed (code ${closeCode}) while the job is ${details.status}; reconnecting…`);
    }
    reconnects++;
    await sleep(Math.min(maxDelayMs, firstDelayMs * 2 ** Math.max(0, failedInARow - 1)), signal);
  }
}
