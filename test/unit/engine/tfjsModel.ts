// An independent implementation of the tiny VLM and the §5 loss in @tensorflow/tfjs (pure-JS CPU backend),
// used as a gradient oracle: same weights, same batch, gradients by tf's own autodiff.
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../../../src/backend/engine/model';

export interface TfBatch {
  patches: Float32Array; // [B, nImg, P]
  text: Int32Array; // [B, Tt]
  blind: Float32Array; // [B]
  mask: Float32Array; // [B, Tt]
  adv: Float32Array;
  old: Float32Array;
  ref: Float32Array;
  B: number;
  Tt: number;
}

export interface LossOpts { clipLow: number; clipHigh: number; dualClip: number; sampledNllCoef: number; klCoef: number; invTokens: number }

export async function tfPolicyGradients(c: ModelConfig, weights: Map<string, Float32Array>, shapes: Map<string, number[]>, x: TfBatch, o: LossOpts) {
  await tf.setBackend('cpu');
  const nImg = (c.imageSize / c.patchSize) ** 2, P = c.channels * c.patchSize ** 2;
  const { B, Tt } = x;
  const S = nImg + Tt, d = c.dModel, H = c.nHeads, dh = d / H;
  const names = [...weights.keys()];
  const vars = names.map((n) => tf.tensor(weights.get(n)!, shapes.get(n)!));
  const causal = new Float32Array(S * S), imgKeys = new Float32Array(S * S);
  for (let i = 0; i < S; i++) for (let j = 0; j < S; j++) {
    if (j > i) causal[i * S + j] = -1e9;
    if (i >= nImg && j < nImg) imgKeys[i * S + j] = -1e9;
  }
  const bias = tf.add(tf.tensor(causal, [S, S]), tf.mul(tf.tensor(x.blind, [B, 1, 1, 1]), tf.tensor(imgKeys, [S, S])));
  const ln = (t: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(t, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
  };
  const gelu = (t: tf.Tensor) => tf.mul(t, tf.sigmoid(tf.mul(t, 1.702)));
  const lin = (t: tf.Tensor, w: tf.Tensor, b?: tf.Tensor) => {
    const [k, n] = w.shape;
    const y = tf.reshape(tf.matMul(tf.reshape(t, [-1, k]), w as tf.Tensor2D), [...t.shape.slice(0, -1), n]);
    return b ? tf.add(y, b) : y;
  };
  const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, S, H, dh]), [0, 2, 1, 3]);
  const oneHot = tf.oneHot(tf.tensor(x.text, [B, Tt], 'int32'), c.vocabSize);
  const mask = tf.tensor(x.mask, [B, Tt]), adv = tf.tensor(x.adv, [B, Tt]), old = tf.tensor(x.old, [B, Tt]), ref = tf.tensor(x.ref, [B, Tt]);

  const lossFn = (...ws: tf.Tensor[]) => {
    const W = Object.fromEntries(names.map((n, i) => [n, ws[i]]));
    const img = lin(tf.tensor(x.patches, [B, nImg, P]), W['patch.w'], W['patch.b']);
    const tok = tf.reshape(tf.gather(W['tok.w'], tf.tensor(x.text, [B * Tt], 'int32')), [B, Tt, d]);
    let h = tf.add(tf.concat([img, tok], 1), tf.slice(W['pos.w'], [0, 0], [S, d]));
    for (let l = 0; l < c.nLayers; l++) {
      const a = ln(h, W[`h${l}.ln1.g`], W[`h${l}.ln1.b`]);
      const qkv = lin(a, W[`h${l}.attn.qkv.w`], W[`h${l}.attn.qkv.b`]);
      const [q, k, v] = tf.split(qkv, 3, -1).map(heads);
      const att = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)), bias));
      const y = tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [B, S, d]);
      h = tf.add(h, lin(y, W[`h${l}.attn.proj.w`], W[`h${l}.attn.proj.b`]));
      const m = gelu(lin(ln(h, W[`h${l}.ln2.g`], W[`h${l}.ln2.b`]), W[`h${l}.mlp.fc.w`], W[`h${l}.mlp.fc.b`]));
      h = tf.add(h, lin(m, W[`h${l}.mlp.proj.w`], W[`h${l}.mlp.proj.b`]));
    }
    const hs = tf.slice(h, [0, nImg - 1, 0], [B, Tt, d]);
    const lp = tf.logSoftmax(lin(ln(hs, W['lnf.g'], W['lnf.b']), W['head.w']));
    const logp = tf.sum(tf.mul(lp, oneHot), -1);
    const ratio = tf.exp(tf.clipByValue(tf.mul(tf.sub(logp, old), mask), -20, 20));
    const pg1 = tf.neg(tf.mul(adv, ratio));
    const pg2 = tf.neg(tf.mul(adv, tf.clipByValue(ratio, 1 - o.clipLow, 1 + o.clipHigh)));
    const pgc = tf.maximum(pg1, pg2);
    const pg = tf.where(tf.less(adv, 0), tf.minimum(pgc, tf.mul(-o.dualClip, adv)), pgc);
    const mean = (t: tf.Tensor) => tf.mul(tf.sum(tf.mul(t, mask)), o.invTokens);
    const dRef = tf.clipByValue(tf.sub(ref, logp), -20, 20);
    const k3 = tf.clipByValue(tf.sub(tf.sub(tf.exp(dRef), dRef), 1), 0, 10);
    return tf.add(tf.add(mean(pg), tf.mul(o.sampledNllCoef, mean(tf.neg(logp)))), tf.mul(o.klCoef, mean(k3))) as tf.Scalar;
  };
  const { value, grads } = tf.valueAndGrads(lossFn)(vars);
  const out = new Map<string, Float32Array>();
  names.forEach((n, i) => out.set(n, grads[i].dataSync() as Float32Array));
  return { loss: value.dataSync()[0], grads: out };
}
