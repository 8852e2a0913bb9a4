// A step read for a view (src/core/view/stepRead.ts): the first rollouts are there before the rest is read,
// reading stops at what is wanted and goes on when asked, a cancel closes the file, and what it reads from a
// real step file (streamRolloutStep) is exactly what the whole-file reader reads, problems included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { formatIssue } from '../../../src/core/run/lines';
import { readRolloutStep, runFiles, streamRolloutStep } from '../../../src/core/run/reader';
import type { RolloutRecord } from '../../../src/core/run/schema';
import { RunWriter } from '../../../src/core/run/writer';
import { StepRead, fromArray } from '../../../src/core/view/stepRead';
import { newManifest, rollout, tempDir } from './helpers';

/** A stream of `n` rollouts that gives one per credit `release` hands out, counting what was pulled. */
function gated(n: number) {
  const state = { credits: 0, pulled: 0, closed: false };
  let wake: (() => void) | undefined;
  const release = (k = 1) => {
    state.credits += k;
    wake?.();
  };
  async function* records(): AsyncGenerator<RolloutRecord> {
    try {
      for (let i = 0; i < n; i++) {
        while (state.credits === 0) await new Promise<void>((r) => (wake = r));
        state.credits--;
        state.pulled++;
        yield rollout(1, i);
      }
    } finally {
      state.closed = true;
    }
  }
  return { records, release, state, settle: () => new Promise((r) => setImmediate(r)) };
}

test('the first rollouts are there before the step is read to its end', async () => {
  const g = gated(10);
  const read = new StepRead(() => g.records());
  let firstTwo = false;
  void read.has(2).then(() => (firstTwo = true));
  await g.settle();
  g.release();
  await g.settle();
  assert.equal(firstTwo, false);
  g.release();
  await g.settle();
  assert.equal(firstTwo, true);
  assert.equal(read.rollouts.length, 2);
  assert.equal(read.complete, false);
  g.release(8);
  await read.done;
  assert.equal(read.rollouts.length, 10);
  assert.equal(read.complete, true);
});

test('reading stops at what is wanted (a step read ahead) and goes on when more is asked for', async () => {
  const g = gated(10);
  const read = new StepRead(() => g.records(), 3);
  g.release(6);
  for (let i = 0; i < 6; i++) await g.settle();
  assert.equal(g.state.pulled, 3, 'the stream is not pulled past the wanted records');
  const all = read.has(Infinity);
  g.release(10);
  await all;
  assert.equal(read.rollouts.length, 10);
});

test('a cancel closes the stream, and waiters get what was read', async () => {
  const g = gated(10);
  const read = new StepRead(() => g.records());
  g.release();
  await g.settle();
  const waiting = read.has(5);
  read.cancel();
  g.release();
  await waiting;
  await read.done;
  assert.equal(read.complete, true);
  assert.ok(read.rollouts.length <= 2);
  assert.equal(g.state.closed, true);
});

test('a stream that fails ends the read with the reason as a problem', async () => {
  async function* broken(): AsyncGenerator<RolloutRecord> {
    yield rollout(1, 0);
    throw new Error('EIO: the disk went away');
  }
  const read = new StepRead(() => broken());
  await read.has(Infinity);
  assert.equal(read.rollouts.length, 1);
  assert.deepEqual(read.issues, ['reading the step stopped: EIO: the disk went away']);
  const fromWhole = new StepRead(() => fromArray(Promise.resolve([rollout(1, 0), rollout(1, 1)])));
  await fromWhole.done;
  assert.equal(fromWhole.rollouts.length, 2);
});

test('a real step file read as a stream gives what the whole-file reader gives, problems and torn last line included', async (t) => {
  const runsDir = tempDir(t);
  const w = RunWriter.create(runsDir, newManifest());
  w.appendRollouts(4, Array.from({ length: 60 }, (_, i) => rollout(4, i)));
  const file = runFiles.rollouts(w.dir, 4);
  appendFileSync(file, '{"not": "a rollout"}\n');
  w.appendRollouts(4, [rollout(4, 60)]);
  appendFileSync(file, '{"id": "torn');
  const whole: string[] = [];
  const expected = await readRolloutStep(w.dir, 4, (i) => whole.push(formatIssue(i)));
  const read = new StepRead((onIssue) => streamRolloutStep(w.dir, 4, (i) => onIssue(formatIssue(i))), 48);
  await read.has(48);
  assert.ok(read.rollouts.length >= 48);
  await read.has(Infinity);
  assert.deepEqual(read.rollouts, expected);
  assert.deepEqual(read.issues, whole);
  assert.equal(read.issues.length, 1);
  assert.match(read.issues[0], /step-000004\.jsonl:61: /);
});
