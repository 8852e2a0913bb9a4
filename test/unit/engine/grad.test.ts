// Every gradient rule of the graph builder against central finite differences, in float64 through
// onnxruntime: loss = Σ op(x…) ⊙ w for a random cotangent w, so the check covers the full Jacobian product.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import * as G from '../../../src/backend/engine/graph';
import { Graph, GraphError, Tensor } from '../../../src/backend/engine/graph';
import { policyLoss, policyScalarInputs, POLICY_SCALARS } from '../../../src/backend/engine/model';
import { policyLossReference } from '../../../src/core/algorithms/loss';
import { mulberry32 } from '../../../src/core/random';


interface Arg { shape: number[]; gen?: (r: () => number) => number; int?: number }

async function gradCheck(name: string, args: Arg[], build: (...xs: Tensor[]) => Tensor, seed = 1) {
  const r = mulberry32(seed);
  const g = new Graph(name, 'double');
  const xs = args.map((a, i) => g.input(`x${i}`, a.shape, a.int ? { dtype: 'int64' } : { grad: true }));
  const y = build(...xs);
  const w = g.input('w', y.shape);
  const loss = G.reduceSum(G.mul(y, w), y.shape.map((_, i) => i));
  g.output(loss, 'loss');
  const diff = xs.filter((_, i) => !args[i].int);
  G.gradients(loss, diff).forEach((t, i) => g.output(t, `g${i}`));
  const session = await ort.InferenceSession.create(g.toBytes());

  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const vals = args.map((a) => a.int
    ? BigInt64Array.from({ length: size(a.shape) }, () => BigInt(Math.floor(r() * a.int!)))
    : Float64Array.from({ length: size(a.shape) }, () => (a.gen ?? ((q) => 2 * q() - 1))(r)));
  const wv = Float64Array.from({ length: y.size }, () => 2 * r() - 1);
  const feeds = () => {
    const f: Record<string, ort.Tensor> = { w: new ort.Tensor('float64', wv, y.shape) };
    args.forEach((a, i) => { f[`x${i}`] = new ort.Tensor(a.int ? 'int64' : 'float64', vals[i], a.shape); });
    return f;
  };
  const out = await session.run(feeds());
  let k = 0;
  for (let i = 0; i < args.length; i++) {
    if (args[i].int) continue;
    const analytic = out[`g${k++}`].data as Float64Array;
    const v = vals[i] as Float64Array;
    for (let j = 0; j < v.length; j++) {
      const h = 1e-6 * Math.max(1, Math.abs(v[j]));
      const x0 = v[j];
      v[j] = x0 + h;
      const lp = ((await session.run(feeds())).loss.data as Float64Array)[0];
      v[j] = x0 - h;
      const lm = ((await session.run(feeds())).loss.data as Float64Array)[0];
      v[j] = x0;
      const numeric = (lp - lm) / (2 * h);
      const err = Math.abs(numeric - analytic[j]);
      assert.ok(err <= 1e-6 + 1e-5 * Math.abs(numeric), `${name}: ∂/∂x${i}[${j}] analytic ${analytic[j]} vs numeric ${numeric}`);
    }
  }
  await session.release();
}

const pos = (r: () => number) => 0.5 + r();

test('elementwise ops with broadcasting', async () => {
  await gradCheck('add', [{ shape: [2, 3] }, { shape: [3] }], G.add);
  await gradCheck('sub', [{ shape: [2, 1, 3] }, { shape: [4, 1] }], G.sub);
  await gradCheck('mul', [{ shape: [2, 3] }, { shape: [2, 1] }], G.mul);
  await gradCheck('div', [{ shape: [2, 3] }, { shape: [3], gen: pos }], G.div);
  await gradCheck('neg', [{ shape: [5] }], G.neg);
  await gradCheck('exp', [{ shape: [5] }], G.exp);
  await gradCheck('log', [{ shape: [5], gen: pos }], G.log);
  await gradCheck('maximum', [{ shape: [2, 4] }, { shape: [4] }], G.maximum);
  await gradCheck('minimum', [{ shape: [2, 4] }, { shape: [2, 4] }], G.minimum);
  await gradCheck('gelu', [{ shape: [8], gen: (r) => 6 * r() - 3 }], G.gelu);
});

test('clip and where', async () => {
  await gradCheck('clip', [{ shape: [8], gen: (r) => 3 * r() - 1.5 }], (x) => G.clip(x, x.g.scalar(-0.7), x.g.scalar(0.6)));
  await gradCheck('clip (tensor bounds)', [{ shape: [6], gen: (r) => 3 * r() - 1.5 }, { shape: [], gen: () => -0.5 }, { shape: [], gen: () => 0.4 }], G.clip);
  await gradCheck('where', [{ shape: [2, 3] }, { shape: [3] }], (a, b) => G.where(G.less(a, b), a, b));
});

test('shape ops', async () => {
  await gradCheck('reshape', [{ shape: [2, 6] }], (x) => G.reshape(x, [3, 4]));
  await gradCheck('transpose', [{ shape: [2, 3, 4] }], (x) => G.transpose(x, [2, 0, 1]));
  await gradCheck('slice', [{ shape: [3, 5] }], (x) => G.slice(x, 1, 1, 4));
  // Several slices of one tensor: disjoint pieces are joined by one Concat, overlapping ones added.
  await gradCheck('slices (disjoint, gap)', [{ shape: [2, 7] }], (x) => G.mul(G.slice(x, 1, 0, 2), G.slice(x, 1, 4, 6)));
  await gradCheck('slices (overlapping)', [{ shape: [2, 5] }], (x) => G.add(G.mul(G.slice(x, 1, 0, 3), G.slice(x, 1, 2, 5)), G.slice(x, 1, 1, 4)));
  await gradCheck('concat', [{ shape: [2, 2] }, { shape: [2, 3] }], (a, b) => G.concat([a, b], 1));
  await gradCheck('expand', [{ shape: [3, 1] }], (x) => G.expand(x, [2, 3, 4]));
  await gradCheck('unsqueeze', [{ shape: [3] }], (x) => G.unsqueeze(x, 0));
});

test('reductions', async () => {
  await gradCheck('reduceSum', [{ shape: [2, 3, 4] }], (x) => G.reduceSum(x, [0, 2]));
  await gradCheck('reduceSum keepdims', [{ shape: [2, 3] }], (x) => G.reduceSum(x, [-1], true));
  await gradCheck('reduceMean', [{ shape: [2, 3, 4] }], (x) => G.reduceMean(x, [1], true));
});

test('matmul: 2-D, batched, broadcast batch, shared weight', async () => {
  await gradCheck('matmul 2d', [{ shape: [3, 4] }, { shape: [4, 2] }], G.matmul);
  await gradCheck('matmul batched', [{ shape: [2, 3, 4] }, { shape: [2, 4, 2] }], G.matmul);
  await gradCheck('matmul broadcast', [{ shape: [2, 2, 3, 4] }, { shape: [2, 1, 4, 2] }], G.matmul);
  await gradCheck('matmul weight', [{ shape: [2, 3, 4] }, { shape: [4, 2] }], G.matmul);
});

test('layerNorm, softmax, logSoftmax, embedding', async () => {
  await gradCheck('layerNorm', [{ shape: [2, 3, 5] }, { shape: [5], gen: pos }, { shape: [5] }], (x, g, b) => G.layerNorm(x, g, b));
  await gradCheck('softmax', [{ shape: [2, 5] }], G.softmax);
  await gradCheck('logSoftmax', [{ shape: [2, 5] }], G.logSoftmax);
  await gradCheck('embedding', [{ shape: [6, 3] }, { shape: [2, 4], int: 6 }], G.embedding);
});

test('float32 LayerNormalization kernel agrees with the float64 primitive form', async () => {
  const run = async (ft: 'float' | 'double') => {
    const g = new Graph('ln', ft);
    const x = g.input('x', [4, 6]);
    g.output(G.layerNorm(x, g.input('g', [6]), g.input('b', [6])), 'y');
    const s = await ort.InferenceSession.create(g.toBytes());
    const r = mulberry32(3);
    const t = (n: number, f: () => number, dims: number[]) => (ft === 'float'
      ? new ort.Tensor('float32', Float32Array.from({ length: n }, f), dims)
      : new ort.Tensor('float64', Float64Array.from({ length: n }, f), dims));
    const out = await s.run({ x: t(24, () => 4 * r() - 2, [4, 6]), g: t(6, () => r() + 0.5, [6]), b: t(6, r, [6]) });
    return Array.from(out.y.data as Float32Array | Float64Array);
  };
  const a = await run('float'), b = await run('double');
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-5, `${v} vs ${b[i]}`));
});

test('the §5 policy loss: values and ∂loss/∂logp against policyLossReference', async () => {
  const Bn = 3, Tt = 5;
  const g = new Graph('policy', 'double');
  const logp = g.input('logp', [Bn, Tt], { grad: true });
  const mask = g.input('mask', [Bn, Tt]), adv = g.input('adv', [Bn, Tt]);
  const old = g.input('old', [Bn, Tt]), ref = g.input('ref', [Bn, Tt]);
  const L = policyLoss(logp, mask, adv, old, ref, policyScalarInputs(g));
  for (const k of ['loss', 'pgLoss', 'entropyLoss', 'klLoss'] as const) g.output(L[k], k);
  g.output(G.gradients(L.loss, [logp])[0], 'grad');
  const session = await ort.InferenceSession.create(g.toBytes());
  const r = mulberry32(7);
  const lens = [5, 3, 4];
  const rows = (f: () => number) => lens.map((n) => Array.from({ length: n }, f));
  // Log-ratios up to ±1.5 so that both clip bounds and the dual clip (r > C = 3) are exercised.
  const lpNew = rows(() => -3 * r() - 0.1);
  const lpOld = lpNew.map((row) => row.map((v) => v + 3 * r() - 1.5));
  const A = rows(() => (r() < 0.5 ? -1 : 1) * 3 * r());
  lpOld[0][1] = lpNew[0][1] - 1.4; // r ≈ 4 > C with Ã < 0: the dual clip holds
  A[0][1] = -1;
  const lpRef = lpNew.map((row) => row.map((v) => v + r() - 0.5));
  const opts = { clipLow: 0.2, clipHigh: 0.28, dualClip: 3, sampledNllCoef: 0.06, entropyBonus: 0, klCoef: 0.1 };
  const grid = (rs: number[][]) => {
    const a = new Float64Array(Bn * Tt);
    rs.forEach((row, b) => row.forEach((v, t) => { a[b * Tt + t] = v; }));
    return new ort.Tensor('float64', a, [Bn, Tt]);
  };
  const N = lens.reduce((a, b) => a + b, 0);
  const scalar = (v: number) => new ort.Tensor('float64', new Float64Array([v]), []);
  const sc: Record<string, number> = { ...opts, invTokens: 1 / N };
  const feeds: Record<string, ort.Tensor> = {
    logp: grid(lpNew), mask: grid(lens.map((n) => new Array(n).fill(1))), adv: grid(A), old: grid(lpOld), ref: grid(lpRef),
  };
  for (const k of POLICY_SCALARS) feeds[k] = scalar(sc[k]);
  const out = await session.run(feeds);
  const want = policyLossReference({ logpNew: lpNew, logpOld: lpOld, advantages: A, logpRef: lpRef }, opts);
  assert.ok(want.clipFraction > 0 && want.dualClipFraction > 0, 'the data exercise the clips');
  for (const k of ['loss', 'pgLoss', 'entropyLoss', 'klLoss'] as const) {
    const got = (out[k].data as Float64Array)[0];
    assert.ok(Math.abs(got - want[k]) < 1e-12, `${k}: graph ${got} vs reference ${want[k]}`);
  }
  const grad = out.grad.data as Float64Array;
  want.gradLogpNew.forEach((row, b) => row.forEach((v, t) => {
    assert.ok(Math.abs(grad[b * Tt + t] - v) < 1e-12, `∂loss/∂logp[${b}][${t}]: graph ${grad[b * Tt + t]} vs reference ${v}`);
  }));
  for (let t = 4; t < Tt; t++) assert.equal(Math.abs(grad[1 * Tt + t]), 0, 'padding gets no gradient');
});

test('shape errors are raised at build time with a readable message', () => {
  const g = new Graph('bad');
  const a = g.input('a', [2, 3]), b = g.input('b', [4, 5]);
  assert.throws(() => G.matmul(a, b), (e: Error) => e instanceof GraphError && /inner sizes differ: \[2,3\] @ \[4,5\]/.test(e.message));
  assert.throws(() => G.add(a, b), /do not broadcast/);
  assert.throws(() => G.reshape(a, [5]), /cannot reshape \[2,3\]/);
  assert.throws(() => G.slice(a, 1, 2, 7), /out of range/);
});
