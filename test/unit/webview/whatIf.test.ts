// What-if reshaping (issue 15): the webview's pure logic against the core estimators, numbers equal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeAdvantages, getEstimator, resolveConfig, type AlgorithmConfig } from '../../../src/core/algorithms';
import { packRollouts } from '../../../src/core/view/pack';
import { runAlgorithmConfig, runWhatIf, whatIfFacts, whatIfMissing, whatIfRunConfig, type PackedRolloutRef, runSourceOf } from '../../../src/core/view/whatIf';
import type { RolloutRecord } from '../../../src/core/run/schema';
import { makeStep } from '../../fixtures/webviewFixtures';

/** A step whose rollouts logged every view (the fixture's perturbed view: the blind one's log-probs shifted). */
function fullStep(rollouts: number, groupSize: number, tokens: number, seed: number): RolloutRecord[] {
  const records = makeStep(1, rollouts, groupSize, tokens, seed);
  for (const r of records) r.logp.perturbed = r.logp.blind!.map((v) => v + 0.05);
  return records;
}

/** Rollouts as the trajectory view holds them: packed in two batches (the first part, then the rest). */
function refs(records: RolloutRecord[], split = 5): PackedRolloutRef[] {
  const out: PackedRolloutRef[] = [];
  for (const part of [records.slice(0, split), records.slice(split)]) {
    const batch = packRollouts(1, part);
    part.forEach((_, r) => out.push({ batch, meta: batch.meta[r], start: batch.tokenStart[r], end: batch.tokenStart[r + 1] }));
  }
  return out;
}

const f32 = (row: number[] | undefined) => row && Float32Array.from(row);
/** The core's input from the records' own arrays, at the packed columns' float32 precision. */
const asInput = (r: RolloutRecord) => ({
  id: r.id,
  group: r.group,
  reward: r.reward,
  logp: { image: f32(r.logp.image)!, blind: f32(r.logp.blind), mild: f32(r.logp.mild), perturbed: f32(r.logp.perturbed as number[]) },
  labels: r.perceptual,
});
/** The estimator on the logged outcome advantages (the what-if changes the reshaping, not Aᵢ). */
const reshape = (config: AlgorithmConfig, records: RolloutRecord[]) => getEstimator(config.estimator).reshape(config, records.map(asInput), Float64Array.from(records, (r) => r.advantage));
const logged = (ro: PackedRolloutRef) => ro.batch.fields.tokenAdvantage?.subarray(ro.start, ro.end);

test('what-if Ã equals the core estimators on the logged log-probs and Aᵢ, for every preset the packed view supports', () => {
  const records = fullStep(12, 4, 20, 3);
  const ros = refs(records);
  for (const config of [
    resolveConfig('prpo', { tau: 0.2, beta: 1.5, lambda: 2 }),
    resolveConfig('prpo', { rvd: 'gate', massConserving: true, groundingFloor: 0 }),
    resolveConfig('pgpo', { tau: 0.1 }),
    resolveConfig('vppo', { topK: 0.3, betaMin: 0.5 }),
    resolveConfig('dapo'),
    resolveConfig('prpo', { estimator: 'oracle' }),
  ]) {
    assert.equal(whatIfMissing(config, ros), undefined, config.estimator);
    const want = reshape(config, records);
    const got = runWhatIf(config, ros, logged);
    assert.equal(got.outcome, 'logged');
    assert.equal(got.tokenAdvantages.length, records.length);
    got.tokenAdvantages.forEach((row, i) => assert.deepEqual(row, want[i].tokenAdvantages, `${config.estimator} rollout ${i}`));
    // The recolour columns carry the same numbers at each rollout's place in its batch.
    ros.forEach((ro, i) => {
      const cols = got.columns.get(ro.batch)!;
      const at = (c: Float32Array) => [...c.subarray(ro.start, ro.end)];
      const f32 = (row: ArrayLike<number> | undefined) => (row ? Array.from(row, Math.fround) : at(cols.weight).map(() => NaN));
      assert.deepEqual(at(cols.tokenAdvantage), f32(want[i].tokenAdvantages));
      assert.deepEqual(at(cols.weight), f32(want[i].weights), `${config.estimator} weights`);
      assert.deepEqual(at(cols.mask), f32(want[i].mask), `${config.estimator} mask`);
      assert.deepEqual(at(cols.rvd), f32(want[i].scores?.rvd), `${config.estimator} rvd`);
    });
  }
});

test('the summary counts what moved against the logged Ã', () => {
  const records = fullStep(8, 4, 15, 5);
  const ros = refs(records, 3);
  const config = resolveConfig('vppo', { topK: 0.5 });
  const { summary, tokenAdvantages } = runWhatIf(config, ros, logged);
  const want = reshape(config, records);
  let tokens = 0, boosted = 0, masked = 0, flips = 0, over = 0;
  const masses: number[] = [];
  records.forEach((r, i) => {
    const A = want[i].advantage;
    let sum = 0;
    tokenAdvantages[i].forEach((x, k) => {
      tokens++;
      sum += x;
      if (A !== 0 && Math.abs(x) > Math.abs(A) * (1 + 1e-9)) boosted++;
      else if (A !== 0 && x === 0) masked++;
      const o = Math.fround(r.tokenAdvantages[k]);
      if (o * x < 0) flips++;
      if (Math.abs(x - o) > 0.5 * Math.abs(o)) over++;
    });
    if (A !== 0) masses.push(sum / (A * r.tokens.length));
  });
  assert.ok(masked > 0, 'VPPO at top-k 0.5 masks half the tokens');
  assert.deepEqual(
    { tokens, boosted, masked, flips, over, mean: masses.reduce((a, b) => a + b, 0) / masses.length, min: Math.min(...masses), max: Math.max(...masses) },
    { tokens: summary.tokens, boosted: summary.boosted, masked: summary.masked, flips: summary.signChanged, over: summary.changedOver50, ...summary.mass },
  );
});

test('without logged outcome advantages, Aᵢ are recomputed from the rewards: computeAdvantages exactly', () => {
  const records = fullStep(8, 4, 12, 11);
  for (const r of records) delete (r as { advantage?: number }).advantage;
  const config = resolveConfig('prpo', { tau: 0.25 });
  const got = runWhatIf(config, refs(records, 3), logged);
  assert.equal(got.outcome, 'recomputed');
  assert.deepEqual(got.tokenAdvantages, computeAdvantages(config, records.map(asInput)).map((o) => o.tokenAdvantages));
  assert.match(whatIfFacts(got.summary).at(-1)!.value, /Aᵢ recomputed/);
});

test('a step without the views the settings need is named, not computed', () => {
  const records = makeStep(1, 6, 3, 10, 7);
  for (const r of records) delete (r.logp as { blind?: number[] }).blind;
  const ros = refs(records, 2);
  assert.match(whatIfMissing(resolveConfig('prpo'), ros)!, /prpo needs log p \(blind\), and no rollout of this step has it/);
  assert.match(whatIfMissing(resolveConfig('pgpo'), ros)!, /log p \(blind\)/);
  assert.match(whatIfMissing(resolveConfig('prpo', { rvd: 'multimask' }), ros)!, /Multimask RVD needs the log-probs of 4 perturbed masks/);
  assert.match(whatIfMissing(resolveConfig('prpo', { kl: 'exact' }), ros)!, /exact full-vocabulary KLs/);
  assert.match(whatIfMissing(resolveConfig('vppo'), ros)!, /log p \(perturbed\)/);
  assert.equal(whatIfMissing(resolveConfig('grpo'), ros), undefined);
  // Some rollouts with a view and some without: how many, and which first.
  const mixed = makeStep(1, 4, 2, 10, 9);
  delete (mixed[2].logp as { mild?: number[] }).mild;
  assert.match(whatIfMissing(resolveConfig('prpo'), refs(mixed, 2))!, /1 of 4 rollouts \(first: s1-r2\) lack it/);
});

test('the run config: the run\'s algorithm keys only, and a saved file holds what differs from the preset', () => {
  const config = runAlgorithmConfig('prpo', { tau: 0.3, mildSigma: 0.1, patchDropProb: 0.5, steps: 40, model: 'x' });
  assert.equal(config.tau, 0.3);
  assert.deepEqual(whatIfRunConfig({ ...config, beta: 2, rvd: 'gate' }, 'what-if'), { preset: 'prpo', name: 'what-if', config: { tau: 0.3, beta: 2, rvd: 'gate' } });
  assert.throws(() => runAlgorithmConfig('prpo', { tau: 7 }), /config\.tau: expected a number in \[0, 1\)/);
});

test('a what-if run config from a PyTorch run trains on its model and data; a built-in run needs nothing more', () => {
  const pytorch = {
    model: { config: { path: '/models/qwen', ref: 'Qwen/Qwen2-VL-2B-Instruct', backend: 'pytorch', dtype: 'bf16' } },
    task: { config: { data: '/data/shapes', examples: 256 } },
  };
  assert.deepEqual(runSourceOf(pytorch), { model: 'Qwen/Qwen2-VL-2B-Instruct', data: '/data/shapes', dtype: 'bf16' });
  // Without the reference it was started with, the folder it loaded; a dtype the config reader refuses is left out.
  assert.deepEqual(runSourceOf({ model: { config: { path: '/models/qwen', backend: 'pytorch', dtype: 'float16' } }, task: { config: { data: '/d' } } }), { model: '/models/qwen', data: '/d' });
  assert.deepEqual(runSourceOf({ model: { config: { layers: 2 } }, task: { config: { data: 'shapes' } } }), {});
  assert.deepEqual(runSourceOf(undefined), {});
});
