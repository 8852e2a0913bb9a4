import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  computeAdvantages,
  conserveMass,
  minmax,
  minmaxFloor,
  outcomeAdvantages,
  parWeights,
  quantile,
  resolveConfig,
  tasWeights,
  tgfCount,
  tgfMask,
  type RolloutInput,
} from '../../../src/core/algorithms';
import { randomBatch } from './random';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} ≉ ${b} (tol ${tol})`);
const closeAll = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-9) => {
  assert.equal(a.length, b.length, 'lengths');
  for (let i = 0; i < a.length; i++) close(a[i], b[i], tol);
};
/** A = ±0.5 / (std + 1e-6) for rewards {1, 0}: std = sqrt(1/2). */
const A10 = 0.5 / (Math.SQRT1_2 + 1e-6);

test('§1 GRPO: hand values; Dr.GRPO; a group of one uses mean 0, std 1; equal rewards give 0', () => {
  const A = outcomeAdvantages([1, 0, 0, 1, 0.7, 0.3, 0.3], ['a', 'a', 'a', 'a', 'solo', 'same', 'same']);
  const sd = Math.sqrt(1 / 3); // rewards 1,0,0,1: mean .5, Σ(x−m)² = 1, /(N−1) = 1/3
  closeAll(A.slice(0, 4), [0.5 / (sd + 1e-6), -0.5 / (sd + 1e-6), -0.5 / (sd + 1e-6), 0.5 / (sd + 1e-6)]);
  close(A[4], 0.7 / (1 + 1e-6)); // a group of one: mean 0, std 1
  assert.deepEqual(Array.from(A.slice(5)), [0, 0]);
  const dr = outcomeAdvantages([1, 0, 0, 1, 0.7], ['a', 'a', 'a', 'a', 'solo'], false);
  closeAll(dr, [0.5, -0.5, -0.5, 0.5, 0.7]); // Dr.GRPO: R − mean, no ε
  const out = computeAdvantages(resolveConfig('grpo'), [
    { id: 'x', group: 'g', reward: 1, logp: { image: [-1, -2, -3] } },
    { id: 'y', group: 'g', reward: 0, logp: { image: [-1] } },
  ]);
  closeAll(out[0].tokenAdvantages, [A10, A10, A10]);
  closeAll(out[1].tokenAdvantages, [-A10]);
});

test('§2 VPPO: hand-checked mask (ties to the earlier token), α and Ã', () => {
  const ln2 = Math.LN2;
  const s1 = 2 - ln2 - 1; // k3(0, ln 2)
  const s2 = 0.5 + ln2 - 1; // k3(0, −ln 2)
  const rollouts: RolloutInput[] = [
    // S = [s1, 0, s1, 0, s2]; k = ceil(0.4·5) = 2 → tokens 0 and 2
    { id: 'a', group: 'g', reward: 1, logp: { image: [0, 0, 0, 0, 0], perturbed: [ln2, 0, ln2, 0, -ln2] } },
    // S = [s2, s2, s2, 0]; k = ceil(1.6) = 2 → the earlier two of three tied tokens
    { id: 'b', group: 'g', reward: 0, logp: { image: [-1, -1, -1, -1], perturbed: [-1 - ln2, -1 - ln2, -1 - ln2, -1] } },
  ];
  const [a, b] = computeAdvantages(resolveConfig('vppo'), rollouts);
  closeAll(a.scores!.S!, [s1, 0, s1, 0, s2]);
  assert.deepEqual(Array.from(a.mask!), [1, 0, 1, 0, 0]);
  assert.deepEqual(Array.from(b.mask!), [1, 1, 0, 0]);
  // S̄_a > S̄_b: n = [1, 0], μ = 0.5, β_max = 0.9 + 0.1/(0.5 + 1e-8)
  const betaMax = 0.9 + 0.1 / (0.5 + 1e-8);
  close(a.alpha!, betaMax);
  close(b.alpha!, 0.9);
  closeAll(a.tokenAdvantages, [betaMax * A10, 0, betaMax * A10, 0, 0]);
  closeAll(b.tokenAdvantages, [-0.9 * A10, -0.9 * A10, 0, 0]);
  close(a.advantage, A10);
});

test('§2 VPPO TGF count and TAS edge cases', () => {
  assert.equal(tgfCount(0.07, 100), 7); // 0.07·100 is 7.000000000000001 in doubles
  assert.equal(tgfCount(0.28, 25), 7); // 7.000000000000001 too
  assert.equal(tgfCount(0.4, 15), 6);
  assert.equal(tgfCount(0.4, 1), 1);
  assert.equal(tgfCount(0.4, 3), 2);
  assert.equal(tgfCount(1, 7), 7);
  assert.deepEqual(Array.from(tgfMask([2, 2, 2, 2, 2], 0.4)), [1, 1, 0, 0, 0]); // all equal: the earliest
  assert.deepEqual(Array.from(tasWeights([0.3, 0.3 + 1e-7, 0.3], 0.9)), [1, 1, 1]); // spread ≤ 1e-6
  assert.deepEqual(Array.from(tasWeights([0.5], 0.9)), [1]);
  const alpha = tasWeights([0, 1, 1, 1], 0.5); // μ = 0.75, β_max = 0.5 + 0.5/0.75
  close(alpha[0], 0.5);
  close(alpha[1], 0.5 + 0.5 / (0.75 + 1e-8));
});

test('§3 PGPO: hand-checked gate and mass conservation (exact KL scores supplied)', () => {
  const e = Math.E;
  // log1p S = [0, 1, 2] → I = [0, 1/(2+ε), 2/(2+ε)] ≈ [0, 0.5, 1] → ω ≈ [0, 1 + 2·0.1/0.6, 1 + 2·0.6/0.6] = [0, 4/3, 3]
  const r: RolloutInput = { id: 'a', group: 'solo', reward: 2, logp: { image: [-1, -1, -1] }, dependency: { blind: [0, e - 1, e * e - 1] } };
  const [out] = computeAdvantages(resolveConfig('pgpo', { kl: 'exact' }), [r]);
  const I = [0, 1 / (2 + 1e-6), 2 / (2 + 1e-6)];
  const omega = I.map((x) => (x < 0.4 ? x / (0.4 + 1e-6) : 1 + (2 * (x - 0.4)) / (0.6 + 1e-6)));
  const sum = omega[0] + omega[1] + omega[2];
  closeAll(out.weights!, omega.map((w) => (w * 3) / sum));
  closeAll(out.weights!, [0, 12 / 13, 27 / 13], 1e-5);
  closeAll(out.tokenAdvantages, out.weights!.map((w) => (2 / (1 + 1e-6)) * w)); // group of one: A = R/(1 + ε)
  // below the threshold the gate suppresses in proportion: I = 0.2 → ω = 0.2/0.4
  const [low] = computeAdvantages(resolveConfig('pgpo', { kl: 'exact', tau: 0.5 }), [
    { id: 'b', group: 'solo', reward: 1, logp: { image: [0, 0, 0] }, dependency: { blind: [0, e ** 0.2 - 1, e - 1] } },
  ]);
  const w = [0, 0.2 / (1 + 1e-6) / (0.5 + 1e-6), 1 + (2 * (1 / (1 + 1e-6) - 0.5)) / (0.5 + 1e-6)];
  const s = w[0] + w[1] + w[2];
  closeAll(low.weights!, w.map((x) => (x * 3) / s));
});

test('§4 PRPO-R soft, gate, multimask, quantile threshold, mass conservation: hand-checked', () => {
  const e = Math.E;
  const G = [0, e - 1, e * e - 1]; // minmax(log1p G) ≈ [0, 0.5, 1]
  const g = [0, 1 / (2 + 1e-6), 2 / (2 + 1e-6)];
  const par = (rvd: number[], tau = 0.4, beta = 1) => rvd.map((x) => 1 + beta * Math.min(1, Math.max(0, (x - tau) / (1 - tau))));
  const base = { id: 'a', group: 'solo', reward: 1, logp: { image: [0, 0, 0] } };

  // soft: U with log1p U = [2, 0, 0] → u ≈ [1, 0, 0] → RVD = [0·e^{−u₀}, g₁, g₂]
  const U = [e * e - 1, 0, 0];
  const [soft] = computeAdvantages(resolveConfig('prpo', { kl: 'exact' }), [{ ...base, dependency: { blind: G, mild: U } }]);
  const rvdSoft = [0, g[1], g[2]];
  closeAll(soft.scores!.rvd!, rvdSoft);
  closeAll(soft.weights!, par(rvdSoft));
  closeAll(soft.weights!, [1, 1 + 0.1 / 0.6, 2], 1e-5);
  closeAll(soft.tokenAdvantages, soft.weights!.map((w) => w / (1 + 1e-6)));
  // λ = 2 damps the unstable token: log1p U = [0, 1, 0] → u ≈ [0, 1, 0]
  const [lam] = computeAdvantages(resolveConfig('prpo', { kl: 'exact', lambda: 2 }), [{ ...base, dependency: { blind: G, mild: [0, e - 1, 0] } }]);
  closeAll(lam.scores!.rvd!, [0, g[1] * Math.exp(-2 * (1 / (1 + 1e-6))), g[2]]);

  // gate: U = [0, 5, 0], q = 0.8: sorted [0, 0, 5], pos 1.6 → quantile 0.6·5 = 3, so token 1 (U = 5) is gated
  const [gate] = computeAdvantages(resolveConfig('prpo', { kl: 'exact', rvd: 'gate' }), [{ ...base, dependency: { blind: G, mild: [0, 5, 0] } }]);
  closeAll(gate.scores!.rvd!, [0, 0, g[2]]);
  closeAll(gate.weights!, [1, 1, 1 + (g[2] - 0.4) / 0.6]);

  // multimask: S¹ = [0, 1, 2], S² = [0, 1, 4] → mean [0, 1, 3], std [0, 0, √2] → minmax(mean − std)
  const [mm] = computeAdvantages(resolveConfig('prpo', { kl: 'exact', rvd: 'multimask' }), [{ ...base, dependency: { perturbed: [[0, 1, 2], [0, 1, 4]] } }]);
  const robust = [0, 1, 3 - Math.SQRT2];
  const rvdMm = robust.map((x) => x / (robust[2] + 1e-6));
  closeAll(mm.scores!.rvd!, rvdMm);
  closeAll(mm.scores!.S!, [0, 1, 3]);
  closeAll(mm.weights!, par(rvdMm));

  // quantile threshold: τ = median of RVD = g₁ → only token 2 is boosted
  const [thr] = computeAdvantages(resolveConfig('prpo', { kl: 'exact', threshold: { quantile: 0.5 } }), [{ ...base, dependency: { blind: G, mild: U } }]);
  close(thr.tau!, g[1]);
  closeAll(thr.weights!, par(rvdSoft, g[1]));
  assert.equal(thr.weights![1], 1);

  // mass conservation: w rescaled to sum to L
  const [mc] = computeAdvantages(resolveConfig('prpo', { kl: 'exact', massConserving: true, beta: 3 }), [{ ...base, dependency: { blind: G, mild: U } }]);
  const w = par(rvdSoft, 0.4, 3);
  closeAll(mc.weights!, w.map((x) => (3 * x) / (w[0] + w[1] + w[2])));
});

test('k3 and exact modes agree when the supplied scores are the k3 values', () => {
  const batch = randomBatch(11);
  for (const preset of ['vppo', 'pgpo', 'prpo'] as const) {
    const k3Out = computeAdvantages(resolveConfig(preset), batch);
    const withScores = batch.map((r, i) => {
      const s = k3Out[i].scores!;
      return { ...r, dependency: preset === 'prpo' ? { blind: s.G, mild: s.U } : preset === 'vppo' ? { perturbed: s.S } : { blind: s.S } };
    });
    const exactOut = computeAdvantages(resolveConfig(preset, { kl: 'exact' }), withScores as RolloutInput[]);
    exactOut.forEach((r, i) => assert.deepEqual(r.tokenAdvantages, k3Out[i].tokenAdvantages));
  }
});

test('properties on random batches: PGPO Σω̃ = L; PRPO-R w ∈ [1, 1+β] and RVD ≤ τ keeps exactly A; VPPO masks ceil(k·L), mean α = 1', () => {
  for (let seed = 1; seed <= 12; seed++) {
    const batch = randomBatch(seed);
    for (const r of computeAdvantages(resolveConfig('pgpo'), batch)) {
      const L = r.tokenAdvantages.length;
      close(r.weights!.reduce((s, w) => s + w, 0), L, 1e-9 * L);
    }
    for (const opts of [{}, { rvd: 'gate' }, { beta: 2.5, tau: 0.1 }, { threshold: { quantile: 0.6 } }]) {
      const c = resolveConfig('prpo', opts);
      for (const r of computeAdvantages(c, batch)) {
        const tau = r.tau ?? c.tau;
        r.weights!.forEach((w, t) => {
          assert.ok(w >= 1 && w <= 1 + c.beta, `w = ${w}`);
          if (r.scores!.rvd![t] <= tau) {
            assert.equal(w, 1);
            assert.equal(r.tokenAdvantages[t], r.advantage); // exactly A, not approximately
          }
        });
      }
    }
    for (const topK of [0.4, 0.1, 0.28, 0.75, 1]) {
      const out = computeAdvantages(resolveConfig('vppo', { topK }), batch);
      for (const r of out) {
        const L = r.mask!.length;
        assert.equal(r.mask!.reduce((s, m) => s + m, 0), Math.ceil(Number((topK * L).toPrecision(12))));
        // ties to the earlier token: every kept token outscores, or ties and precedes, every dropped one
        const S = r.scores!.S!;
        for (let t = 0; t < L; t++) for (let u = 0; u < L; u++) {
          if (r.mask![t] === 1 && r.mask![u] === 0) assert.ok(S[t] > S[u] || (S[t] === S[u] && t < u));
        }
      }
      const meanAlpha = out.reduce((s, r) => s + r.alpha!, 0) / out.length;
      close(meanAlpha, 1, 1e-6);
    }
  }
});

test('degenerate cases: L = 1, all scores equal, a group of one, all rewards equal', () => {
  const one = (id: string, group: string, reward: number, d: number): RolloutInput => ({
    id, group, reward, logp: { image: [-1], blind: [-1 - d], perturbed: [-1 - d], mild: [-1 + d] },
  });
  const batch = [one('a', 'g', 1, 0.5), one('b', 'g', 0, 2), one('c', 'solo', 0.25, 1)];
  for (const preset of ['grpo', 'dapo', 'vppo', 'pgpo', 'prpo'] as const) {
    const out = computeAdvantages(resolveConfig(preset), batch);
    close(out[0].advantage, A10);
    close(out[2].advantage, 0.25 / (1 + 1e-6)); // group of one: mean 0, std 1
    if (preset === 'vppo') {
      assert.deepEqual(out.map((r) => Array.from(r.mask!)), [[1], [1], [1]]);
      // L = 1 still gets its α: the mean S̄ differ across the batch
      out.forEach((r) => close(r.tokenAdvantages[0], r.alpha! * r.advantage));
    } else {
      // one token: minmax gives 0, PGPO's ω sums to 0 → ω̃ = 1; PRPO-R's RVD = 0 → w = 1
      out.forEach((r) => assert.deepEqual(Array.from(r.tokenAdvantages), [r.advantage]));
    }
  }
  // all scores equal within a response → no reshaping (PGPO, PRPO-R); VPPO keeps the earliest ceil(k·L)
  const flat: RolloutInput[] = [
    { id: 'a', group: 'g', reward: 1, logp: { image: [-1, -2, -3], blind: [-2, -3, -4], perturbed: [-2, -3, -4], mild: [-1, -2, -3] } },
    { id: 'b', group: 'g', reward: 0, logp: { image: [-1, -2, -3], blind: [-2, -3, -4], perturbed: [-2, -3, -4], mild: [-1, -2, -3] } },
  ];
  for (const preset of ['pgpo', 'prpo'] as const) {
    for (const r of computeAdvantages(resolveConfig(preset), flat)) assert.deepEqual(Array.from(r.weights!), [1, 1, 1]);
  }
  const v = computeAdvantages(resolveConfig('vppo'), flat);
  assert.deepEqual(Array.from(v[0].mask!), [1, 1, 0]);
  assert.deepEqual([v[0].alpha, v[1].alpha], [1, 1]); // equal S̄ across the batch → α = 1
  // all rewards equal → A = 0 and every Ã = 0 whatever the reshaping
  const same = flat.map((r) => ({ ...r, reward: 0.5, logp: { ...r.logp, blind: [-9, -2, -3] } }));
  for (const preset of ['grpo', 'vppo', 'pgpo', 'prpo'] as const) {
    for (const r of computeAdvantages(resolveConfig(preset), same)) {
      assert.equal(r.advantage, 0);
      r.tokenAdvantages.forEach((x) => assert.equal(Math.abs(x), 0));
    }
  }
  assert.deepEqual(Array.from(conserveMass([0, 0, 0])), [1, 1, 1]);
  assert.deepEqual(Array.from(parWeights([0.4, 0.39, 1, 0.7], 0.4, 1)), [1, 1, 2, 1.5]);
});

test('§4 PRPO-R floors: 0 gives the plain minmax; max G below G₀ boosts nothing; tiny U everywhere damps nothing', () => {
  // Floors 0 reproduce the first version's RVD = minmax(log1p G) · exp(−λ minmax(log1p U)) on random batches.
  const plain = (x: ArrayLike<number>) => Array.from(minmax(Array.from(x, (v) => Math.log1p(v))));
  for (const seed of [3, 4, 5]) {
    const batch = randomBatch(seed);
    const out = computeAdvantages(resolveConfig('prpo', { groundingFloor: 0, instabilityFloor: 0 }), batch);
    out.forEach((r) => {
      const g = plain(r.scores!.G!);
      const u = plain(r.scores!.U!);
      closeAll(r.scores!.rvd!, g.map((x, t) => x * Math.exp(-u[t])), 1e-12);
    });
    const gate = computeAdvantages(resolveConfig('prpo', { rvd: 'gate', groundingFloor: 0 }), batch);
    gate.forEach((r) => {
      const g = plain(r.scores!.G!);
      const uq = quantile(r.scores!.U!, 0.8);
      closeAll(r.scores!.rvd!, g.map((x, t) => (r.scores!.U![t] <= uq ? x : 0)), 1e-12);
    });
  }
  const base = { id: 'a', group: 'solo', reward: 1, logp: { image: [0, 0, 0] } };
  // max G = 0.003 < G₀ = 0.01: ĝ ≤ log1p(0.003)/log1p(0.01) ≈ 0.30 < τ = 0.4 — no token gets a boost …
  const weakG = [0, 0.001, 0.003];
  const [weak] = computeAdvantages(resolveConfig('prpo', { kl: 'exact' }), [{ ...base, dependency: { blind: weakG, mild: [0, 0, 0] } }]);
  closeAll(weak.scores!.rvd!, weakG.map((x) => Math.log1p(x) / Math.log1p(0.01)));
  assert.deepEqual(Array.from(weak.weights!), [1, 1, 1]);
  assert.deepEqual(Array.from(weak.tokenAdvantages), [weak.advantage, weak.advantage, weak.advantage]);
  // … while without the floor the largest of these tiny scores is ranked 1 and boosted to 1 + β.
  const [noFloor] = computeAdvantages(resolveConfig('prpo', { kl: 'exact', groundingFloor: 0 }), [{ ...base, dependency: { blind: weakG, mild: [0, 0, 0] } }]);
  close(noFloor.weights![2], 2, 1e-3);
  // Tiny U everywhere (≤ 0.001 nats, far below U₀ = 0.05): û ≤ log1p(0.001)/log1p(0.05) ≈ 0.02, RVD ≈ ĝ.
  const G = [0, Math.E - 1, Math.E * Math.E - 1];
  const tinyU = [0.001, 0, 0.001];
  const [stable] = computeAdvantages(resolveConfig('prpo', { kl: 'exact' }), [{ ...base, dependency: { blind: G, mild: tinyU } }]);
  const g = [0, 1 / (2 + 1e-6), 2 / (2 + 1e-6)];
  const u = tinyU.map((x) => Math.log1p(x) / Math.log1p(0.05));
  closeAll(stable.scores!.rvd!, g.map((x, t) => x * Math.exp(-u[t])));
  assert.ok(stable.scores!.rvd![2] > 0.97 * g[2], 'the grounded token keeps its RVD');
  // Without the floor, the same tiny U is stretched to [1, 0, 1] and halves the grounded token's RVD.
  const [unfloored] = computeAdvantages(resolveConfig('prpo', { kl: 'exact', instabilityFloor: 0 }), [{ ...base, dependency: { blind: G, mild: tinyU } }]);
  close(unfloored.scores!.rvd![2], g[2] * Math.exp(-Math.log1p(0.001) / (Math.log1p(0.001) + 1e-6)), 1e-9);
  assert.deepEqual(Array.from(minmaxFloor([0, 0.5, 1], 0)), Array.from(minmax([0, 0.5, 1])));
});
