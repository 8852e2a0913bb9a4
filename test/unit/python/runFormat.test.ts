// A run directory written by the Python package (prpo_studio.run) reads back through the TypeScript reader and
// validator with no issue: the run format is one contract, whichever backend wrote the run (issue #9 item 3).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatIssue, listRuns, readCheckpoint, readMetrics, readRolloutStep, readRun, type LineIssue } from '../../../src/core/run';
import { noPython, python } from './helpers';

/** Reads every file of a run with the TypeScript side and returns what it found plus every issue it reported. */
async function readWholeRun(dir: string) {
  const issues: LineIssue[] = [];
  const onIssue = (i: LineIssue) => issues.push(i);
  const info = await readRun(dir);
  issues.push(...(info.issues as LineIssue[]));
  const metrics = await readMetrics(dir, onIssue);
  const steps = new Map<number, Awaited<ReturnType<typeof readRolloutStep>>>();
  for (const s of info.rolloutSteps) steps.set(s, await readRolloutStep(dir, s, onIssue));
  const checkpoints = info.checkpoints.map((c) => ({ ...c, files: c.complete ? Object.keys(readCheckpoint(c.path).files) : [] }));
  return { info, metrics, steps, checkpoints, issues: issues.map(formatIssue) };
}

test('a run written by prpo_studio.run reads back through the TypeScript reader with no issue', { skip: noPython }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'prpo-pyrun-'));
  try {
    const dir = python(['-m', 'prpo_studio.run.example', root]).stdout.trim();
    assert.ok(existsSync(join(dir, 'run.json')), `the example printed ${dir}`);
    const run = await readWholeRun(dir);
    assert.deepEqual(run.issues, []);
    assert.equal(run.info.manifest?.algorithm, 'prpo');
    assert.equal(run.info.manifest?.source, 'prpo-studio');
    assert.equal(run.info.status, 'completed');
    assert.deepEqual(run.info.events.map((e) => e.type), ['started', 'checkpoint', 'completed']);
    // NaN is written as null and read back as NaN; every other number as written.
    assert.equal(run.metrics.length, 1);
    assert.ok(Number.isNaN(run.metrics[0].loss));
    assert.equal(run.metrics[0].reward, 0.5);
    const rollouts = run.steps.get(1) ?? [];
    assert.equal(rollouts.length, 2);
    for (const r of rollouts) assert.equal(r.tokens.join(''), r.response, `${r.id}: the token texts concatenate to the response`);
    assert.deepEqual(rollouts[0].logp.image, [-0.1, -0.3, -0.2, -0.5, -0.4]);
    assert.deepEqual(rollouts[0].perceptual, [0, 0, 1, 1, 1]);
    // The checkpoint is complete: its manifest's sizes and sha256 match the files.
    assert.deepEqual(run.checkpoints.map((c) => [c.step, c.complete, c.files.sort()]), [[1, true, ['trainer.json', 'weights.safetensors']]]);
    // And the explorer's listing finds it.
    assert.deepEqual((await listRuns(root)).map((r) => r.dir), [dir]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
