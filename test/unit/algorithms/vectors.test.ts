/**
 * The shared vectors (test/vectors/advantages.json, written by `npm run vectors`) against the TypeScript CLI as
 * it is now: a change to the estimators that alters any number fails here until the vectors are regenerated
 * (and python/tests/test_vectors.py then checks the Python estimators against the new numbers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VECTORS_DIR_MARK, runCli, withVectorsDir } from '../../../scripts/vectors';
import { refK3 } from './reference';

interface Vectors {
  tolerance: number;
  rollouts: number;
  cases: Array<{ name: string; args: string[]; input: { algorithm: string; config?: Record<string, unknown>; rollouts: VectorRollout[] } | null; output: unknown }>;
  errors: Array<{ name: string; args: string[]; stdin: string; message: string; match: 'exact' | 'prefix' }>;
}
interface VectorRollout {
  id: string;
  group: string;
  reward: number;
  logp: { image: number[]; blind?: number[]; perturbed?: number[] | number[][]; mild?: number[] };
  dependency?: Record<string, unknown>;
  labels?: number[];
}

const VECTORS_DIR = join(__dirname, '..', '..', 'vectors');
const vectors = JSON.parse(readFileSync(join(VECTORS_DIR, 'advantages.json'), 'utf8')) as Vectors;

/** Same keys in the same order, same strings and booleans, numbers within tol (relative above 1). */
function assertClose(got: unknown, want: unknown, tol: number, path: string): void {
  if (typeof want === 'number') {
    assert.equal(typeof got, 'number', `${path}: expected a number, got ${JSON.stringify(got)}`);
    assert.ok(Math.abs((got as number) - want) <= tol * Math.max(1, Math.abs(want)), `${path}: ${got} vs ${want}`);
  } else if (Array.isArray(want)) {
    assert.ok(Array.isArray(got), `${path}: expected an array`);
    assert.equal((got as unknown[]).length, want.length, `${path}: length`);
    want.forEach((w, i) => assertClose((got as unknown[])[i], w, tol, `${path}[${i}]`));
  } else if (want !== null && typeof want === 'object') {
    assert.ok(got !== null && typeof got === 'object' && !Array.isArray(got), `${path}: expected an object`);
    assert.deepEqual(Object.keys(got as object), Object.keys(want), `${path}: keys`);
    for (const [k, w] of Object.entries(want)) assertClose((got as Record<string, unknown>)[k], w, tol, `${path}.${k}`);
  } else {
    assert.equal(got, want, path);
  }
}

test('the vectors cover every preset and option, clamps, ties, L = 1, groups of one, equal rewards (≥ 200 rollouts)', () => {
  assert.ok(vectors.rollouts >= 200, `${vectors.rollouts} rollouts`);
  const configs = vectors.cases.map((c) => (c.output as { config: Record<string, unknown> }).config);
  for (const preset of ['grpo', 'dapo', 'vppo', 'pgpo', 'prpo']) assert.ok(configs.some((c) => c.preset === preset), preset);
  const prpo = configs.filter((c) => c.preset === 'prpo');
  for (const rvd of ['soft', 'gate', 'multimask']) assert.ok(prpo.some((c) => c.rvd === rvd), rvd);
  assert.ok(prpo.some((c) => c.massConserving === true), 'massConserving');
  assert.ok(prpo.some((c) => c.threshold !== null), 'quantile threshold');
  assert.ok(prpo.some((c) => c.groundingFloor === 0 && c.instabilityFloor === 0), 'floors 0');
  assert.ok(prpo.some((c) => (c.groundingFloor as number) > 0.01 && (c.instabilityFloor as number) > 0.05), 'floors raised');
  assert.ok(configs.some((c) => c.normalizeByStd === false), 'normalizeByStd false');
  for (const preset of ['vppo', 'pgpo', 'prpo']) assert.ok(configs.some((c) => c.preset === preset && c.kl === 'exact'), `${preset} exact KL`);
  const seen = { k3Clamp: 0, oneToken: 0, groupOfOne: 0, equalRewards: 0, tiedScores: 0 };
  for (const c of vectors.cases) {
    const groups = new Map<string, number[]>();
    for (const r of c.input?.rollouts ?? []) {
      groups.set(r.group, [...(groups.get(r.group) ?? []), r.reward]);
      if (r.logp.image.length === 1) seen.oneToken++;
      for (const view of [r.logp.blind, r.logp.mild]) {
        if (!view) continue;
        const S = r.logp.image.map((a, t) => refK3(a, view[t]));
        if (S.some((x) => x === 10) || r.logp.image.some((a, t) => Math.abs(view[t] - a) > 20)) seen.k3Clamp++;
        if (new Set(S).size < S.length) seen.tiedScores++;
      }
    }
    for (const rewards of groups.values()) {
      if (rewards.length === 1) seen.groupOfOne++;
      else if (rewards.every((x) => x === rewards[0])) seen.equalRewards++;
    }
  }
  for (const [what, n] of Object.entries(seen)) assert.ok(n > 0, `no ${what} in the vectors`);
  assert.ok(vectors.errors.length >= 30, 'bad inputs');
  assert.ok(vectors.cases.some((c) => c.args.includes('--rollouts')), 'the what-if path');
});

test('the vectors cover the study\'s controls: oracle on the flags, random on a set of their size, and their bad inputs', () => {
  for (const estimator of ['oracle', 'random']) {
    const cases = vectors.cases.filter((c) => (c.output as { config: Record<string, unknown> }).config.estimator === estimator);
    assert.ok(cases.length >= 3, `${estimator}: ${cases.length} cases`);
    assert.ok(cases.some((c) => (c.output as { config: Record<string, unknown> }).config.massConserving === true), `${estimator} mass-conserving`);
    let rollouts = 0;
    for (const c of cases) {
      const out = (c.output as { rollouts: Array<{ id: string; scores: { rvd: number[] } }> }).rollouts;
      c.input!.rollouts.forEach((r, i) => {
        rollouts++;
        const flags = r.labels!.map((x) => (x > 0.5 ? 1 : 0));
        const set = out[i].scores.rvd;
        if (estimator === 'oracle') assert.deepEqual(set, flags, `${c.name} ${r.id}`);
        else assert.equal(set.reduce((a, b) => a + b, 0), flags.reduce<number>((a, b) => a + b, 0), `${c.name} ${r.id}: same size`);
      });
    }
    assert.ok(rollouts >= 40, `${estimator}: ${rollouts} rollouts`);
  }
  // The random sets differ from the flags somewhere (else the control would be the oracle).
  const random = vectors.cases.filter((c) => (c.output as { config: Record<string, unknown> }).config.estimator === 'random');
  assert.ok(random.some((c) => c.input!.rollouts.some((r, i) => (c.output as { rollouts: Array<{ scores: { rvd: number[] } }> }).rollouts[i].scores.rvd.some((x, t) => x !== (r.labels![t] > 0.5 ? 1 : 0)))));
  for (const name of ['oracle without labels', 'random without labels', 'labels of the wrong length']) assert.ok(vectors.errors.some((e) => e.name === name), name);
});

test('the TypeScript CLI still writes the vectors\' outputs (to 1e-6)', async () => {
  for (const c of vectors.cases) {
    const { code, stdout, stderr } = await runCli(withVectorsDir(c.args, VECTORS_DIR), c.input === null ? '' : JSON.stringify(c.input));
    assert.equal(code, 0, `${c.name}: ${stderr}`);
    assertClose(JSON.parse(stdout), c.output, vectors.tolerance, c.name);
  }
});

test('the TypeScript CLI still gives each bad input its recorded message and exit code 2', async () => {
  for (const e of vectors.errors) {
    const { code, stdout, stderr } = await runCli(withVectorsDir(e.args, VECTORS_DIR), e.stdin);
    assert.equal(code, 2, `${e.name}: exit code`);
    assert.equal(stdout, '', e.name);
    const message = stderr.replace(/^prpo-studio advantages: /, '').trimEnd().split(VECTORS_DIR).join(VECTORS_DIR_MARK);
    if (e.match === 'exact') assert.equal(message, e.message, e.name);
    else assert.ok(message.startsWith(e.message), `${e.name}: ${message}`);
  }
});
