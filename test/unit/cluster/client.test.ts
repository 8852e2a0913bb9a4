// The Ray Jobs client against a stand-in server (fakeRay.ts) for the cases a real head cannot be made to
// show on demand: tails that drop mid-job, a head with no agent for N requests, jobs stuck PENDING.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ClusterError,
  RayJobsClient,
  followLogs,
  normalizeAddress,
  redact,
  runDirOf,
  shellQuote,
  splitRunConfig,
  submitRequestFor,
  waitForStart,
} from '../../../src/core/cluster';
import { FakeRay } from './fakeRay';

const fast = { sleep: async () => {} };
const servers: FakeRay[] = [];
after(async () => Promise.all(servers.map((s) => s.close())));
async function fake(): Promise<FakeRay> {
  const f = await FakeRay.start();
  servers.push(f);
  return f;
}

async function rejects(p: Promise<unknown>, kind: string, pattern: RegExp): Promise<ClusterError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ClusterError, `expected a ClusterError, got ${(e as Error)?.stack ?? e}`);
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, pattern);
    return e;
  }
  assert.fail(`expected a ${kind} error`);
}

test('addresses: host:port becomes http, trailing slashes go, credentials and other schemes are refused', () => {
  assert.equal(normalizeAddress('127.0.0.1:8265'), 'http://127.0.0.1:8265');
  assert.equal(normalizeAddress(' https://ray.example.org/dash/ '), 'https://ray.example.org/dash');
  assert.throws(() => normalizeAddress('http://user:secret@head:8265'), /must not carry credentials/);
  assert.throws(() => normalizeAddress('http://head:8265/?token=abc'), /query or fragment/);
  assert.throws(() => normalizeAddress('ray://head:10001'), /http:\/\/ or https:\/\//);
  assert.throws(() => normalizeAddress(''), /No cluster address/);
});

test('a port nobody listens on: "unreachable", naming the address and the reason', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const client = new RayJobsClient({ address: `127.0.0.1:${port}` });
  await rejects(client.version(), 'unreachable', new RegExp(`Cannot reach the Ray cluster at http://127\\.0\\.0\\.1:${port} \\(connection refused\\)`));
  await rejects(followLogs(client, 'x', { onText: () => {}, maxReconnects: 0 }), 'unreachable', /Cannot open the log tail/);
});

test('401 without a token and 403 with a wrong one, over HTTP and the WebSocket tail; the token never in a message', async () => {
  const ray = await fake();
  ray.token = 'right-token-0123456789abcdef';
  ray.addJob('j1', 'RUNNING', 'hello\n');
  const secret = 'wrong-token-SECRET-0123456789';
  const none = new RayJobsClient({ address: ray.address });
  const wrong = new RayJobsClient({ address: ray.address, token: secret });
  const e1 = await rejects(none.list(), 'auth', /requires a token \(401\) and none is set: set the cluster token/);
  assert.equal(e1.status, 401);
  const e2 = await rejects(wrong.status('j1'), 'auth', /refused the token \(403\)/);
  const e3 = await rejects(followLogs(wrong, 'j1', { onText: () => {} }), 'auth', /refused the token \(403\) for the log tail/);
  for (const e of [e1, e2, e3]) assert.ok(!e.message.includes(secret) && !e.message.includes(secret.slice(0, 12)));
  const right = new RayJobsClient({ address: ray.address, token: ray.token });
  assert.equal((await right.status('j1')).status, 'RUNNING');
  assert.ok(ray.requests.filter((r) => r.auth === `Bearer ${ray.token}`).length >= 1);
});

test('redact removes the token and its prefix from any text', () => {
  const t = 'abcdefghijklmnopqrstuvwxyz012345';
  assert.equal(redact(`x ${t} y ${t.slice(0, 12)}…`, t), 'x *** y ***…');
  assert.equal(redact('nothing', undefined), 'nothing');
});

test('"No available agent" while the head starts is retried with growing waits, then reported', async () => {
  const ray = await fake();
  const waits: number[] = [];
  const told: string[] = [];
  const client = new RayJobsClient({ address: ray.address, sleep: async (ms) => void waits.push(ms), noAgentRetry: { attempts: 6, firstDelayMs: 100, maxDelayMs: 1000 }, onRetry: (t) => told.push(t) });
  ray.noAgentFor = 4;
  const { submission_id } = await client.submit({ entrypoint: 'echo hi', submission_id: 'ok-1' });
  assert.equal(submission_id, 'ok-1');
  assert.deepEqual(waits, [100, 200, 400, 800]);
  assert.equal(told.length, 4);
  assert.match(told[0], /has no job agent yet \(the head is starting\); retrying in 0\.1 s…/);
  ray.noAgentFor = 100;
  waits.length = 0;
  await rejects(client.submit({ entrypoint: 'echo hi' }), 'no-agent', /still has no job agent \("No available agent"\) after 6 tries over 3 s/);
  assert.deepEqual(waits, [100, 200, 400, 800, 1000]);
});

test('an unknown job is "not-found"; a 400 carries Ray\'s reason', async () => {
  const ray = await fake();
  const client = new RayJobsClient({ address: ray.address });
  await rejects(client.status('nope'), 'not-found', /has no job "nope"/);
  await rejects(client.logs('nope'), 'not-found', /has no job "nope"/);
  await rejects(client.submit({ entrypoint: 'x', runtime_env: { bad: 1 } }), 'bad-request', /refused POST \/api\/jobs\/ \(400\): runtime_env field "bad" is not recognised/);
});

test('follow: a tail that closes while the job runs is re-opened, the repeated start of the log skipped, the end fetched', async () => {
  const ray = await fake();
  const job = ray.addJob('j', 'RUNNING', 'line 1\nline 2\n');
  ray.tailPlan = (j, n) => {
    if (n === 0) return { chunks: ['line 1\n', 'line 2\n'], close: true };
    // Second connection: Ray resends from the start; the job has ended, but the tail lost the last line.
    j.log += 'line 3\nline 4\n';
    j.details.status = 'SUCCEEDED';
    return { chunks: ['line 1\nline 2\nline 3\n'], close: true };
  };
  const client = new RayJobsClient({ address: ray.address });
  let text = '';
  const notices: string[] = [];
  const result = await followLogs(client, 'j', { onText: (t) => (text += t), onNotice: (n) => notices.push(n), firstDelayMs: 1 });
  assert.equal(text, 'line 1\nline 2\nline 3\nline 4\n');
  assert.equal(result.final?.status, 'SUCCEEDED');
  assert.equal(result.reconnects, 1);
  assert.equal(ray.tailConnections, 2);
  assert.match(notices[0], /closed \(code 1000\) while the job is RUNNING; reconnecting/);
  assert.equal(job.details.status, 'SUCCEEDED');
});

test('follow: a dropped connection (no close frame) is re-opened too; a job that failed ends the follow with FAILED', async () => {
  const ray = await fake();
  ray.addJob('j', 'RUNNING', 'a\n');
  ray.tailPlan = (j, n) => (n === 0 ? { chunks: ['a\n'], close: false } : ((j.details.status = 'FAILED'), (j.log += 'Traceback: boom\n'), { chunks: [j.log], close: true }));
  const client = new RayJobsClient({ address: ray.address });
  let text = '';
  const following = followLogs(client, 'j', { onText: (t) => (text += t), firstDelayMs: 1 });
  while (ray.tailConnections === 0 || !text) await new Promise((r) => setTimeout(r, 10));
  ray.dropTails();
  const result = await following;
  assert.equal(text, 'a\nTraceback: boom\n');
  assert.equal(result.final?.status, 'FAILED');
});

test('follow: a tail that keeps closing without news gives up with a clear message', async () => {
  const ray = await fake();
  ray.addJob('j', 'RUNNING', '');
  ray.tailPlan = () => ({ chunks: [], close: true });
  const client = new RayJobsClient({ address: ray.address });
  await rejects(followLogs(client, 'j', { onText: () => {}, maxReconnects: 2, firstDelayMs: 1 }), 'tail', /kept closing while the job is RUNNING/);
  assert.equal(ray.tailConnections, 3);
});

test('follow stops when its signal aborts', async () => {
  const ray = await fake();
  ray.addJob('j', 'RUNNING', 'x\n');
  ray.tailPlan = () => ({ chunks: ['x\n'], close: false });
  const controller = new AbortController();
  const client = new RayJobsClient({ address: ray.address });
  const following = followLogs(client, 'j', { onText: () => controller.abort(), signal: controller.signal });
  const result = await following;
  assert.equal(result.final, undefined);
  assert.equal(result.shown, 2);
});

test('waitForStart: PENDING past the timeout, FAILED at start with the last log lines, RUNNING with the run directory', async () => {
  const ray = await fake();
  const client = new RayJobsClient({ address: ray.address });
  ray.addJob('stuck', 'PENDING', '', { message: 'Job has not started yet.' });
  await rejects(waitForStart(client, 'stuck', { pendingTimeoutMs: 50, pollMs: 10 }), 'pending-timeout', /"stuck" is still PENDING after 0 s \(Job has not started yet\.\).*stop it with "jobs stop stuck"/s);

  const log = Array.from({ length: 30 }, (_, i) => `noise ${i}`).join('\n') + '\nModuleNotFoundError: No module named prpo_studio\n';
  ray.addJob('bad', 'FAILED', log, { message: 'Job entrypoint command failed with exit code 1', driver_exit_code: 1, metadata: { prpo_studio: 'train', runs_dir: '/runs' } });
  const e = await rejects(waitForStart(client, 'bad', { pollMs: 10 }), 'failed-at-start', /"bad" failed at start: Job entrypoint command failed with exit code 1 \(exit code 1\)\nLast log lines:\n/);
  assert.match(e.message, /ModuleNotFoundError: No module named prpo_studio$/);
  assert.doesNotMatch(e.message, /noise 9\n/);
  assert.match(e.message, /noise 11\n/);

  const job = ray.addJob('ok', 'PENDING', '', { metadata: { prpo_studio: 'train', runs_dir: '/shared/runs' } });
  setTimeout(() => (job.details.status = 'RUNNING'), 30);
  setTimeout(() => (job.log = 'loading torch\n/shared/runs/prpo-2026-12-02-abc\nstep 1/3\n'), 60);
  const started = await waitForStart(client, 'ok', { pollMs: 10 });
  assert.equal(started.runDir, '/shared/runs/prpo-2026-12-02-abc');
  assert.equal(started.details.status, 'RUNNING');
});

test('runDirOf: a resume names its run; a train job\'s run is the first log line that is a folder of the runs directory', () => {
  const d = (metadata: Record<string, string>) => ({ type: 'SUBMISSION', job_id: null, submission_id: 's', status: 'RUNNING' as const, entrypoint: '', message: null, metadata });
  assert.equal(runDirOf(d({ prpo_studio: 'resume', run_dir: '/r/a' })), '/r/a');
  assert.equal(runDirOf(d({ prpo_studio: 'train', runs_dir: '/r/' }), 'warn: /r/x\n/r/nested/deep\n/r/run-1\n/r/run-2\n'), '/r/run-1');
  assert.equal(runDirOf(d({ prpo_studio: 'train', runs_dir: '/r' }), 'nothing yet'), undefined);
});

test('the entrypoint survives the cluster\'s shell: odd paths and a config with quotes arrive intact', () => {
  const dir = mkdtempSync(join(tmpdir(), "prpo ray 'q' "));
  // A stand-in for the cluster's python: prints its arguments and the config file it is given.
  const py = join(dir, 'fake python');
  writeFileSync(py, `#!/bin/sh\nfor a in "$@"; do printf '<%s>' "$a"; done\necho\nwhile [ $# -gt 0 ]; do if [ "$1" = --config ]; then cat "$2"; fi; shift; done\n`);
  chmodSync(py, 0o755);
  const runsDir = join(dir, 'runs $HOME `x`');
  const config = { groupSize: 4, note: "it's \"quoted\" $HOME `ls` \\ done", runtime_env: { env_vars: { A: 'b' }, pip: ['x'] } };
  const { config: trainer, runtimeEnv } = splitRunConfig(config, 'cfg.json');
  const req = submitRequestFor(
    { kind: 'train', backend: 'pytorch', model: '/m o/d', data: "/d'a", preset: 'prpo', steps: 3, runsDir, config: trainer },
    { python: py, runtimeEnv },
    'prpo-train-test-1',
  );
  const r = spawnSync('/bin/sh', ['-c', req.entrypoint], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [args, written] = r.stdout.split('\n');
  const configFile = join(runsDir, '.cluster', 'prpo-train-test-1.config.json');
  assert.equal(args, `<-m><prpo_studio><train><--model></m o/d><--data></d'a><--preset><prpo><--steps><3><--runs-dir><${runsDir}><--config><${configFile}>`);
  assert.deepEqual(JSON.parse(written), { groupSize: 4, note: config.note });
  assert.deepEqual(JSON.parse(readFileSync(configFile, 'utf8')), trainer);
  assert.deepEqual(req.runtime_env, { env_vars: { PYTHONUNBUFFERED: '1', A: 'b' }, pip: ['x'] });
  assert.deepEqual(req.metadata, { prpo_studio: 'train', runs_dir: runsDir, preset: 'prpo', steps: '3', model: '/m o/d', backend: 'pytorch' });
  assert.equal(shellQuote('plain/path-1.2'), 'plain/path-1.2');
});

test('a resume job runs `prpo_studio resume RUN_DIR --steps N` and names its run in the metadata', () => {
  const req = submitRequestFor({ kind: 'resume', runDir: '/runs/a b', steps: 8, checkpoint: '/runs/a b/checkpoints/step-000004' });
  assert.equal(req.entrypoint, "exec python -m prpo_studio resume '/runs/a b' --steps 8 --checkpoint '/runs/a b/checkpoints/step-000004'");
  assert.deepEqual(req.metadata, { prpo_studio: 'resume', run_dir: '/runs/a b', steps: '8' });
  assert.match(req.submission_id!, /^prpo-resume-\d{8}-\d{6}-[0-9a-f]{6}$/);
  assert.throws(() => submitRequestFor({ kind: 'resume', runDir: 'relative', steps: 2 }), /absolute path/);
  assert.throws(() => submitRequestFor({ kind: 'resume', runDir: '/r', steps: 0 }), /steps: expected an integer ≥ 1/);
});

test('run config files: runtime_env is taken out and checked; the rest goes to the trainer', () => {
  assert.deepEqual(splitRunConfig({ lr: 1e-5 }, 'c.json'), { config: { lr: 1e-5 } });
  assert.throws(() => splitRunConfig([], 'c.json'), /c\.json: a run config is a JSON object/);
  assert.throws(() => splitRunConfig({ runtime_env: 'x' }, 'c.json'), /c\.json: runtime_env: expected an object/);
  assert.throws(() => splitRunConfig({ runtime_env: { env_vars: { A: 1 } } }, 'c.json'), /runtime_env\.env_vars: expected an object of strings/);
});
