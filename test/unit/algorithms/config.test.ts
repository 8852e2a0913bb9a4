import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfigError,
  computeAdvantages,
  estimatorNames,
  registerEstimator,
  resolveConfig,
  unregisterEstimator,
  viewsFor,
  type Estimator,
} from '../../../src/core/algorithms';

test('presets carry the documented defaults (ALGORITHMS.md §1–§6)', () => {
  const grpo = resolveConfig('grpo');
  assert.equal(grpo.clipLow, 0.2);
  assert.equal(grpo.clipHigh, 0.2);
  assert.equal(grpo.dynamicSampling, false);
  assert.equal(grpo.normalizeByStd, true);
  const dapo = resolveConfig('dapo');
  assert.deepEqual([dapo.clipLow, dapo.clipHigh, dapo.dualClip, dapo.sampledNllCoef, dapo.klCoef], [0.2, 0.28, 3, 0, 0]);
  assert.deepEqual([dapo.dynamicSampling, dapo.maxResampleTries, dapo.accuracyLow, dapo.accuracyHigh], [true, 3, 0.01, 0.99]);
  const vppo = resolveConfig('vppo');
  assert.deepEqual([vppo.topK, vppo.betaMin, vppo.sampledNllCoef, vppo.clipHigh, vppo.dynamicSampling], [0.4, 0.9, 0.06, 0.28, true]);
  const pgpo = resolveConfig('pgpo');
  assert.deepEqual([pgpo.tau, pgpo.beta, pgpo.sampledNllCoef], [0.4, 2.0, 0]);
  const prpo = resolveConfig('prpo');
  assert.deepEqual(
    [prpo.rvd, prpo.lambda, prpo.quantile, prpo.kappa, prpo.masks, prpo.tau, prpo.beta, prpo.massConserving, prpo.threshold],
    ['soft', 1, 0.8, 1, 4, 0.4, 1.0, false, null],
  );
  assert.equal(prpo.estimator, 'prpo');
  assert.equal(prpo.kl, 'k3');
  assert.deepEqual([prpo.groundingFloor, prpo.instabilityFloor], [0.01, 0.05]); // §4 floors G₀, U₀ in nats
});

test('overrides apply, and a resolved config round-trips', () => {
  const c = resolveConfig('prpo', { tau: 0.3, rvd: 'gate', threshold: { quantile: 0.7 }, normalizeByStd: false });
  assert.equal(c.tau, 0.3);
  assert.equal(c.rvd, 'gate');
  assert.deepEqual(c.threshold, { quantile: 0.7 });
  assert.deepEqual(resolveConfig('prpo', JSON.parse(JSON.stringify(c))), c);
});

test('bad keys are named: unknown preset, unknown key, wrong type, out of range', () => {
  const err = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof ConfigError && re.test(e.message), String(re));
  err(() => resolveConfig('ppo'), /^algorithm: expected one of grpo, dapo, vppo, pgpo, prpo, got "ppo"$/);
  err(() => resolveConfig('pgpo', { tau: 'x' }), /^config\.tau: expected a number in \[0, 1\), got "x"$/);
  err(() => resolveConfig('pgpo', { tau: 1 }), /^config\.tau: expected a number in \[0, 1\), got 1$/);
  err(() => resolveConfig('pgpo', { tua: 0.3 }), /^config\.tua: unknown key/);
  err(() => resolveConfig('prpo', { rvd: 'hard' }), /^config\.rvd: expected "soft", "gate" or "multimask", got "hard"$/);
  err(() => resolveConfig('prpo', { massConserving: 'yes' }), /^config\.massConserving: expected true or false/);
  err(() => resolveConfig('prpo', { threshold: { q: 0.5 } }), /^config\.threshold: expected null or \{"quantile"/);
  err(() => resolveConfig('vppo', { topK: 0 }), /^config\.topK: expected a number in \(0, 1\]/);
  err(() => resolveConfig('prpo', { groundingFloor: -0.01 }), /^config\.groundingFloor: expected a number ≥ 0 \(nats\), got -0\.01$/);
  err(() => resolveConfig('prpo', { instabilityFloor: '0.05' }), /^config\.instabilityFloor: expected a number ≥ 0 \(nats\), got "0\.05"$/);
  err(() => resolveConfig('prpo', { masks: 1 }), /^config\.masks: expected an integer ≥ 2, got 1$/);
  err(() => resolveConfig('dapo', { dualClip: 1 }), /^config\.dualClip: expected a number > 1/);
  err(() => resolveConfig('dapo', { accuracyLow: 0.5, accuracyHigh: 0.4 }), /^config\.accuracyLow: expected less than accuracyHigh/);
  err(() => resolveConfig('dapo', { estimator: 'nope' }), /^config\.estimator: expected the name of a registered estimator/);
  err(() => resolveConfig('dapo', { preset: 'vppo' }), /^config\.preset: expected "dapo", got "vppo"$/);
});

test('viewsFor says which probe views the trainer must score', () => {
  assert.deepEqual(viewsFor(resolveConfig('grpo')), { views: ['image'], perturbedSamples: 0 });
  assert.deepEqual(viewsFor(resolveConfig('dapo')), { views: ['image'], perturbedSamples: 0 });
  assert.deepEqual(viewsFor(resolveConfig('vppo')), { views: ['image', 'perturbed'], perturbedSamples: 1 });
  assert.deepEqual(viewsFor(resolveConfig('pgpo')), { views: ['image', 'blind'], perturbedSamples: 0 });
  assert.deepEqual(viewsFor(resolveConfig('prpo')), { views: ['image', 'blind', 'mild'], perturbedSamples: 0 });
  assert.deepEqual(viewsFor(resolveConfig('prpo', { rvd: 'multimask', masks: 6 })), { views: ['image', 'perturbed'], perturbedSamples: 6 });
});

test('a user estimator is registered by name and selected by config.estimator', () => {
  const flip: Estimator = {
    description: 'test: negate the outcome advantage',
    views: () => ({ views: ['image'], perturbedSamples: 0 }),
    reshape: (_c, rollouts, A) => rollouts.map((r, i) => ({ id: r.id, advantage: A[i], tokenAdvantages: Float64Array.from(r.logp.image, () => -A[i]) })),
  };
  registerEstimator('flip', flip);
  try {
    assert.ok(estimatorNames().includes('flip'));
    assert.throws(() => registerEstimator('flip', flip), /already registered/);
    const c = resolveConfig('dapo', { estimator: 'flip' });
    const out = computeAdvantages(c, [
      { id: 'a', group: 'g', reward: 1, logp: { image: [-1, -2] } },
      { id: 'b', group: 'g', reward: 0, logp: { image: [-1] } },
    ]);
    assert.ok(out[0].advantage > 0);
    assert.deepEqual(Array.from(out[0].tokenAdvantages), [-out[0].advantage, -out[0].advantage]);
  } finally {
    unregisterEstimator('flip');
  }
  assert.ok(!estimatorNames().includes('flip'));
  assert.throws(() => registerEstimator('bad name', flip), /invalid name/);
});

test('§5 keys: sampledNllCoef (vppo 0.06), the old name entropyCoef still read, entropyBonus default 0', () => {
  assert.equal(resolveConfig('vppo').sampledNllCoef, 0.06);
  for (const p of ['grpo', 'dapo', 'vppo', 'pgpo', 'prpo']) assert.equal(resolveConfig(p).entropyBonus, 0, p);
  assert.equal(resolveConfig('vppo', { entropyCoef: 0 }).sampledNllCoef, 0, 'old key read');
  assert.equal(resolveConfig('dapo', { entropyCoef: 0.02 }).sampledNllCoef, 0.02);
  assert.ok(!('entropyCoef' in resolveConfig('dapo', { entropyCoef: 0.02 })), 'resolved under the new name only');
  assert.equal(resolveConfig('dapo', { entropyBonus: 0.01 }).entropyBonus, 0.01);
  assert.equal(resolveConfig('dapo', { entropyCoef: 0.1, sampledNllCoef: 0.1 }).sampledNllCoef, 0.1, 'both names agreeing is fine');
  assert.throws(() => resolveConfig('dapo', { entropyCoef: 0.1, sampledNllCoef: 0.2 }), (e: Error) => e instanceof ConfigError && /config.sampledNllCoef: 0.2 and its old name entropyCoef 0.1 disagree \(give one of them\)/.test(e.message));
  assert.throws(() => resolveConfig('dapo', { entropyBonus: -1 }), /config.entropyBonus: expected a number ≥ 0/);
});
