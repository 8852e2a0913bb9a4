import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deriveStatus, readRun } from '../../../src/core/run/reader';
import { pidAlive } from '../../../src/core/run/pid';
import type { RunEvent } from '../../../src/core/run/schema';
import { RunWriter, appendFailure, markInterruptedAsFailed } from '../../../src/core/run/writer';
import { newManifest, tempDir } from './helpers';

const ev = (type: RunEvent['type'], extra: Partial<RunEvent> = {}): RunEvent => ({ type, time: '2026-01-01T00:00:00Z', step: 0, ...extra });
const alive = () => true;
const dead = () => false;

test('the last lifecycle event decides the status; checkpoint events do not', () => {
  assert.equal(deriveStatus([]), 'stopped');
  assert.equal(deriveStatus([ev('started')], alive), 'running');
  assert.equal(deriveStatus([ev('started'), ev('checkpoint')], alive), 'running');
  assert.equal(deriveStatus([ev('started'), ev('paused')], alive), 'paused');
  assert.equal(deriveStatus([ev('started'), ev('paused'), ev('resumed')], alive), 'running');
  assert.equal(deriveStatus([ev('started'), ev('checkpoint'), ev('stopped')], alive), 'stopped');
  assert.equal(deriveStatus([ev('started'), ev('completed'), ev('checkpoint')], alive), 'completed');
  assert.equal(deriveStatus([ev('started'), ev('failed', { reason: 'NaN loss' })], alive), 'failed');
  assert.equal(deriveStatus([ev('started'), ev('stopped'), ev('resumed')], alive), 'running');
});

test('a running or paused run whose writer died is interrupted', () => {
  const pid = 4242;
  assert.equal(deriveStatus([ev('started', { pid })], dead), 'interrupted');
  assert.equal(deriveStatus([ev('started', { pid }), ev('paused')], dead), 'interrupted');
  assert.equal(deriveStatus([ev('started', { pid }), ev('checkpoint')], dead), 'interrupted');
  // A terminal event after the start: the writer ended properly.
  assert.equal(deriveStatus([ev('started', { pid }), ev('stopped')], dead), 'stopped');
  // The pid that matters is the latest writer's.
  const seen: number[] = [];
  const isAlive = (p: number) => (seen.push(p), p === 2);
  assert.equal(deriveStatus([ev('started', { pid: 1 }), ev('stopped'), ev('resumed', { pid: 2 })], isAlive), 'running');
  assert.deepEqual(seen, [2]);
  // No pid recorded, or a pid on another host: cannot tell, so not interrupted.
  assert.equal(deriveStatus([ev('started')], dead), 'running');
  assert.equal(deriveStatus([ev('started', { pid, host: 'some-other-host-that-is-not-this-one' })], dead), 'running');
});

test('pidAlive tells this process from one that has exited', () => {
  assert.equal(pidAlive(process.pid), true);
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  assert.equal(pidAlive(Number(child.stdout)), false);
});

test('readRun shows a run whose writer process died as interrupted', async (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(child.stdout);
  w.appendEvent({ type: 'started', step: 0, pid: deadPid });
  w.appendEvent({ type: 'checkpoint', step: 5, checkpoint: 'checkpoints/step-000005' });
  assert.equal((await readRun(w.dir)).status, 'interrupted');
  // The backend marks it failed; then it reads as failed.
  w.appendEvent({ type: 'failed', step: 5, reason: `the trainer (pid ${deadPid}) exited without a final event` });
  assert.equal((await readRun(w.dir)).status, 'failed');
  // This process as the writer: running.
  w.appendEvent({ type: 'resumed', step: 5 });
  const run = await readRun(w.dir);
  assert.equal(run.status, 'running');
  assert.equal(run.events.at(-1)!.pid, process.pid);
});

test('bad lines in events.jsonl are reported and the rest still decides the status', async (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  writeFileSync(
    join(w.dir, 'events.jsonl'),
    [JSON.stringify(ev('started')), '{"type":"exploded","time":"2026-01-01T00:00:00Z","step":1}', JSON.stringify(ev('paused')), '{"type":"resu'].join('\n'),
  );
  const run = await readRun(w.dir, alive);
  assert.equal(run.status, 'paused');
  assert.equal(run.issues.length, 1);
  assert.match(String(run.issues[0]), /events\.jsonl:2: type must be one of started, paused/);
});

test('markInterruptedAsFailed records the failure of a dead writer, once', async (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  w.appendEvent({ type: 'started', step: 0, pid: 4242 });
  w.appendEvent({ type: 'checkpoint', step: 6 });
  assert.equal(await markInterruptedAsFailed(w.dir, alive), undefined);
  const e = await markInterruptedAsFailed(w.dir, dead);
  assert.equal(e?.type, 'failed');
  assert.equal(e?.step, 6);
  assert.match(e!.reason!, /pid 4242.*resume from the latest checkpoint/);
  assert.equal((await readRun(w.dir, dead)).status, 'failed');
  assert.equal(await markInterruptedAsFailed(w.dir, dead), undefined);
});

test("appendFailure writes a dead backend's 'failed' event at the run's latest step, unless one is there", async (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  w.appendEvent({ type: 'started', step: 0, pid: 4242 });
  w.appendEvent({ type: 'checkpoint', step: 6 });
  const e = await appendFailure(w.dir, 'the training backend exited unexpectedly (code 1)', 4);
  assert.deepEqual([e?.type, e?.step, e?.reason], ['failed', 6, 'the training backend exited unexpectedly (code 1)']);
  assert.equal(await appendFailure(w.dir, 'again', 9), undefined);
  const events = (await readRun(w.dir, alive)).events;
  assert.deepEqual(events.map((x) => x.type), ['started', 'checkpoint', 'failed']);
});
