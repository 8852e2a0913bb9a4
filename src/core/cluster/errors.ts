/**
 * What can go wrong talking to a Ray cluster, each as one message that says what happened and what to do.
 * A message never carries the cluster token: every text that came from the network passes through redact().
 */

export type ClusterErrorKind =
  /** No answer at the address (refused, unknown host, timed out, not a Ray dashboard). */
  | 'unreachable'
  /** 401 (no token sent) or 403 (token refused). */
  | 'auth'
  /** 500 "No available agent to submit job": the head is still starting. */
  | 'no-agent'
  | 'not-found'
  /** 400: Ray refused the request (bad runtime_env, metadata…); the server's text follows. */
  | 'bad-request'
  | 'server'
  /** The job stayed PENDING past the timeout. */
  | 'pending-timeout'
  /** The job ended FAILED before its trainer started (its last log lines are in the message). */
  | 'failed-at-start'
  /** The WebSocket log tail kept dropping and could not be re-opened. */
  | 'tail'
  /** The caller stopped waiting (the job itself goes on). */
  | 'cancelled';

export class ClusterError extends Error {
  constructor(
    readonly kind: ClusterErrorKind,
    message: string,
    /** The HTTP status, when the server answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ClusterError';
  }
}

/** Replaces every occurrence of the token (and of its first 12 characters, in case it was cut) with "***". */
export function redact(text: string, token: string | undefined): string {
  if (!token) return text;
  let out = text.split(token).join('***');
  if (token.length >= 16) out = out.split(token.slice(0, 12)).join('***');
  return out;
}

/** The last `n` non-empty lines of a log, for "failed at start" messages. */
export function lastLines(log: string, n: number): string[] {
  return log
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .slice(-n);
}
