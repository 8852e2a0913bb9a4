/**
 * A client of Ray's Jobs REST API (served by the Ray dashboard, default port 8265): version, submit, list,
 * status, logs, stop, delete, and the runtime_env package uploads (./packages.ts). The WebSocket log tail is in
 * ./follow.ts. No Python needed here.
 *
 * Requests go through node:http(s), not fetch: Node's fetch always sends `Sec-Fetch-Mode: cors`, and the
 * dashboard refuses POSTs that look like a browser's ("'POST' method not allowed for browser traffic",
 * ray/dashboard/optional_utils.py is_browser_request), a guard against cross-site requests.
 *
 * The token (Ray's token authentication, RAY_AUTH_MODE=token) travels only in the Authorization header and is
 * scrubbed from every error text. Routes and shapes: Ray's dashboard/modules/job/job_head.py; POST /api/jobs/
 * needs its trailing slash.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { ClusterError, redact } from './errors';

export type JobStatus = 'PENDING' | 'RUNNING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED';
export const TERMINAL_STATUSES: readonly JobStatus[] = ['STOPPED', 'SUCCEEDED', 'FAILED'];
export const isTerminal = (s: JobStatus): boolean => TERMINAL_STATUSES.includes(s);

/** Ray's JobDetails (the fields we use; Ray sends more). */
export interface JobDetails {
  type: 'SUBMISSION' | 'DRIVER' | string;
  job_id: string | null;
  submission_id: string | null;
  status: JobStatus;
  entrypoint: string;
  message: string | null;
  error_type?: string | null;
  /** Milliseconds since the epoch. */
  start_time?: number | null;
  end_time?: number | null;
  /** String to string only (Ray refuses other values). */
  metadata?: Record<string, string> | null;
  runtime_env?: Record<string, unknown> | null;
  driver_exit_code?: number | null;
}

export interface SubmitRequest {
  entrypoint: string;
  submission_id?: string;
  runtime_env?: Record<string, unknown>;
  metadata?: Record<string, string>;
  entrypoint_num_cpus?: number;
  entrypoint_num_gpus?: number;
  entrypoint_memory?: number;
  entrypoint_resources?: Record<string, number>;
}

export interface VersionInfo {
  version: string;
  ray_version: string;
  ray_commit?: string;
  session_name?: string;
}

export interface RetryPolicy {
  /** How many times a "No available agent" answer is retried before giving up. */
  attempts: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

export interface ClientOptions {
  /** The dashboard URL (http://host:8265); "host:port" is taken as http. */
  address: string;
  token?: string;
  /** Per request, except submit (a dropped submit can leave a job PENDING forever: Ray issue #62766). */
  timeoutMs?: number;
  submitTimeoutMs?: number;
  noAgentRetry?: RetryPolicy;
  /** Tests shorten the waits. */
  sleep?: (ms: number) => Promise<void>;
  /** Told before each wait on "No available agent" (the CLI says so on stderr). */
  onRetry?: (text: string) => void;
}

export const DEFAULT_NO_AGENT_RETRY: RetryPolicy = { attempts: 8, firstDelayMs: 500, maxDelayMs: 8000 };

/** Waits `ms`, or less when `signal` aborts meanwhile. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Checks and normalises a dashboard address: http(s) only, no credentials, query or fragment in it (a token
 * belongs in SecretStorage or RAY_AUTH_TOKEN, never in a URL that ends up in settings and logs).
 */
export function normalizeAddress(address: string): string {
  const raw = address.trim();
  if (!raw) throw new ClusterError('unreachable', 'No cluster address given (expected the Ray dashboard URL, e.g. http://head-node:8265).');
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ClusterError('unreachable', `"${raw}" is not a URL (expected the Ray dashboard URL, e.g. http://head-node:8265).`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ClusterError('unreachable', `The cluster address must be http:// or https:// (the Ray dashboard), not ${url.protocol}//.`);
  }
  if (url.username || url.password) {
    throw new ClusterError('auth', 'The cluster address must not carry credentials; set the cluster token instead (it is kept in the secret store).');
  }
  if (url.search || url.hash) throw new ClusterError('unreachable', 'The cluster address must not carry a query or fragment: give the dashboard URL only.');
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/** Why a request failed without an answer, in words. */
function networkReason(e: unknown): string {
  const err = e as { message?: string; code?: string };
  const code = err?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown host';
    case 'ECONNRESET':
      return 'connection reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ETIMEDOUT':
      return 'no answer in time';
  }
  return code ?? err?.message ?? String(e);
}

/** One HTTP exchange: the status and the body as text. Rejects only when no answer came. */
function exchange(url: string, method: string, headers: Record<string, string>, body: string | Uint8Array | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? https.request : http.request;
    const length = body === undefined ? undefined : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    const req = get(url, { method, headers: length === undefined ? headers : { ...headers, 'Content-Length': String(length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

/** `/api/packages/<protocol>/<name>` for a package URI (Ray's uri_to_http_components). */
function packagePath(uri: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/]+)$/i.exec(uri);
  if (!m) throw new ClusterError('bad-request', `not a package URI: ${uri} (expected gcs://<name>)`);
  return `/api/packages/${encodeURIComponent(m[1].toLowerCase())}/${encodeURIComponent(m[2])}`;
}

export class RayJobsClient {
  readonly address: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly submitTimeoutMs: number;
  private readonly noAgentRetry: RetryPolicy;
  private readonly wait: (ms: number) => Promise<void>;
  private readonly onRetry: (text: string) => void;

  constructor(options: ClientOptions) {
    this.address = normalizeAddress(options.address);
    this.token = options.token || undefined;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.submitTimeoutMs = options.submitTimeoutMs ?? 300_000;
    this.noAgentRetry = options.noAgentRetry ?? DEFAULT_NO_AGENT_RETRY;
    this.wait = options.sleep ?? ((ms) => sleep(ms));
    this.onRetry = options.onRetry ?? (() => {});
  }

  /** Headers for a request (the WebSocket tail uses the same). */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  /** Scrubs the token out of a text that may have echoed a request. */
  redact(text: string): string {
    return redact(text, this.token);
  }

  version(): Promise<VersionInfo> {
    return this.request<VersionInfo>('GET', '/api/version');
  }

  /**
   * Submits a job. While the head is starting, Ray answers 500 "No available agent"; that answer is retried
   * with doubling waits (bounded by noAgentRetry), then reported.
   */
  async submit(req: SubmitRequest): Promise<{ submission_id: string; job_id: string | null }> {
    const { attempts, firstDelayMs, maxDelayMs } = this.noAgentRetry;
    let waited = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request('POST', '/api/jobs/', req, this.submitTimeoutMs);
      } catch (e) {
        if (!(e instanceof ClusterError) || e.kind !== 'no-agent') throw e;
        if (attempt + 1 >= attempts) {
          throw new ClusterError('no-agent', `The Ray cluster at ${this.address} still has no job agent ("No available agent") after ${attempts} tries over ${Math.round(waited / 1000)} s: the head node is starting or its dashboard agent failed. Try again shortly; if it persists, check the head's dashboard_agent.log.`, e.status);
        }
        const delay = Math.min(maxDelayMs, firstDelayMs * 2 ** attempt);
        waited += delay;
        this.onRetry(`The Ray cluster at ${this.address} has no job agent yet (the head is starting); retrying in ${(delay / 1000).toFixed(1)} s…`);
        await this.wait(delay);
      }
    }
  }

  /** Every job the cluster knows (submitted jobs and plain drivers). */
  async list(): Promise<JobDetails[]> {
    const body = await this.request<JobDetails[] | Record<string, JobDetails>>('GET', '/api/jobs/');
    // Ray ≥ 2.x answers an array; older docs show an object keyed by id.
    return Array.isArray(body) ? body : Object.values(body);
  }

  status(id: string): Promise<JobDetails> {
    return this.request('GET', `/api/jobs/${encodeURIComponent(id)}`, undefined, undefined, id);
  }

  async logs(id: string): Promise<string> {
    const body = await this.request<{ logs: string }>('GET', `/api/jobs/${encodeURIComponent(id)}/logs`, undefined, undefined, id);
    return body.logs ?? '';
  }

  /** Ray's stop: SIGTERM to the entrypoint's process tree, SIGKILL after RAY_JOB_STOP_WAIT_TIME_S. */
  async stop(id: string): Promise<boolean> {
    const body = await this.request<{ stopped: boolean }>('POST', `/api/jobs/${encodeURIComponent(id)}/stop`, undefined, undefined, id);
    return !!body.stopped;
  }

  /** Removes a terminal job's record and logs from the cluster. */
  async delete(id: string): Promise<boolean> {
    const body = await this.request<{ deleted: boolean }>('DELETE', `/api/jobs/${encodeURIComponent(id)}`, undefined, undefined, id);
    return !!body.deleted;
  }

  /** Whether the cluster holds the runtime_env package `uri` (gcs://…), as `ray job submit` asks before uploading. */
  async packageExists(uri: string): Promise<boolean> {
    const path = packagePath(uri);
    const res = await this.send('GET', path, undefined, undefined, this.timeoutMs);
    if (res.status === 200) return true;
    if (res.status === 404 && /does not exist/i.test(res.text)) return false;
    throw this.httpError(res.status, 'GET', path, this.redact(res.text.trim()).slice(0, 2000));
  }

  /** Uploads a runtime_env package (a zip, or a wheel) under `uri`; it stays in the cluster's GCS. */
  async uploadPackage(uri: string, zip: Uint8Array): Promise<void> {
    const path = packagePath(uri);
    const res = await this.send('PUT', path, zip, 'application/octet-stream', this.submitTimeoutMs);
    if (res.status !== 200) throw this.httpError(res.status, 'PUT', path, this.redact(res.text.trim()).slice(0, 2000));
  }

  /** ws(s)://…/api/jobs/{id}/logs/tail */
  tailUrl(id: string): string {
    return `${this.address.replace(/^http/, 'ws')}/api/jobs/${encodeURIComponent(id)}/logs/tail`;
  }

  /** One exchange with the dashboard; only "no answer" throws (as 'unreachable'). */
  private async send(method: string, path: string, body: string | Uint8Array | undefined, contentType: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
    try {
      return await exchange(this.address + path, method, this.headers(contentType ? { 'Content-Type': contentType } : {}), body, timeoutMs);
    } catch (e) {
      throw new ClusterError(
        'unreachable',
        `Cannot reach the Ray cluster at ${this.address} (${this.redact(networkReason(e))}). Is the head node running, and is this its dashboard address (default port 8265)?`,
      );
    }
  }

  private async request<T>(method: string, path: string, body?: unknown, timeoutMs = this.timeoutMs, jobId?: string): Promise<T> {
    const json = body === undefined ? undefined : JSON.stringify(body);
    const res = await this.send(method, path, json, json === undefined ? undefined : 'application/json', timeoutMs);
    const text = res.text;
    if (res.status >= 200 && res.status < 300) {
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new ClusterError('unreachable', `${this.address} answered ${method} ${path} with something that is not JSON: is this a Ray dashboard?`, res.status);
      }
    }
    throw this.httpError(res.status, method, path, this.redact(text.trim()).slice(0, 2000), jobId);
  }

  private httpError(status: number, method: string, path: string, text: string, jobId?: string): ClusterError {
    if (status === 401) {
      return new ClusterError('auth', `The Ray cluster at ${this.address} requires a token (401)${this.token ? '' : ' and none is set'}: set the cluster token (PRPO Studio: Set Cluster Token…; the CLI reads RAY_AUTH_TOKEN or --token-file).`, status);
    }
    if (status === 403) {
      return new ClusterError('auth', `The Ray cluster at ${this.address} refused the token (403): it is wrong or expired. Set the cluster token again (\`ray get-auth-token\` on the head node prints it).`, status);
    }
    if (status === 500 && /no available agent/i.test(text)) {
      return new ClusterError('no-agent', `The Ray cluster at ${this.address} has no job agent yet ("No available agent"): the head node is still starting. Try again in a few seconds.`, status);
    }
    if (status === 404) {
      if (jobId !== undefined) return new ClusterError('not-found', `The Ray cluster at ${this.address} has no job "${jobId}".`, status);
      return new ClusterError('unreachable', `${this.address} has no ${path} (404): is this the Ray dashboard address, with the "ray[default]" dashboard running?`, status);
    }
    if (status === 400) return new ClusterError('bad-request', `The Ray cluster at ${this.address} refused ${method} ${path} (400): ${text || 'no reason given'}`, status);
    return new ClusterError('server', `The Ray cluster at ${this.address} answered ${method} ${path} with ${status}: ${text || 'no details'}`, status);
  }
}
