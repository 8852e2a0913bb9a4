// The backend process over JSON-RPC: start, pause, checkpoint, resume, stop (checkpoint, then exit),
// resumeFrom; and kill -9 at random moments never corrupts the latest complete checkpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Requests } from '../../../src/core/protocol/backend';
import { latestCheckpoint, listCheckpoints, readCheckpoint, readEvents, readRun } from '../../../src/core/run';
import { CLI, forkBackend } from './client';
import { tempDir } from './helpers';
import { ensureCliBuilt } from '../cliBuild';

/** Tiny real-engine settings: a step takes a fraction of a second. */
const tiny = { promptsPerStep: 2, groupSize: 2, maxNewTokens: 8, valSize: 4, valEvery: 0, dynamicSampling: false };
// Built here when missing or stale (never skipped); the model's weights are part of the repository.
const haveBuild = ensureCliBuilt();

test('start, pause, checkpoint, resume, stop over JSON-RPC; resumeFrom continues the run', { skip: !haveBuild && 'needs npm run build and models/tiny-vlm-shapes' }, async () => {
  const runsDir = tempDir();
  const c = forkBackend();
  try {
    assert.equal((await c.connection.sendRequest(Requests.status)).state, 'idle');
    const started = await c.connection.sendRequest(Requests.start, { runsDir, preset: 'prpo', steps: 1000, seed: 1, config: tiny, checkpointEvery: 0 });
    assert.equal(started.state, 'running');
    await c.waitFor(() => c.metrics.some((m) => m.step >= 2));
    const paused = await c.connection.sendRequest(Requests.pause);
    assert.equal(paused.state, 'paused');
    const ck = await c.connection.sendRequest(Requests.checkpoint);
    assert.equal(ck.step, paused.step);
    assert.ok(existsSync(join(ck.path, 'manifest.json')));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await c.connection.sendRequest(Requests.status)).step, paused.step, 'no step while paused');
    assert.equal((await c.connection.sendRequest(Requests.resume)).state, 'running');
    await c.waitFor(() => c.metrics.some((m) => m.step > paused.step));
    const stopped = await c.connection.sendRequest(Requests.stop);
    assert.equal(stopped.state, 'stopped');
    assert.equal(await c.exited, 0);
    const events = (await readEvents(stopped.runDir!)).map((e) => e.type);
    assert.deepEqual(events.slice(0, 3), ['started', 'paused', 'checkpoint']);
    assert.equal(events.at(-1), 'stopped');
    assert.equal(listCheckpoints(stopped.runDir!).at(-1)!.step, stopped.step);

    const c2 = forkBackend();
    const resumed = await c2.connection.sendRequest(Requests.resumeFrom, { runDir: stopped.runDir!, steps: stopped.step + 2 });
    assert.equal(resumed.step, stopped.step);
    await c2.waitFor(() => c2.states.some((s) => s.state === 'completed'));
    await c2.connection.sendRequest(Requests.stop);
    assert.equal(await c2.exited, 0);
    assert.equal((await readRun(stopped.runDir!)).status, 'completed');
  } finally {
    c.kill();
  }
});

test('kill -9 at random moments never corrupts the latest complete checkpoint; resume marks the run failed', { skip: !haveBuild && 'needs npm run build' }, async (t) => {
  const runsDir = tempDir();
  let runDir: string | undefined;
  let target = 2;
  let midCheckpoint = 0;
  const unfinished = (dir: string, pid?: number) =>
    readdirSync(join(dir, 'checkpoints')).filter((f) => f.startsWith('.tmp-') && (pid === undefined || f.includes(`-${pid}-`)));
  for (let round = 0; round < 4; round++) {
    // Odd rounds hold every checkpoint write open (the backend's test hook) and are killed as soon as its
    // temporary folder appears: those kills land mid-checkpoint for sure. Even rounds kill at a random moment.
    const stall = round % 2 === 1;
    const c = forkBackend(stall ? { PRPO_STUDIO_TEST_CHECKPOINT_STALL_MS: '30000' } : {});
    const status = runDir
      ? await c.connection.sendRequest(Requests.resumeFrom, { runDir, steps: 1000 })
      : await c.connection.sendRequest(Requests.start, { runsDir, preset: 'vppo', steps: 1000, seed: 2, config: tiny, checkpointEvery: 1 });
    const dir = (runDir = status.runDir!);
    if (stall) {
      await until(() => unfinished(dir, c.child.pid).length > 0);
    } else {
      // The first round waits for a complete checkpoint; later ones already have one and wait for a step.
      await c.waitFor(() => (round === 0 ? c.checkpoints.length >= 1 : c.metrics.some((m) => m.step >= status.step + 1)));
      // A random moment within the next steps: often while a checkpoint (every step) is being written.
      await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 250)));
    }
    c.kill('SIGKILL');
    await c.exited;
    const latest = latestCheckpoint(dir);
    assert.ok(latest, 'a complete checkpoint exists');
    assert.doesNotThrow(() => readCheckpoint(latest!), 'the latest complete checkpoint reads back (sizes and sha256 of its manifest)');
    assert.equal((await readRun(dir)).status, 'interrupted');
    const latestStep = listCheckpoints(dir).at(-1)!.step;
    target = Math.max(target, latestStep);
    const left = unfinished(dir, c.child.pid);
    if (stall) assert.equal(left.length, 1, 'the kill landed while the checkpoint was being written');
    for (const f of left) {
      // The unfinished checkpoint is of a later step than the latest complete one, which readers keep using.
      assert.ok(Number(/^\.tmp-step-(\d+)-/.exec(f)![1]) > latestStep, `${f} is newer than ${latest}`);
      midCheckpoint++;
    }
    t.diagnostic(`kill ${round + 1}: latest complete checkpoint ${latest!.split('/').at(-1)}${left.length ? `, killed mid-checkpoint (${left.join(', ')} left behind)` : ''}`);
  }
  assert.ok(midCheckpoint >= 2, `at least the two stalled kills land mid-checkpoint (${midCheckpoint} did)`);
  // The next resume notices the dead writer and records why, continues from the latest complete
  // checkpoint, and tidies the unfinished ones away when it writes its own.
  const resumeFrom = listCheckpoints(runDir!).at(-1)!.step;
  const c = forkBackend();
  const resumed = await c.connection.sendRequest(Requests.resumeFrom, { runDir: runDir!, steps: target + 1 });
  assert.equal(resumed.step, resumeFrom);
  await c.waitFor(() => c.states.some((s) => s.state === 'completed'));
  await c.connection.sendRequest(Requests.stop);
  await c.exited;
  const events = await readEvents(runDir!);
  const failed = events.filter((e) => e.type === 'failed');
  assert.equal(failed.length, 4);
  assert.match(failed[0].reason!, /died/);
  assert.equal(events.at(-1)!.type, 'completed');
  assert.equal(listCheckpoints(runDir!).at(-1)!.step, target + 1);
  assert.deepEqual(unfinished(runDir!), [], 'no unfinished checkpoint is left after a clean run');
});

/** Polls `predicate` until it holds (rejects after `ms`). */
async function until(predicate: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`until: timed out after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
