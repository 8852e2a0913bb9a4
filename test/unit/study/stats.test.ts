// The study's statistics against hand-computed values (df = 2 has closed forms:
// F(t) = 1/2 + t / (2√(2 + t²)), so t_p = u·√(2 / (1 − u²)) with u = 2p − 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { holm, meanCi, minimumDetectableEffect, pairedDifference, tCdf, tQuantile } from '../../../src/core/study/stats';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) < tol, `${what}: ${a} vs ${b}`);

test('Student t: CDF and quantiles match the closed form at df = 2 and tables at df = 1, 3, 4, 5, 30', () => {
  for (const t of [-3, -0.5, 0, 1, 3.4641016]) close(tCdf(t, 2), 0.5 + t / (2 * Math.sqrt(2 + t * t)), 1e-12, `F(${t})`);
  close(tQuantile(0.975, 2), 0.95 * Math.sqrt(2 / (1 - 0.95 ** 2)), 1e-9, 't.975,2'); // 4.302653
  close(tQuantile(0.975, 4), 2.7764451051977987, 1e-9, 't.975,4');
  close(tQuantile(0.975, 30), 2.0422724563012373, 1e-9, 't.975,30');
  close(tQuantile(0.975, 3), 3.182446305284263, 1e-9, 't.975,3');
  close(tQuantile(0.975, 5), 2.570581835636314, 1e-9, 't.975,5');
  close(tCdf(1, 1), 0.75, 1e-15, 'Cauchy F(1)');
  close(tQuantile(0.8, 2), 0.6 * Math.sqrt(2 / (1 - 0.36)), 1e-9, 't.8,2'); // 1.06066
});

test('mean ± 95 % CI with t on n − 1 df', () => {
  const ci = meanCi([1, 2, 3]);
  assert.equal(ci.mean, 2);
  assert.equal(ci.sd, 1);
  close(ci.half, 4.302652729911275 / Math.sqrt(3), 1e-9, 'half-width'); // 2.484138
  close(ci.lo, 2 - 2.484138, 1e-6, 'lo');
  assert.ok(Number.isNaN(meanCi([5]).half), 'one seed has no interval');
});

test('paired differences: interval and two-sided p of the paired t-test', () => {
  // d = [1, 2, 3]: t = 2 / (1/√3) = 2√3, df 2: p = 2(1 − F(2√3)) = 1 − 2√3/√14.
  const r = pairedDifference([1.5, 2.5, 3.5], [0.5, 0.5, 0.5]);
  assert.equal(r.mean, 2);
  close(r.p, 1 - (2 * Math.sqrt(3)) / Math.sqrt(14), 1e-10, 'p'); // 0.0741799
  assert.throws(() => pairedDifference([1], [1, 2]), /1 vs 2 values/);
});

test('Holm: step-down adjusted p-values in the input order', () => {
  const adj = holm([0.01, 0.04, 0.03]);
  close(adj[0], 0.03, 1e-15, 'p(1)'); // 3 × 0.01
  close(adj[2], 0.06, 1e-15, 'p(2)'); // 2 × 0.03
  close(adj[1], 0.06, 1e-15, 'p(3)'); // max(0.06, 1 × 0.04)
  assert.deepEqual(holm([0.5, 0.6]), [1, 1]);
  const withNaN = holm([NaN, 0.02]);
  assert.ok(Number.isNaN(withNaN[0]));
  close(withNaN[1], 0.02, 1e-15, 'a NaN does not count in m');
});

test('minimum detectable effect of a paired design', () => {
  // n = 3, sd_d = 1: (t.975,2 + t.8,2)/√3 = (4.302653 + 1.060660)/1.732051.
  close(minimumDetectableEffect(1, 3), (4.302652729911275 + 1.0606601717798212) / Math.sqrt(3), 1e-8, 'MDE');
});
