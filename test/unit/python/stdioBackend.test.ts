// The extension's stdio transport (src/extension/backend/transport.ts) against the real `python -m prpo_studio
// serve`: the protocol round trip the backend manager relies on (a bad start refused with its reason; start →
// rollouts and metrics stream → pause → checkpoint → resume → stop, the process exits), then the run it wrote read
// back by the TypeScript reader and validator with no issue; and kill -9 → interrupted → failed → resumed by a new
// backend. Tiny random model made at test time, CPU.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ResponseError } from 'vscode-jsonrpc/node';
import { Notifications, Requests, type BackendStatus, type CheckpointInfo } from '../../../src/core/protocol/backend';
import { formatIssue, markInterruptedAsFailed, readMetrics, readRolloutStep, readRun, type LineIssue } from '../../../src/core/run';
import type { RolloutRecord } from '../../../src/core/run/schema';
import { exportShapes } from '../../../src/cli/exportTask';
import { startBackendProcess } from '../../../src/extension/backend/transport';
import { noPython, python, PYTHON, PYTHON_SRC } from './helpers';

/** The Python suite's fast settings (python/tests/vlm_helpers.py FAST): a step takes well under a second. */
const FAST = { promptsPerStep: 2, groupSize: 2, maxNewTokens: 6, microBatchSize: 2, lr: 1e-3 };

let dir = '';
let model = '';
let data = '';

before(() => {
  if (noPython) return;
  dir = mkdtempSync(join(tmpdir(), 'prpo-stdio-'));
  model = python(['-m', 'prpo_studio', 'tiny-model', '--family', 'qwen2-vl', '--out', join(dir, 'model')]).stdout.trim();
  data = join(dir, 'data');
  exportShapes({ out: data, n: 6 });
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function launch() {
  const { child, connection } = startBackendProcess({ kind: 'pytorch', python: PYTHON, packagePath: PYTHON_SRC }, dir, { PYTHONDONTWRITEBYTECODE: '1' });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const states: BackendStatus[] = [];
  const rollouts: Array<{ step: number; rollouts: RolloutRecord[] }> = [];
  const metrics: number[] = [];
  const saved: CheckpointInfo[] = [];
  connection.onNotification(Notifications.state, (s) => void states.push(s));
  connection.onNotification(Notifications.rollouts, (r) => void rollouts.push(r));
  connection.onNotification(Notifications.metrics, ({ row }) => void metrics.push(row.step));
  connection.onNotification(Notifications.checkpoint, (c) => void saved.push(c));
  connection.listen();
  return { child, connection, exited, states, rollouts, metrics, saved, stderr: () => stderr };
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs: number, stderr: () => string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; the backend's stderr:\n${stderr().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the stdio transport drives python -m prpo_studio serve through a whole run', { skip: noPython, timeout: 600_000 }, async () => {
  const b = launch();
  try {
    assert.deepEqual(await b.connection.sendRequest(Requests.status), { state: 'idle', step: 0 });
    // A bad start answers with the reason and leaves the backend idle, ready for a good one.
    await assert.rejects(
      b.connection.sendRequest(Requests.start, { runsDir: join(dir, 'runs'), preset: 'prpo', steps: 1, model: join(dir, 'no-such-model'), data, device: 'cpu' }),
      (e: unknown) => e instanceof ResponseError && e.code === 3 && /no-such-model/.test(e.message),
    );
    assert.deepEqual(await b.connection.sendRequest(Requests.status), { state: 'idle', step: 0 });
    const started = await b.connection.sendRequest(Requests.start, {
      runsDir: join(dir, 'runs'),
      preset: 'prpo',
      steps: 200,
      seed: 3,
      name: 'stdio round trip',
      model,
      data,
      device: 'cpu',
      dtype: 'fp32',
      checkpointEvery: 0,
      config: FAST,
    });
    assert.equal(started.device, 'cpu');
    assert.ok(started.runDir && started.runId, JSON.stringify(started));
    const runDir = started.runDir;

    // Rollouts stream as whole records, with every view PRPO-R needs.
    const first = await until('a step of rollouts', () => b.rollouts[0], 300_000, b.stderr);
    assert.equal(first.rollouts.length, FAST.promptsPerStep * FAST.groupSize);
    for (const r of first.rollouts) {
      assert.equal(r.tokens.join(''), r.response);
      assert.equal(r.logp.image.length, r.tokens.length);
      assert.ok(r.logp.blind && r.logp.mild, `${r.id}: PRPO-R's blind and mild views`);
    }
    await until('a metrics row', () => b.metrics.length > 0, 120_000, b.stderr);

    const paused = await b.connection.sendRequest(Requests.pause);
    assert.equal(paused.state, 'paused', `the backend's stderr:\n${b.stderr().slice(-3000)}`);
    const stepAtPause = paused.step;
    const info = await b.connection.sendRequest(Requests.checkpoint);
    assert.equal(info.step, stepAtPause);
    assert.equal(info.runId, started.runId);
    assert.deepEqual(b.saved.map((c) => c.step), [stepAtPause]);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await b.connection.sendRequest(Requests.status)).step, stepAtPause, 'a paused run makes no step');
    assert.equal((await b.connection.sendRequest(Requests.resume)).state, 'running');
    await until('a step after resuming', () => b.metrics.some((s) => s > stepAtPause), 120_000, b.stderr);

    // A second run in the same backend is refused with the protocol's error, and the first carries on.
    await assert.rejects(b.connection.sendRequest(Requests.start, { runsDir: join(dir, 'runs'), preset: 'grpo', steps: 1, model, data }), (e: unknown) => {
      assert.ok(e instanceof ResponseError);
      assert.equal(e.code, 1);
      assert.match(e.message, /already runs/);
      return true;
    });

    const stopped = await b.connection.sendRequest(Requests.stop);
    assert.equal(stopped.state, 'stopped');
    assert.equal(await b.exited, 0);

    // The run it wrote reads back through the TypeScript reader and validator with no issue.
    const issues: LineIssue[] = [];
    const run = await readRun(runDir);
    issues.push(...(run.issues as LineIssue[]));
    assert.equal(run.status, 'stopped');
    assert.equal(run.manifest?.model.config.backend, 'pytorch');
    const rows = await readMetrics(runDir, (i) => issues.push(i));
    assert.ok(rows.length >= 2);
    for (const s of run.rolloutSteps) assert.equal((await readRolloutStep(runDir, s, (i) => issues.push(i))).length, FAST.promptsPerStep * FAST.groupSize);
    assert.ok(run.checkpoints.length >= 2 && run.checkpoints.every((c) => c.complete), JSON.stringify(run.checkpoints));
    assert.deepEqual(issues.map(formatIssue), []);
  } finally {
    b.child.kill('SIGKILL');
    b.connection.dispose();
  }
});

test('kill -9 leaves the run interrupted, marked failed, and a new backend resumes it from its checkpoint', { skip: noPython, timeout: 600_000 }, async () => {
  const b = launch();
  let runDir = '';
  try {
    const started = await b.connection.sendRequest(Requests.start, {
      runsDir: join(dir, 'runs'), preset: 'grpo', steps: 200, seed: 4, name: 'killed', model, data, device: 'cpu', checkpointEvery: 1, config: FAST,
    });
    runDir = started.runDir!;
    await until('a checkpoint', () => b.saved.length > 0, 300_000, b.stderr);
  } finally {
    b.child.kill('SIGKILL');
    b.connection.dispose();
  }
  await b.exited;
  // The writer is gone without a last event: every reader calls the run interrupted, and it is then marked failed.
  assert.equal((await readRun(runDir)).status, 'interrupted');
  assert.match((await markInterruptedAsFailed(runDir))?.reason ?? '', /died without stopping the run/);
  const failed = await readRun(runDir);
  assert.equal(failed.status, 'failed');
  const checkpoint = failed.checkpoints.filter((c) => c.complete).at(-1)!;
  assert.ok(checkpoint, 'a complete checkpoint survived the kill');

  const c = launch();
  try {
    const resumed = await c.connection.sendRequest(Requests.resumeFrom, { runDir, checkpoint: checkpoint.path, steps: checkpoint.step + 1, device: 'cpu' });
    assert.equal(resumed.runDir, runDir);
    assert.equal(resumed.step, checkpoint.step);
    await until('the step after the checkpoint', () => c.metrics.includes(checkpoint.step + 1), 300_000, c.stderr);
    await until('the run completed', () => c.states.some((s) => s.state === 'completed'), 120_000, c.stderr);
    await c.connection.sendRequest(Requests.stop).catch(() => undefined);
    const after = await readRun(runDir);
    assert.equal(after.status, 'completed');
    assert.deepEqual(after.issues, []);
  } finally {
    c.child.kill('SIGKILL');
    c.connection.dispose();
  }
});
