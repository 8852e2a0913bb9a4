// The tiny VLM end to end: whole-model gradients against tfjs, KV-cached sampling against scoring, views,
// state round trips, provider fallback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { createEngine, Engine } from '../../../src/backend/engine/index';
import { buildPolicyGraph, imageTokens, initWeights, paramShapes, patchDim, POLICY_SCALARS } from '../../../src/backend/engine/model';
import type { ModelConfig } from '../../../src/backend/engine/model';
import type { SequenceInput } from '../../../src/backend/engine/types';
import { writePatches } from '../../../src/backend/engine/batching';
import { tfPolicyGradients } from './tfjsModel';
import { mulberry32 } from '../../../src/core/random';

const tiny: ModelConfig = { vocabSize: 13, imageSize: 8, channels: 3, patchSize: 4, dModel: 16, nLayers: 2, nHeads: 2, dFF: 32, maxText: 12 };


test('whole-model gradients of the policy loss agree with tfjs autodiff of the same weights', async () => {
  const c = tiny, B = 4, Tt = 8, r = mulberry32(11);
  const nImg = imageTokens(c), P = patchDim(c);
  // Larger-than-init weights, so the loss surface is not flat and every path carries gradient.
  const weights = initWeights(c, 5);
  for (const [n, w] of weights) if (!n.endsWith('.g')) for (let i = 0; i < w.length; i++) w[i] = w[i] * 10 + (n.endsWith('.b') ? 0.1 * (r() - 0.5) : 0);
  const shapes = new Map(paramShapes(c));
  const patches = Float32Array.from({ length: B * nImg * P }, r);
  const text = Int32Array.from({ length: B * Tt }, () => Math.floor(r() * c.vocabSize));
  const blind = Float32Array.from([0, 1, 0, 1]);
  const lens = [[2, 6], [3, 5], [1, 4], [4, 2]]; // prompt, response
  const mask = new Float32Array(B * Tt);
  lens.forEach(([p, n], b) => { for (let k = p; k < p + n; k++) mask[b * Tt + k] = 1; });
  const N = mask.reduce((a, b) => a + b, 0);
  const grid = (f: () => number) => Float32Array.from({ length: B * Tt }, (_, i) => (mask[i] ? f() : 0));
  const adv = grid(() => 4 * r() - 2), old = grid(() => -Math.log(c.vocabSize) + 1.2 * r() - 0.6), ref = grid(() => -Math.log(c.vocabSize) + r() - 0.5);
  const o = { clipLow: 0.2, clipHigh: 0.28, dualClip: 3, sampledNllCoef: 0.05, entropyBonus: 0, klCoef: 0.1, invTokens: 1 / N };

  const session = await ort.InferenceSession.create(buildPolicyGraph(c, B, Tt).toBytes());
  const feeds: Record<string, ort.Tensor> = {
    patches: new ort.Tensor('float32', patches, [B, nImg, P]),
    text: new ort.Tensor('int64', BigInt64Array.from(text, (v) => BigInt(v)), [B, Tt]),
    blind: new ort.Tensor('float32', blind, [B]),
    mask: new ort.Tensor('float32', mask, [B, Tt]),
    advantages: new ort.Tensor('float32', adv, [B, Tt]),
    oldLogp: new ort.Tensor('float32', old, [B, Tt]),
    refLogp: new ort.Tensor('float32', ref, [B, Tt]),
  };
  for (const k of POLICY_SCALARS) feeds[k] = new ort.Tensor('float32', new Float32Array([o[k]]), []);
  for (const [n, s] of shapes) feeds[n] = new ort.Tensor('float32', weights.get(n)!, s);
  const out = await session.run(feeds);
  const want = await tfPolicyGradients(c, weights, shapes, { patches, text, blind, mask, adv, old, ref, B, Tt }, o);

  const loss = (out.loss.data as Float32Array)[0];
  assert.ok(Math.abs(loss - want.loss) < 1e-5 * Math.max(1, Math.abs(want.loss)), `loss ${loss} vs tfjs ${want.loss}`);
  for (const [n] of shapes) {
    const got = out[`grad.${n}`].data as Float32Array, exp = want.grads.get(n)!;
    const scale = exp.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(scale > 0 || n === 'pos.w', `${n}: tfjs gradient is all zero — the check would be vacuous`);
    for (let i = 0; i < got.length; i++) {
      assert.ok(Math.abs(got[i] - exp[i]) <= 2e-4 * scale + 1e-7, `grad ${n}[${i}]: onnx ${got[i]} vs tfjs ${exp[i]} (scale ${scale})`);
    }
  }
  await session.release();
});

const img = (r: () => number) => Float32Array.from({ length: 3 * tiny.imageSize ** 2 }, r);

test('KV-cached sampling: recorded log-probs equal teacher-forced scoring; seeded; stop token kept', async () => {
  const e = await createEngine(tiny, { seed: 3, threads: 1 });
  const r = mulberry32(2);
  const images = [img(r), img(r), img(r)];
  const prompts = [[1, 2, 3], [4], []];
  const req = (seed: number) => ({ images, prompts, maxNewTokens: 6, temperature: 1, topP: 0.9, stopToken: 0, random: mulberry32(seed) });
  const a = await e.sample(req(9));
  const b = await e.sample(req(9));
  assert.deepEqual(a.tokens, b.tokens, 'same random stream, same samples');
  a.tokens.forEach((t, i) => {
    assert.ok(t.length >= 1 && t.length <= 6);
    const stop = t.indexOf(0);
    assert.ok(stop === -1 || stop === t.length - 1, 'generation ends right after the stop token');
    assert.ok(prompts[i].length + t.length <= tiny.maxText);
  });
  const s = await e.score(images.map((image, i) => ({ image, prompt: prompts[i], response: a.tokens[i] })));
  a.logp.forEach((lp, i) => lp.forEach((v, t) => assert.ok(Math.abs(v - s.logp[i][t]) < 1e-4, `seq ${i} token ${t}: sampled ${v} vs scored ${s.logp[i][t]}`)));
  // Greedy decoding fills the text up to maxText when it never meets the stop token.
  const g = await e.sample({ ...req(1), temperature: 0, stopToken: -1, maxNewTokens: 100 });
  g.tokens.forEach((t, i) => assert.equal(t.length, tiny.maxText - prompts[i].length));
  await e.dispose();
});

test('scoring: full distributions, entropy, blind view, batching across chunks and buckets', async () => {
  const e = (await createEngine(tiny, { seed: 4, threads: 1 })) as Engine;
  const r = mulberry32(5);
  const seqs: SequenceInput[] = Array.from({ length: 70 }, (_, i) => ({
    image: img(r), prompt: [1 + (i % 5)], response: Array.from({ length: 1 + (i % 9) }, () => Math.floor(r() * 13)),
  }));
  const full = await e.score(seqs.slice(0, 3), { fullDistribution: true });
  full.logp.forEach((lp, i) => lp.forEach((v, t) => {
    const row = full.logProbs![i].subarray(t * 13, (t + 1) * 13);
    assert.ok(Math.abs(row[seqs[i].response[t]] - v) < 1e-6);
    const H = -row.reduce((s, l) => s + Math.exp(l) * l, 0);
    assert.ok(Math.abs(H - full.entropy[i][t]) < 1e-5);
  }));
  // 70 sequences = two chunks; each sequence scores the same alone as in the batch.
  const all = await e.score(seqs);
  for (const i of [0, 40, 69]) {
    const one = await e.score([seqs[i]]);
    one.logp[0].forEach((v, t) => assert.ok(Math.abs(v - all.logp[i][t]) < 1e-5));
  }
  // Blind: the image no longer matters; not blind: it does.
  const other = { ...seqs[0], image: img(r) };
  const [b1, b2, s1, s2] = (await e.score([{ ...seqs[0], blind: true }, { ...other, blind: true }, seqs[0], other])).logp;
  b1.forEach((v, t) => assert.ok(Math.abs(v - b2[t]) < 1e-6, 'blind view ignores the image'));
  assert.ok(s1.some((v, t) => Math.abs(v - s2[t]) > 1e-5), 'image view depends on the image');
  assert.throws(() => writePatches(e.config, new Float32Array(5), new Float32Array(1000), 0), /expected 3×8×8/);
  await assert.rejects(e.score([{ image: img(r), prompt: new Array(10).fill(1), response: [1, 2, 3] }]), /at most maxText = 12/);
  await e.dispose();
});

test('saveState / loadState round trip weights and optimizer state; mismatched models are refused', async () => {
  const e = await createEngine(tiny, { seed: 1, threads: 1 });
  const r = mulberry32(8);
  const seqs = [{ image: img(r), prompt: [1, 2], response: [3, 4, 5] }];
  await e.supervisedStep(seqs);
  const saved = e.saveState();
  const f = await createEngine(tiny, { seed: 2, threads: 1 });
  f.loadState(saved);
  assert.deepEqual((await f.score(seqs)).logp, (await e.score(seqs)).logp);
  // Same optimizer state → the same next step.
  await e.supervisedStep(seqs);
  await f.supervisedStep(seqs);
  assert.deepEqual((await f.score(seqs)).logp, (await e.score(seqs)).logp);
  const g = await createEngine({ ...tiny, dModel: 32 }, { seed: 1, threads: 1 });
  assert.throws(() => g.loadState(saved), /different model \(dModel 16 ≠ 32\)/);
  await Promise.all([e.dispose(), f.dispose(), g.dispose()]);
});

test('a missing GPU provider is reported and the engine falls back to CPU', async () => {
  for (const ep of ['cuda', 'webgpu'] as const) {
    const logs: string[] = [];
    const e = await createEngine(tiny, { seed: 1, ep, threads: 1, onLog: (m) => logs.push(m) });
    if (e.ep === ep) { await e.dispose(); continue; } // a machine that has it
    assert.equal(e.ep, 'cpu');
    assert.equal(logs.length, 1);
    assert.match(logs[0], new RegExp(`execution provider '${ep}' is not available .*Falling back to CPU`));
    if (ep === 'cuda') assert.match(logs[0], /ONNXRUNTIME_NODE_INSTALL=cuda12/);
    assert.ok((await e.score([{ image: img(Math.random), prompt: [1], response: [2] }])).logp[0].length === 1);
    await e.dispose();
  }
});

test('policyStep over two chunks: loss terms equal the §5 reference on the scored log-probs', async () => {
  const { policyLossReference } = await import('../../../src/core/algorithms/loss');
  const e = await createEngine(tiny, { seed: 6, threads: 1 });
  const r = mulberry32(12);
  const seqs: SequenceInput[] = Array.from({ length: 70 }, (_, i) => ({
    image: img(r), prompt: [1 + (i % 4)], response: Array.from({ length: 1 + (i % 7) }, () => Math.floor(r() * 13)), blind: i % 5 === 0,
  }));
  const now = (await e.score(seqs)).logp;
  const oldLogp = now.map((row) => row.map((v) => v + 0.8 * r() - 0.4));
  const refLogp = now.map((row) => row.map((v) => v + 0.4 * r() - 0.2));
  const advantages = seqs.map((s) => Float32Array.from(s.response, () => 2 * r() - 1));
  const loss = { clipLow: 0.2, clipHigh: 0.28, dualClip: 3, sampledNllCoef: 0.05, entropyBonus: 0, klCoef: 0.1 };
  const want = policyLossReference({ logpNew: now.map((x) => Array.from(x)), logpOld: oldLogp.map((x) => Array.from(x)), advantages: advantages.map((x) => Array.from(x)), logpRef: refLogp.map((x) => Array.from(x)) }, loss);
  const got = await e.policyStep({ sequences: seqs, advantages, oldLogp, refLogp }, loss);
  for (const k of ['loss', 'pgLoss', 'entropyLoss', 'klLoss', 'clipFraction', 'approxKl'] as const) {
    assert.ok(Math.abs(got[k] - want[k]) < 1e-5, `${k}: engine ${got[k]} vs reference ${want[k]}`);
  }
  assert.ok(got.clipFraction > 0 && got.gradNorm > 0);
  const after = (await e.score(seqs)).logp;
  assert.ok(after.some((row, i) => row.some((v, t) => v !== now[i][t])), 'the step changed the weights');
  await e.dispose();
});

test('drawToken: temperature, nucleus (top-p) truncation, greedy', async () => {
  const { drawToken } = await import('../../../src/backend/engine/index');
  const logp = Float32Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));
  const counts = [0, 0, 0, 0];
  const r = mulberry32(21);
  for (let i = 0; i < 4000; i++) counts[drawToken(logp, 1, 0.7, r)]++;
  // Nucleus of 0.7: tokens 0 and 1 (0.5 + 0.3 ≥ 0.7), renormalised to 0.625 / 0.375.
  assert.equal(counts[2] + counts[3], 0);
  assert.ok(Math.abs(counts[0] / 4000 - 0.625) < 0.03, `${counts}`);
  const all = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) all[drawToken(logp, 1, 1, r)]++;
  assert.ok(Math.abs(all[3] / 4000 - 0.05) < 0.015, `${all}`);
  const hot = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) hot[drawToken(logp, 100, 1, r)]++;
  assert.ok(hot[3] > 800, 'a high temperature flattens the distribution');
  assert.equal(drawToken(logp, 0, 1, r), 0);
});

test('createEngine rejects a malformed config with a readable message', async () => {
  await assert.rejects(createEngine({ ...tiny, dModel: 15 }, { seed: 1 }), /dModel 15 is not a multiple of nHeads 2/);
  await assert.rejects(createEngine({ ...tiny, imageSize: 10 }, { seed: 1 }), /imageSize 10 is not a multiple of patchSize 4/);
});

test('sampling a batch whose sequences stop at different times (the cache shrinks to smaller buckets)', async () => {
  const e = await createEngine(tiny, { seed: 8, threads: 1 });
  const r = mulberry32(4);
  const n = 20;
  const images = Array.from({ length: n }, () => img(r));
  const prompts = Array.from({ length: n }, (_, i) => Array.from({ length: 1 + (i % 4) }, (_, k) => 1 + ((i + k) % 12)));
  // A high temperature and a common stop token give a spread of lengths.
  const out = await e.sample({ images, prompts, maxNewTokens: 8, temperature: 3, topP: 1, stopToken: 3, random: mulberry32(5) });
  const lengths = new Set(out.tokens.map((t) => t.length));
  assert.ok(lengths.size >= 3, `lengths vary: ${[...lengths]}`);
  const s = await e.score(images.map((image, i) => ({ image, prompt: prompts[i], response: out.tokens[i] })));
  out.logp.forEach((lp, i) => lp.forEach((v, t) => assert.ok(Math.abs(v - s.logp[i][t]) < 1e-4, `seq ${i} token ${t}: sampled ${v} vs scored ${s.logp[i][t]}`)));
  await e.dispose();
});

test('prefill of short prompts into a longer cache (maxText 40): sampled log-probs equal scoring', async () => {
  const c = { ...tiny, maxText: 40 };
  const e = await createEngine(c, { seed: 9, threads: 1 });
  const r = mulberry32(6);
  const images = [img(r), img(r), img(r)];
  const prompts = [[1, 2], [3, 4, 5, 6, 7], [8]];
  const out = await e.sample({ images, prompts, maxNewTokens: 30, temperature: 1, topP: 1, stopToken: -1, random: mulberry32(7) });
  out.tokens.forEach((t) => assert.equal(t.length, 30));
  const s = await e.score(images.map((image, i) => ({ image, prompt: prompts[i], response: out.tokens[i] })));
  out.logp.forEach((lp, i) => lp.forEach((v, t) => assert.ok(Math.abs(v - s.logp[i][t]) < 1e-4, `seq ${i} token ${t}: sampled ${v} vs scored ${s.logp[i][t]}`)));
  await e.dispose();
});
