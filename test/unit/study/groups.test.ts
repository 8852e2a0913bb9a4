// The charts' study grouping (src/core/study/groups.ts, folder.ts) against hand-computed means and t-intervals:
// t_{.975,2} = 4.302652729911275 (closed form at df = 2, stats.test.ts), t_{.975,1} = tan(0.475π) = 12.706204736174707.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStudy } from '../../../src/core/study/folder';
import { groupLabel, groupRuns, meanBand, parseStudyIndex } from '../../../src/core/study/groups';

const close = (a: number, b: number, what: string, tol = 1e-9) => assert.ok(Math.abs(a - b) < tol, `${what}: ${a} vs ${b}`);
const T2 = 4.302652729911275;
const T1 = Math.tan(0.475 * Math.PI);

test('meanBand: the mean and 95 % t-interval per step over the runs that have it (unequal lengths)', () => {
  const pts = (ys: number[]) => ys.map((y, i) => ({ x: i + 1, y }));
  // Step 1: 1, 3, 5 → mean 3, sd 2; step 2: 2, 4, 6 → mean 4, sd 2; step 3: only the runs of 3 steps, 3 and 8.
  const band = meanBand([pts([1, 2, 3]), pts([3, 4]), pts([5, 6, 8])]);
  assert.deepEqual(band.map((p) => [p.x, p.n]), [[1, 3], [2, 3], [3, 2]]);
  close(band[0].y, 3, 'mean 1');
  close(band[0].lo, 3 - (T2 * 2) / Math.sqrt(3), 'lo 1');
  close(band[0].hi, 3 + (T2 * 2) / Math.sqrt(3), 'hi 1'); // 7.968…
  close(band[1].y, 4, 'mean 2');
  close(band[1].hi - band[1].lo, (2 * T2 * 2) / Math.sqrt(3), 'width 2');
  // n = 2: sd = 5/√2, half = t₁ · sd/√2 = t₁ · 2.5.
  close(band[2].y, 5.5, 'mean 3');
  close(band[2].hi, 5.5 + T1 * 2.5, 'hi 3', 1e-7);
  close(band[2].lo, 5.5 - T1 * 2.5, 'lo 3', 1e-7);
});

test('meanBand: a group of one has its curve and no band; validation steps and duplicates', () => {
  const one = meanBand([[{ x: 0, y: 0.25 }, { x: 5, y: 0.5 }]]);
  assert.deepEqual(one.map((p) => [p.x, p.y, p.n]), [[0, 0.25, 1], [5, 0.5, 1]]);
  assert.ok(one.every((p) => Number.isNaN(p.lo) && Number.isNaN(p.hi)), 'n = 1: no interval');
  // Metrics recorded on some steps only (validation every 5): the steps any run has; a resumed run's redone step
  // counts its last value; a non-finite value is no value.
  const band = meanBand([
    [{ x: 5, y: 0.2 }, { x: 10, y: 0.4 }],
    [{ x: 5, y: 0.9 }, { x: 5, y: 0.4 }, { x: 10, y: NaN }],
  ]);
  assert.deepEqual(band.map((p) => [p.x, p.n]), [[5, 2], [10, 1]]);
  close(band[0].y, 0.3, 'last value of the redone step');
  assert.ok(Number.isNaN(band[1].lo), 'step 10 has one run');
  // Equal values: a band of width 0, not NaN.
  const flat = meanBand([[{ x: 1, y: 1 }], [{ x: 1, y: 1 }]]);
  assert.deepEqual([flat[0].lo, flat[0].hi], [1, 1]);
  assert.deepEqual(meanBand([]), []);
});

test('groupRuns: by arm when the study names one, else by preset label; n in the label', () => {
  const groups = groupRuns([
    { id: 'a', algorithm: 'dapo', arm: 'dapo' },
    { id: 'b', algorithm: 'prpo', arm: 'prpo-l0' },
    { id: 'c', algorithm: 'dapo', arm: 'dapo' },
    { id: 'd', algorithm: 'prpo', arm: 'oracle' },
  ]);
  assert.deepEqual(groups, [
    { name: 'dapo', runIds: ['a', 'c'] },
    { name: 'prpo-l0', runIds: ['b'] },
    { name: 'oracle', runIds: ['d'] },
  ]);
  assert.equal(groupLabel(groups[0]), 'dapo (n=2)');
  assert.equal(groupLabel(groups[1]), 'prpo-l0 (n=1, no band)');
  const byPreset = groupRuns([{ id: 'x', algorithm: 'prpo' }, { id: 'y', algorithm: 'grpo' }, { id: 'z', algorithm: 'prpo' }]);
  assert.deepEqual(byPreset.map((g) => [g.name, g.runIds]), [['PRPO-R', ['x', 'z']], ['GRPO', ['y']]]);
});

test('parseStudyIndex: study.json as npm run study writes it; the pilot apart; clear errors', () => {
  const text = JSON.stringify({
    lr: 0.0003,
    runs: { 'pilot-lr0.0001': '/r/p1', 'grpo-s1': '/r/a', 'prpo-l0-s1': '/r/b', 'grpo-s2': 'rel/c' },
  });
  const index = parseStudyIndex(text, 'runs/study/study.json');
  assert.equal(index.lr, 0.0003);
  assert.deepEqual(index.pilots, ['pilot-lr0.0001']);
  assert.deepEqual(index.runs, [
    { key: 'grpo-s1', arm: 'grpo', seed: 1, dir: '/r/a' },
    { key: 'prpo-l0-s1', arm: 'prpo-l0', seed: 1, dir: '/r/b' },
    { key: 'grpo-s2', arm: 'grpo', seed: 2, dir: 'rel/c' },
  ]);
  const bad = (t: string, re: RegExp) => assert.throws(() => parseStudyIndex(t, 'S/study.json'), (e: Error) => re.test(e.message), t);
  bad('{"runs": ', /^S\/study\.json: not valid JSON/);
  bad('[]', /^S\/study\.json: expected an object/);
  bad('{"runs": []}', /runs must be an object/);
  bad('{"lr": "fast", "runs": {}}', /lr must be a number, got "fast"/);
  bad('{"runs": {"grpo-s1": 3}}', /runs\["grpo-s1"\] must be a run directory, got 3/);
  bad('{"runs": {"grpo": "/r/a"}}', /runs\["grpo"\]: expected a key "<arm>-s<seed>"/);
  bad('{"runs": {"pilot-lr0.001": "/r/p"}}', /no arm's runs yet \(only pilot-lr0\.001\)/);
});

test('readStudy: run paths as written (absolute or relative), else by name inside a moved study folder; missing ones named', () => {
  const root = mkdtempSync(join(tmpdir(), 'prpo-study-'));
  try {
    const study = join(root, 'copied-study');
    for (const d of ['a', 'b', 'c']) mkdirSync(join(study, d), { recursive: true });
    writeFileSync(
      join(study, 'study.json'),
      JSON.stringify({ runs: { 'dapo-s1': join(study, 'a'), 'dapo-s2': 'b', 'prpo-s1': '/where/it/ran/c', 'prpo-s2': '/gone/d', 'pilot-lr0.001': '/p' } }),
    );
    const { name, runs, missing } = readStudy(study);
    assert.equal(name, 'copied-study');
    assert.deepEqual(runs.map((r) => [r.key, r.arm, r.seed, r.runDir]), [
      ['dapo-s1', 'dapo', 1, join(study, 'a')],
      ['dapo-s2', 'dapo', 2, join(study, 'b')],
      ['prpo-s1', 'prpo', 1, join(study, 'c')],
    ]);
    assert.deepEqual(missing.map((r) => r.key), ['prpo-s2']);
    assert.throws(() => readStudy(root), (e: Error) => e.message.startsWith(`${root} has no study.json`));
    writeFileSync(join(study, 'study.json'), '{"runs": {"dapo": "a"}}');
    assert.throws(() => readStudy(study), (e: Error) => e.message.startsWith(`${join(study, 'study.json')}: runs["dapo"]`));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
