import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterGroupsForDynamicSampling, k3, policyLossReference, resolveConfig } from '../../../src/core/algorithms';
import { rng } from './random';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} ≉ ${b} (tol ${tol})`);
const opts = { clipLow: 0.2, clipHigh: 0.28, dualClip: 3, sampledNllCoef: 0, entropyBonus: 0, klCoef: 0 };

test('§5 clipped surrogate, per token: unclipped, clipped above/below, dual clip', () => {
  const ln = Math.log;
  // one token each: (Ã, r) → pg
  const cases: Array<[number, number, number]> = [
    [1, 1.1, -1.1], // inside the trust region: −Ã r
    [1, 1.5, -1.28], // Ã > 0, r above 1 + ε_high: −Ã (1.28)
    [1, 0.5, -0.5], // Ã > 0, r below 1 − ε_low: max(−0.5, −0.8) = −0.5 (pessimistic)
    [-1, 0.5, 0.8], // Ã < 0, r below: max(0.5, 0.8) = 0.8
    [-1, 1.5, 1.5], // Ã < 0, r above: max(1.5, 1.28) = 1.5, below C = 3
    [-1, 5, 3], // Ã < 0, huge r: dual clip at −C Ã = 3
    [0, 7, 0], // a VPPO-masked token adds 0
  ];
  for (const [a, r, pg] of cases) {
    const out = policyLossReference({ logpNew: [[ln(r)]], logpOld: [[0]], advantages: [[a]] }, opts);
    close(out.pgLoss, pg, 1e-12);
  }
  // token-mean over all valid tokens of the batch, masked ones included
  const all = policyLossReference(
    { logpNew: [cases.slice(0, 4).map((c) => ln(c[1])), cases.slice(4).map((c) => ln(c[1]))], logpOld: [[0, 0, 0, 0], [0, 0, 0]], advantages: [cases.slice(0, 4).map((c) => c[0]), cases.slice(4).map((c) => c[0])] },
    opts,
  );
  close(all.pgLoss, cases.reduce((s, c) => s + c[2], 0) / 7, 1e-12);
  assert.equal(all.tokens, 7);
  close(all.clipFraction, 2 / 7); // pg2 > pg1 for (1, 1.5) and (−1, 0.5); (−1, 5) is the dual clip
  close(all.dualClipFraction, 1 / 7);
  close(all.approxKl, -cases.reduce((s, c) => s + ln(c[1]), 0) / 7, 1e-12);
  // GRPO's symmetric clip
  const grpo = resolveConfig('grpo');
  close(policyLossReference({ logpNew: [[ln(1.5)]], logpOld: [[0]], advantages: [[1]] }, grpo).pgLoss, -1.2);
});

test('§5 sampled-NLL and KL terms: loss = pg + c_nll · mean(−logp_new) + c_kl · mean k3(new, ref)', () => {
  const input = { logpNew: [[-0.5, -1.5], [-2]], logpOld: [[-0.5, -1.5], [-2]], advantages: [[1, 1], [-1]], logpRef: [[-0.7, -1.0], [-2]] };
  const out = policyLossReference(input, { ...opts, sampledNllCoef: 0.06, entropyBonus: 0, klCoef: 0.1 });
  const pg = (-1 - 1 + 1) / 3;
  const ent = (0.5 + 1.5 + 2) / 3;
  const kl = (k3(-0.5, -0.7) + k3(-1.5, -1.0) + 0) / 3;
  close(out.pgLoss, pg);
  close(out.entropyLoss, ent);
  close(out.klLoss, kl);
  close(out.loss, pg + 0.06 * ent + 0.1 * kl);
  const vppo = resolveConfig('vppo');
  close(policyLossReference(input, vppo).loss, pg + 0.06 * ent); // vppo preset: sampled-NLL 0.06, no KL
  // The entropy bonus: − c_H · mean H over the given full-vocabulary entropies; it leaves ∂/∂logp_new alone.
  const entropy = [[1.2, 0.4], [2.0]];
  const withBonus = policyLossReference({ ...input, entropy }, { ...opts, entropyBonus: 0.05 });
  close(withBonus.loss, pg - 0.05 * (1.2 + 0.4 + 2.0) / 3);
  assert.deepEqual(withBonus.gradLogpNew, policyLossReference(input, opts).gradLogpNew);
  assert.throws(() => policyLossReference({ ...input, entropy: [[1], [2]] }, opts), /different lengths/);
});

test('§5 gradient with respect to logp_new matches finite differences', () => {
  const rand = rng(5);
  const n = 40;
  const logpOld = Array.from({ length: n }, () => -3 * rand());
  const logpNew = logpOld.map((x) => x + (rand() - 0.5) * 1.2);
  const logpRef = logpOld.map((x) => x + (rand() - 0.5) * 2);
  const adv = Array.from({ length: n }, () => (rand() - 0.5) * 4);
  adv[3] = -2;
  logpNew[3] = logpOld[3] + 1.5; // dual clip region
  const o = { ...opts, sampledNllCoef: 0.06, entropyBonus: 0, klCoef: 0.2 };
  const f = (lp: number[]) => policyLossReference({ logpNew: [lp.slice(0, 25), lp.slice(25)], logpOld: [logpOld.slice(0, 25), logpOld.slice(25)], advantages: [adv.slice(0, 25), adv.slice(25)], logpRef: [logpRef.slice(0, 25), logpRef.slice(25)] }, o);
  const grad = f(logpNew).gradLogpNew.flat();
  const h = 1e-6;
  for (let t = 0; t < n; t++) {
    const up = logpNew.slice();
    const down = logpNew.slice();
    up[t] += h;
    down[t] -= h;
    close(grad[t], (f(up).loss - f(down).loss) / (2 * h), 1e-6);
  }
  close(grad[3], (-0.06 + 0.2 * (1 - Math.exp(logpRef[3] - logpNew[3]))) / n, 1e-15); // pg term held by the dual clip
});

test('§5 dynamic sampling keeps groups with mean accuracy strictly inside (0.01, 0.99)', () => {
  const rollouts = [
    { id: '1', group: 'all-right', correct: true },
    { id: '2', group: 'all-right', correct: true },
    { id: '3', group: 'mixed', correct: true },
    { id: '4', group: 'mixed', correct: false },
    { id: '5', group: 'all-wrong', correct: false },
    { id: '6', group: 'mixed', correct: false },
  ];
  const r = filterGroupsForDynamicSampling(rollouts);
  assert.deepEqual(r.kept.map((x) => x.id), ['3', '4', '6']);
  assert.deepEqual(r.keptGroups, ['mixed']);
  assert.deepEqual(r.droppedGroups, ['all-right', 'all-wrong']);
  close(r.groupAccuracy.get('mixed')!, 1 / 3);
  // reward as accuracy, config bounds, custom accessor
  const byReward = [
    { group: 'a', reward: 0.995 },
    { group: 'b', reward: 0.5 },
    { group: 'c', reward: 0.005 },
  ];
  assert.deepEqual(filterGroupsForDynamicSampling(byReward).keptGroups, ['b']);
  assert.deepEqual(filterGroupsForDynamicSampling(byReward, { ...resolveConfig('dapo'), accuracyHigh: 0.999 }).keptGroups, ['a', 'b']);
  assert.deepEqual(filterGroupsForDynamicSampling(byReward, { accuracy: (x) => 1 - x.reward, accuracyLow: 0.001 }).keptGroups, ['a', 'b']);
});
