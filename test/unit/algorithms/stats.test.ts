import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auroc, exactKl, exactKlRows, k3, logSoftmax, mean, minmax, quantile, std, tokenEntropy } from '../../../src/core/algorithms';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} ≉ ${b} (tol ${tol})`);

test('mean and unbiased std', () => {
  close(mean([1, 2, 3, 4]), 2.5);
  close(std([1, 2, 3, 4]), Math.sqrt(5 / 3));
  assert.ok(Number.isNaN(mean([])));
  assert.ok(Number.isNaN(std([7])));
});

test('quantile interpolates linearly between order statistics (numpy "linear")', () => {
  close(quantile([3, 1, 2, 4], 0.5), 2.5);
  close(quantile([0, 0, 5], 0.8), 3); // pos 1.6: 0 + 0.6·5
  close(quantile([10], 0.3), 10);
  close(quantile([1, 2, 3, 4, 5], 0), 1);
  close(quantile([1, 2, 3, 4, 5], 1), 5);
  close(quantile(new Float32Array([4, 3, 2, 1]), 0.25), 1.75);
});

test('minmax maps to [0, 1) with ε = 1e-6; a constant row is all zeros', () => {
  const m = minmax([2, 4, 3]);
  close(m[0], 0);
  close(m[1], 2 / (2 + 1e-6));
  close(m[2], 1 / (2 + 1e-6));
  assert.deepEqual(Array.from(minmax([5, 5, 5])), [0, 0, 0]);
  assert.deepEqual(Array.from(minmax([9])), [0]);
});

test('auroc: perfect, inverted, ties count one half, NaN without both classes', () => {
  close(auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  close(auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  close(auroc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
  // positives {0.5, 0.9}, negatives {0.5, 0.1}: pairs 0.5~0.5 tie (½), 0.5>0.1, 0.9>0.5, 0.9>0.1 → 3.5/4
  close(auroc([0.5, 0.9, 0.5, 0.1], [1, 1, 0, 0]), 3.5 / 4);
  assert.ok(Number.isNaN(auroc([1, 2], [1, 1])));
  assert.ok(Number.isNaN(auroc([1, 2], [0, 0])));
  assert.throws(() => auroc([1], [1, 0]), /1 scores but 2 labels/);
});

test('k3: hand values, zero at equality, clamps the log-ratio at ±20 and the value at 10', () => {
  assert.equal(k3(-1.3, -1.3), 0);
  close(k3(0, Math.LN2), 2 - Math.LN2 - 1); // d = ln 2
  close(k3(0, -Math.LN2), 0.5 + Math.LN2 - 1);
  close(k3(-1, -3), Math.exp(-2) + 2 - 1);
  close(k3(0, 2), Math.exp(2) - 3);
  assert.equal(k3(0, 3), 10); // e³ − 4 ≈ 16.1
  assert.equal(k3(0, 1e6), 10); // exp would overflow without the ±20 clamp
  assert.equal(k3(0, -1e6), 10);
  assert.ok(k3(0, -9) < 10 && k3(0, -12) === 10); // e^-9 + 8 ≈ 8.0001; e^-12 + 11 → 10
});

test('exactKl and tokenEntropy over a vocabulary', () => {
  const p = [0.5, 0.25, 0.25].map(Math.log);
  const q = [0.25, 0.25, 0.5].map(Math.log);
  close(exactKl(p, q), 0.5 * Math.log(2) + 0.25 * Math.log(0.5));
  assert.equal(exactKl(p, p), 0);
  close(exactKl([0, -Infinity], [Math.log(0.5), Math.log(0.5)]), Math.log(2)); // π_a(v) = 0 adds nothing
  close(tokenEntropy(p), -(0.5 * Math.log(0.5) + 0.5 * Math.log(0.25)));
  assert.throws(() => exactKl([0], [0, 0]), /vocabularies differ/);
});

test('exactKlRows is exactKl per token over row-major L × V matrices; logSoftmax normalises', () => {
  const a = new Float32Array([...logSoftmax([1, 2, 3]), ...logSoftmax([0, 0, 0])]);
  const b = new Float32Array([...logSoftmax([3, 2, 1]), ...logSoftmax([0, 0, 5])]);
  const rows = exactKlRows(a, b, 3);
  close(rows[0], exactKl(a.subarray(0, 3), b.subarray(0, 3)));
  close(rows[1], exactKl(a.subarray(3), b.subarray(3)));
  const p = logSoftmax([1000, 1000]); // stable for large logits
  close(p[0], -Math.LN2);
  close(logSoftmax([0.3, -2, 4]).reduce((sum, x) => sum + Math.exp(x), 0), 1, 1e-12);
  assert.throws(() => exactKlRows(a, b, 4), /not both L × 4/);
  // the exact KL and k3 agree in expectation: E_{o~π_a}[k3(a_o, b_o)] = KL(π_a ‖ π_b) when no clamp holds
  const pa = logSoftmax([0.5, -0.2, 0.1]);
  const pb = logSoftmax([0.1, 0.3, -0.4]);
  let expectation = 0;
  for (let v = 0; v < 3; v++) expectation += Math.exp(pa[v]) * k3(pa[v], pb[v]);
  close(expectation, exactKl(pa, pb), 1e-12);
});
