// A real local Ray head for tests: `ray start --head` from .toolchain/python on 127.0.0.1 with free ports, in a
// private temp folder (RAY_TMPDIR and --temp-dir), always stopped afterwards — even when a test fails or the
// process exits early. Only the processes this head started are stopped: they are found by the private temp
// folder in their environment (`ray stop` without an address would stop every Ray on the machine).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..', '..');
export const VENV = join(ROOT, '.toolchain', 'python');
export const PYTHON = join(VENV, 'bin', 'python');
const RAY = join(VENV, 'bin', 'ray');

/** Why a real head cannot start here, or undefined when it can. Tests fail with this reason (never skip). */
export function rayMissing(): string | undefined {
  if (!existsSync(RAY)) return `Ray is not installed: ${RAY} is missing (the project's set-up installs "ray[default]" 2.60 into .toolchain/python)`;
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolvePort(port));
    });
  });
}

export interface RayHeadOptions {
  /** Turns on Ray's token authentication (RAY_AUTH_MODE=token) with this token. */
  token?: string;
  /** More environment for the head (and so for every job's entrypoint). */
  env?: Record<string, string>;
  /** A dashboard port chosen beforehand (a free one by default). */
  dashboardPort?: number;
  log?: (text: string) => void;
}

export interface RayHead {
  address: string;
  dashboardPort: number;
  /** The private folder (Ray's temp dir): its path marks every process of this head. */
  tmp: string;
  /** The environment the head runs with (PATH starts with the venv's bin: `python` in an entrypoint is the venv's). */
  env: NodeJS.ProcessEnv;
  /** SIGTERM, a grace period, SIGKILL; then the temp folder goes. */
  stop(): Promise<void>;
  /** At once and synchronously (for exit paths): SIGKILL, and the temp folder goes. */
  kill(): void;
}

/** Pids whose environment holds RAY_TMPDIR=`tmp`: this head's processes and everything they started. */
export function processesOf(tmp: string): number[] {
  const marker = `RAY_TMPDIR=${tmp}\0`;
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/environ`, 'latin1').includes(marker)) pids.push(Number(d));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

function signalAll(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

async function waitForVersion(address: string, token: string | undefined, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  let last = '';
  while (Date.now() - t0 < timeoutMs) {
    try {
      const res = await fetch(`${address}/api/version`, { headers: token ? { Authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(3000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the Ray dashboard at ${address} did not answer /api/version within ${timeoutMs / 1000} s (last: ${last})`);
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export async function startRayHead(options: RayHeadOptions = {}): Promise<RayHead> {
  const missing = rayMissing();
  if (missing) throw new Error(missing);
  const log = options.log ?? (() => {});
  // Short: Ray's socket paths live under it (108-character limit).
  const tmp = mkdtempSync('/tmp/ray-');
  const ports = await Promise.all(Array.from({ length: 9 }, freePort));
  if (options.dashboardPort) ports[1] = options.dashboardPort;
  const [gcs, dashboard, nodeManager, objectManager, agentListen, agentGrpc, runtimeEnvAgent, metrics, client] = ports;
  // 100 worker ports that hold none of the ports above (Ray refuses to start when two of its components share one).
  let workerLo: number;
  do workerLo = 20_000 + Math.floor(Math.random() * 400) * 100;
  while (ports.some((p) => p >= workerLo && p < workerLo + 100));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${join(VENV, 'bin')}:${process.env.PATH}`,
    VIRTUAL_ENV: VENV,
    RAY_TMPDIR: tmp,
    RAY_USAGE_STATS_ENABLED: '0',
    // This branch's prpo_studio, ahead of any installed copy.
    PYTHONPATH: [join(ROOT, 'python', 'src'), process.env.PYTHONPATH].filter(Boolean).join(':'),
    ...(options.token ? { RAY_AUTH_MODE: 'token', RAY_AUTH_TOKEN: options.token } : { RAY_AUTH_MODE: 'disabled' }),
    ...options.env,
  };
  delete env.RAY_ADDRESS;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', onExit);
    for (const sig of SIGNALS) process.off(sig, onSignal);
    signalAll(processesOf(tmp), 'SIGTERM');
    for (let i = 0; i < 40 && processesOf(tmp).length; i++) await new Promise((r) => setTimeout(r, 250));
    const left = processesOf(tmp);
    if (left.length) log(`ray head ${tmp}: SIGKILL to ${left.length} process(es) left`);
    signalAll(left, 'SIGKILL');
    if (process.env.PRPO_KEEP_RAY_TMP) log(`ray head ${tmp}: kept`);
    else rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  };
  const onExit = () => {
    signalAll(processesOf(tmp), 'SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  };
  // A test run stopped by a signal (a stage's time limit, Ctrl-C) takes the head down too, then dies of it.
  const onSignal = (sig: NodeJS.Signals) => {
    onExit();
    for (const s of SIGNALS) process.off(s, onSignal);
    process.kill(process.pid, sig);
  };
  process.on('exit', onExit);
  for (const sig of SIGNALS) process.once(sig, onSignal);
  try {
    const args = [
      'start', '--head',
      '--node-ip-address', '127.0.0.1',
      '--port', String(gcs),
      '--dashboard-host', '127.0.0.1',
      '--dashboard-port', String(dashboard),
      '--include-dashboard', 'true',
      '--disable-usage-stats',
      '--temp-dir', tmp,
      '--node-manager-port', String(nodeManager),
      '--object-manager-port', String(objectManager),
      '--dashboard-agent-listen-port', String(agentListen),
      '--dashboard-agent-grpc-port', String(agentGrpc),
      '--runtime-env-agent-port', String(runtimeEnvAgent),
      '--metrics-export-port', String(metrics),
      '--ray-client-server-port', String(client),
      '--min-worker-port', String(workerLo),
      '--max-worker-port', String(workerLo + 99),
      '--num-cpus', '2',
      '--object-store-memory', String(100 * 1024 * 1024),
    ];
    const t0 = Date.now();
    const runStart = () =>
      new Promise<{ code: number | null; out: string }>((resolveStart) => {
        const child = spawn(RAY, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolveStart({ code, out });
        });
      });
    let r = await runStart();
    // `ray start` gives the raylet a fixed 30 s to register with the GCS (ray/_private/node.py); on a loaded
    // machine that can pass. Again from a clean slate, at most twice more.
    for (let retry = 1; retry <= 2 && r.code !== 0 && /timed out during startup/.test(r.out); retry++) {
      log(`ray start timed out during startup; retry ${retry} of 2`);
      signalAll(processesOf(tmp), 'SIGKILL');
      await new Promise((res) => setTimeout(res, 5000));
      for (const e of readdirSync(tmp)) rmSync(join(tmp, e), { recursive: true, force: true });
      r = await runStart();
    }
    if (r.code !== 0) throw new Error(`ray start --head failed (exit ${r.code}):\n${r.out.slice(-3000)}`);
    const address = `http://127.0.0.1:${dashboard}`;
    await waitForVersion(address, options.token, 120_000);
    log(`ray head up at ${address} in ${((Date.now() - t0) / 1000).toFixed(1)} s (temp ${tmp})`);
    return { address, dashboardPort: dashboard, tmp, env, stop, kill: onExit };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** `ray --version` of the venv, for messages. */
export function rayVersion(): string {
  const r = spawnSync(RAY, ['--version'], { encoding: 'utf8' });
  return (r.stdout || r.stderr).trim();
}
