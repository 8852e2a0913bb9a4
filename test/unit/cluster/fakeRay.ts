// A stand-in for Ray's Jobs API (HTTP + the WebSocket log tail) for the client's edge cases that a real head
// cannot be made to show on demand: a tail that drops mid-job, "No available agent" for N requests, a job
// that never leaves PENDING. The real head is tested in ray.test.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { JobDetails } from '../../../src/core/cluster';

export interface FakeJob {
  details: JobDetails;
  log: string;
}

export class FakeRay {
  readonly jobs = new Map<string, FakeJob>();
  /** Answer 500 "No available agent" to this many submits first. */
  noAgentFor = 0;
  /** Require this bearer token (401 without, 403 wrong). */
  token: string | undefined;
  /** Each tail connection: send these chunks of the current log, then close (or stay open when false). */
  tailPlan: (job: FakeJob, connection: number) => { chunks: string[]; close: boolean } = (job) => ({ chunks: [job.log], close: true });
  readonly requests: Array<{ method: string; url: string; auth?: string; body?: unknown }> = [];
  /** runtime_env packages by URI (gcs://name), as uploaded. */
  readonly packages = new Map<string, Buffer>();
  tailConnections = 0;
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Set<WebSocket>();

  private constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('upgrade', (req, socket, head) => {
      const auth = this.authStatus(req);
      if (auth) {
        socket.end(`HTTP/1.1 ${auth} Unauthorized\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      const m = /^\/api\/jobs\/([^/]+)\/logs\/tail$/.exec(req.url ?? '');
      const job = m && this.jobs.get(decodeURIComponent(m[1]));
      if (!job) {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.sockets.add(ws);
        ws.on('close', () => this.sockets.delete(ws));
        const plan = this.tailPlan(job, this.tailConnections++);
        for (const c of plan.chunks) ws.send(c);
        if (plan.close) ws.close(1000);
      });
    });
  }

  static async start(): Promise<FakeRay> {
    const fake = new FakeRay();
    await new Promise<void>((r) => fake.server.listen(0, '127.0.0.1', r));
    return fake;
  }

  get address(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  addJob(id: string, status: JobDetails['status'], log = '', extra: Partial<JobDetails> = {}): FakeJob {
    const job = { details: { type: 'SUBMISSION', job_id: null, submission_id: id, status, entrypoint: 'x', message: null, ...extra }, log };
    this.jobs.set(id, job);
    return job;
  }

  private authStatus(req: IncomingMessage): number | undefined {
    if (!this.token) return undefined;
    const h = req.headers.authorization;
    if (!h) return 401;
    return h === `Bearer ${this.token}` ? undefined : 403;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    const isJson = /json/.test(req.headers['content-type'] ?? '');
    const body = isJson && bytes.length ? JSON.parse(bytes.toString('utf8')) : undefined;
    this.requests.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { 'Content-Type': typeof value === 'string' ? 'text/plain' : 'application/json' });
      res.end(typeof value === 'string' ? value : JSON.stringify(value));
    };
    const auth = this.authStatus(req);
    if (auth) return send(auth, auth === 401 ? 'Unauthorized' : 'Forbidden');
    // Ray's guard against cross-site requests (dashboard/optional_utils.py is_browser_request).
    const browserLike = /^Mozilla/.test(req.headers['user-agent'] ?? '') || ['origin', 'referer', 'sec-fetch-mode', 'sec-fetch-site'].some((h) => h in req.headers);
    if (req.method !== 'GET' && browserLike) return send(405, `'${req.method}' method not allowed for browser traffic.`);
    const url = req.url ?? '';
    if (url === '/api/version') return send(200, { version: '4', ray_version: '2.60.0' });
    const pkg = /^\/api\/packages\/([^/]+)\/([^/]+)$/.exec(url);
    if (pkg) {
      const uri = `${decodeURIComponent(pkg[1])}://${decodeURIComponent(pkg[2])}`;
      if (req.method === 'PUT') {
        this.packages.set(uri, bytes);
        return send(200, '');
      }
      return this.packages.has(uri) ? send(200, '') : send(404, `Package ${uri} does not exist`);
    }
    if (url === '/api/jobs/' && req.method === 'POST') {
      if (this.noAgentFor > 0) {
        this.noAgentFor--;
        return send(500, 'No available agent to submit job, please try again later.');
      }
      if (body.runtime_env?.bad) return send(400, 'runtime_env field "bad" is not recognised');
      const id = body.submission_id ?? `raysubmit_${this.jobs.size}`;
      this.addJob(id, 'PENDING', '', { entrypoint: body.entrypoint, metadata: body.metadata, runtime_env: body.runtime_env });
      return send(200, { job_id: null, submission_id: id });
    }
    if (url === '/api/jobs/' && req.method === 'GET') return send(200, [...this.jobs.values()].map((j) => j.details));
    const m = /^\/api\/jobs\/([^/]+)(\/logs|\/stop)?$/.exec(url);
    const job = m && this.jobs.get(decodeURIComponent(m[1]));
    if (!m || !job) return send(404, `Job ${m?.[1]} does not exist`);
    if (m[2] === '/logs') return send(200, { logs: job.log });
    if (m[2] === '/stop') {
      const stopped = job.details.status === 'RUNNING' || job.details.status === 'PENDING';
      if (stopped) job.details.status = 'STOPPED';
      return send(200, { stopped });
    }
    return send(200, job.details);
  }

  /** Drops every open tail connection without a close frame (a lost connection). */
  dropTails(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  async close(): Promise<void> {
    this.dropTails();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
