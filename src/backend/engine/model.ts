/**
 * The tiny VLM, in one file (nanoGPT-style): configuration, parameters, the forward pass, and the graphs
 * built from it (scoring, training steps, KV-cached sampling).
 *
 * Sequence layout: [image tokens (nImg = (imageSize/patchSize)²); text tokens (prompt ++ response)],
 * one learned position table over the whole sequence, a causal pre-LN transformer, an LM head.
 * The hidden state at position nImg−1+k predicts text token k, so text token 0 is predicted from the last
 * image token and an empty prompt works.
 */
import {
  Graph, GraphError, Tensor, add, clip, concat, embedding, exp, expand, gelu, gradients, layerNorm, less, logSoftmax,
  matmul, maximum, minimum, mul, neg, oneHot, reduceSum, reshape, scatterND, slice, softmax, sub, transpose, where,
  type Shape,
} from './graph';
import { mulberry32, standardNormal } from '../../core/random';
import { K3_LOG_RATIO_CLAMP, K3_MAX } from '../../core/algorithms/kl';

// ---------------------------------------------------------------------------------------------------
// Configuration

/** The model's shape (nanoGPT's GPTConfig). */
export interface ModelConfig {
  vocabSize: number;
  /** Image side in pixels (square) and channels. */
  imageSize: number;
  channels: number;
  patchSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  dFF: number;
  /** Maximum number of text tokens (prompt + response). */
  maxText: number;
}

/** What the task decides: the vocabulary and the image geometry. */
export type TaskShape = Pick<ModelConfig, 'vocabSize' | 'imageSize' | 'patchSize'>;
/** What the model's size decides. */
export type ModelSize = Omit<ModelConfig, keyof TaskShape>;

/** The default size: small enough to train RL steps on 2 CPU cores (~0.25M parameters for a 100-token vocabulary). */
export const DEFAULT_MODEL_SIZE: Readonly<ModelSize> = { channels: 3, dModel: 96, nLayers: 2, nHeads: 4, dFF: 384, maxText: 32 };

/** The config of a model for `task`, of the default size unless `size` says otherwise. */
export function modelConfig(task: TaskShape, size: Partial<ModelSize> = {}): ModelConfig {
  const z = { ...DEFAULT_MODEL_SIZE, ...size };
  // Key order as written in config.json and the weights' metadata.
  return {
    vocabSize: task.vocabSize, imageSize: task.imageSize, channels: z.channels, patchSize: task.patchSize,
    dModel: z.dModel, nLayers: z.nLayers, nHeads: z.nHeads, dFF: z.dFF, maxText: z.maxText,
  };
}

export const NEG_INF = -1e9;

export function imageTokens(c: ModelConfig) { return (c.imageSize / c.patchSize) ** 2; }
export function patchDim(c: ModelConfig) { return c.channels * c.patchSize * c.patchSize; }
export function seqLen(c: ModelConfig) { return imageTokens(c) + c.maxText; }

export function checkConfig(c: ModelConfig) {
  const bad = (m: string) => { throw new GraphError(`model config: ${m} (config ${JSON.stringify(c)})`); };
  for (const k of ['vocabSize', 'imageSize', 'channels', 'patchSize', 'dModel', 'nLayers', 'nHeads', 'dFF', 'maxText'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) bad(`${k} must be a positive integer`);
  }
  if (c.imageSize % c.patchSize) bad(`imageSize ${c.imageSize} is not a multiple of patchSize ${c.patchSize}`);
  if (c.dModel % c.nHeads) bad(`dModel ${c.dModel} is not a multiple of nHeads ${c.nHeads}`);
}

/** Every parameter, in a fixed order: name → shape. */
export function paramShapes(c: ModelConfig): [string, Shape][] {
  const d = c.dModel;
  const p: [string, Shape][] = [
    ['patch.w', [patchDim(c), d]], ['patch.b', [d]],
    ['tok.w', [c.vocabSize, d]],
    ['pos.w', [seqLen(c), d]],
  ];
  for (let l = 0; l < c.nLayers; l++) {
    p.push(
      [`h${l}.ln1.g`, [d]], [`h${l}.ln1.b`, [d]],
      [`h${l}.attn.qkv.w`, [d, 3 * d]], [`h${l}.attn.qkv.b`, [3 * d]],
      [`h${l}.attn.proj.w`, [d, d]], [`h${l}.attn.proj.b`, [d]],
      [`h${l}.ln2.g`, [d]], [`h${l}.ln2.b`, [d]],
      [`h${l}.mlp.fc.w`, [d, c.dFF]], [`h${l}.mlp.fc.b`, [c.dFF]],
      [`h${l}.mlp.proj.w`, [c.dFF, d]], [`h${l}.mlp.proj.b`, [d]],
    );
  }
  p.push(['lnf.g', [d]], ['lnf.b', [d]], ['head.w', [d, c.vocabSize]]);
  return p;
}

export function paramCount(c: ModelConfig) {
  return paramShapes(c).reduce((s, [, sh]) => s + sh.reduce((a, b) => a * b, 1), 0);
}

/** Seeded initial weights: N(0, 0.02), residual projections scaled by 1/√(2·nLayers) (GPT-2), LN gains 1. */
export function initWeights(c: ModelConfig, seed: number): Map<string, Float32Array> {
  const rand = gaussian(seed);
  const w = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(c)) {
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    if (name.endsWith('.g')) a.fill(1);
    else if (!name.endsWith('.b')) {
      const std = name.endsWith('proj.w') ? 0.02 / Math.sqrt(2 * c.nLayers) : 0.02;
      for (let i = 0; i < a.length; i++) a[i] = std * rand();
    }
    w.set(name, a);
  }
  return w;
}

function gaussian(seed: number): () => number {
  const u = mulberry32(seed);
  return () => standardNormal(u);
}

// ---------------------------------------------------------------------------------------------------
// The forward pass

export type Params = Record<string, Tensor>;

/** Declares every parameter as a graph input (weights are inputs: one session serves every step). */
export function paramInputs(g: Graph, c: ModelConfig, grad: boolean): Params {
  const W: Params = {};
  for (const [name, shape] of paramShapes(c)) W[name] = g.input(name, shape, { grad });
  return W;
}

const linear = (x: Tensor, w: Tensor, b: Tensor) => add(matmul(x, w), b);

/** [B, S, d] → [B, H, S, dh] */
function heads(x: Tensor, H: number): Tensor {
  const [B, S, d] = x.shape;
  return transpose(reshape(x, [B, S, H, d / H]), [0, 2, 1, 3]);
}
/** [B, H, S, dh] → [B, S, d] */
function merge(x: Tensor): Tensor {
  const [B, H, S, dh] = x.shape;
  return reshape(transpose(x, [0, 2, 1, 3]), [B, S, H * dh]);
}

/** Key/value cache of one layer for decoding: [B, H, seqLen, dh] each, and where to write: [B, H, 3] = (b, h, pos). */
export interface DecodeCache { k: Tensor; v: Tensor; at: Tensor }

function attention(x: Tensor, W: Params, l: number, c: ModelConfig, bias: Tensor, cache?: DecodeCache) {
  const d = c.dModel;
  const qkv = linear(x, W[`h${l}.attn.qkv.w`], W[`h${l}.attn.qkv.b`]);
  const q = heads(slice(qkv, -1, 0, d), c.nHeads);
  let k = heads(slice(qkv, -1, d, 2 * d), c.nHeads);
  let v = heads(slice(qkv, -1, 2 * d, 3 * d), c.nHeads);
  if (cache) {
    // Write this step's key/value row at its position (one ScatterND; the rest of the cache is copied).
    const [B, H, , dh] = k.shape;
    k = scatterND(cache.k, cache.at, reshape(k, [B, H, dh]));
    v = scatterND(cache.v, cache.at, reshape(v, [B, H, dh]));
  }
  const scores = add(mul(matmul(q, transpose(k, [0, 1, 3, 2])), x.g.scalar(1 / Math.sqrt(d / c.nHeads))), bias);
  const y = linear(merge(matmul(softmax(scores), v)), W[`h${l}.attn.proj.w`], W[`h${l}.attn.proj.b`]);
  return { y, k, v };
}

function block(x: Tensor, W: Params, l: number, c: ModelConfig, bias: Tensor, cache?: DecodeCache) {
  const att = attention(layerNorm(x, W[`h${l}.ln1.g`], W[`h${l}.ln1.b`]), W, l, c, bias, cache);
  x = add(x, att.y);
  const h = gelu(linear(layerNorm(x, W[`h${l}.ln2.g`], W[`h${l}.ln2.b`]), W[`h${l}.mlp.fc.w`], W[`h${l}.mlp.fc.b`]));
  x = add(x, linear(h, W[`h${l}.mlp.proj.w`], W[`h${l}.mlp.proj.b`]));
  return { x, k: att.k, v: att.v };
}

/**
 * Full-sequence forward. patches [B, nImg, P] float, text [B, Tt] int64, blind [B] float (1 = mask every
 * image token for text queries). Returns the final hidden states [B, nImg+Tt, d] and each layer's K/V.
 */
export function forward(g: Graph, c: ModelConfig, W: Params, patches: Tensor, text: Tensor, blind: Tensor) {
  const nImg = imageTokens(c);
  const [B, Tt] = text.shape;
  const S = nImg + Tt;
  const img = linear(patches, W['patch.w'], W['patch.b']);
  let x = add(concat([img, embedding(W['tok.w'], text)], 1), slice(W['pos.w'], 0, 0, S));
  // Additive attention bias: causal, plus the blind view's mask of image keys for text queries.
  const causal = new Float32Array(S * S);
  const imgKeys = new Float32Array(S * S);
  for (let i = 0; i < S; i++) {
    for (let j = 0; j < S; j++) {
      if (j > i) causal[i * S + j] = NEG_INF;
      if (i >= nImg && j < nImg) imgKeys[i * S + j] = NEG_INF;
    }
  }
  const bias = add(g.constant(causal, [S, S]), mul(reshape(blind, [B, 1, 1, 1]), g.constant(imgKeys, [S, S])));
  const kv: { k: Tensor; v: Tensor }[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const r = block(x, W, l, c, bias);
    x = r.x;
    kv.push({ k: r.k, v: r.v });
  }
  return { h: x, kv };
}

/** Log-probabilities over the vocabulary for the text positions: [B, Tt, V]. */
export function textLogProbs(c: ModelConfig, W: Params, h: Tensor, Tt: number): Tensor {
  const nImg = imageTokens(c);
  const hs = slice(h, 1, nImg - 1, nImg - 1 + Tt);
  return logSoftmax(matmul(layerNorm(hs, W['lnf.g'], W['lnf.b']), W['head.w']));
}

// ---------------------------------------------------------------------------------------------------
// Graphs

/** Inputs shared by the scoring and training graphs. */
function sequenceInputs(g: Graph, c: ModelConfig, B: number, Tt: number) {
  return {
    patches: g.input('patches', [B, imageTokens(c), patchDim(c)]),
    text: g.input('text', [B, Tt], { dtype: 'int64' }),
    blind: g.input('blind', [B]),
  };
}

/** Teacher-forced scoring: per text position the log-prob of the token there and the entropy. */
export function buildScoreGraph(c: ModelConfig, B: number, Tt: number, full: boolean): Graph {
  const g = new Graph(`score_${B}x${Tt}`);
  const W = paramInputs(g, c, false);
  const inp = sequenceInputs(g, c, B, Tt);
  const { h } = forward(g, c, W, inp.patches, inp.text, inp.blind);
  const lp = textLogProbs(c, W, h, Tt);
  g.output(reduceSum(mul(lp, oneHot(inp.text, c.vocabSize)), [-1]), 'logp');
  g.output(neg(reduceSum(mul(exp(lp), lp), [-1])), 'entropy');
  if (full) g.output(lp, 'logprobs');
  return g;
}

export const POLICY_SCALARS = ['clipLow', 'clipHigh', 'dualClip', 'sampledNllCoef', 'entropyBonus', 'klCoef', 'invTokens'] as const;
export type PolicyScalars = Record<(typeof POLICY_SCALARS)[number], Tensor>;

/**
 * The clipped surrogate of ALGORITHMS.md §5 over per-token tensors (mask m marks valid response tokens):
 * r = exp(clamp(logp − logp_old, ±20)), pg = max(−Ã r, −Ã clip(r, 1−ε_low, 1+ε_high)), for Ã < 0
 * pg = min(pg, −C Ã); loss = Σ m·pg / N + c_nll · Σ m·(−logp) / N + c_kl · Σ m·k3(logp, logp_ref) / N
 * − c_H · Σ m·H / N when the full-vocabulary entropy H is given (`entropyBonus`, verl's entropy_coeff),
 * where N (`invTokens` = 1/N) counts all valid tokens of the whole step batch, so chunks sum to the batch
 * loss. The ±20 clamps and k3's cap of 10 are core's (K3_LOG_RATIO_CLAMP, K3_MAX in algorithms/kl.ts); the
 * clamp of the ratio's log is verl's and only acts on a diverged policy.
 */
export function policyLoss(logp: Tensor, mask: Tensor, adv: Tensor, oldLogp: Tensor, refLogp: Tensor, s: PolicyScalars, entropy?: Tensor) {
  const g = logp.g;
  const one = g.scalar(1), zero = g.scalar(0);
  const clampLogRatio = (x: Tensor) => clip(x, g.scalar(-K3_LOG_RATIO_CLAMP), g.scalar(K3_LOG_RATIO_CLAMP));
  const tokenMean = (x: Tensor) => mul(reduceSum(mul(x, mask), x.shape.map((_, i) => i)), s.invTokens);
  const ratio = exp(clampLogRatio(mul(sub(logp, oldLogp), mask)));
  const pg1 = neg(mul(adv, ratio));
  const pg2 = neg(mul(adv, clip(ratio, sub(one, s.clipLow), add(one, s.clipHigh))));
  const pgClipped = maximum(pg1, pg2);
  const pg = where(less(adv, zero), minimum(pgClipped, neg(mul(s.dualClip, adv))), pgClipped);
  const pgLoss = tokenMean(pg);
  const entropyLoss = tokenMean(neg(logp));
  const dRef = clampLogRatio(sub(refLogp, logp));
  const klLoss = tokenMean(clip(sub(sub(exp(dRef), dRef), one), zero, g.scalar(K3_MAX)));
  const base = add(add(pgLoss, mul(s.sampledNllCoef, entropyLoss)), mul(s.klCoef, klLoss));
  const loss = entropy ? sub(base, mul(s.entropyBonus, tokenMean(entropy))) : base;
  return { loss, pgLoss, entropyLoss, klLoss };
}

export function policyScalarInputs(g: Graph): PolicyScalars {
  return Object.fromEntries(POLICY_SCALARS.map((n) => [n, g.input(n, [])])) as PolicyScalars;
}

/** The training step of the policy: §5's loss on the model's log-probs, and its gradient. */
export function buildPolicyGraph(c: ModelConfig, B: number, Tt: number): Graph {
  const g = new Graph(`policy_${B}x${Tt}`);
  const W = paramInputs(g, c, true);
  const inp = sequenceInputs(g, c, B, Tt);
  const mask = g.input('mask', [B, Tt]);
  const adv = g.input('advantages', [B, Tt]);
  const oldLogp = g.input('oldLogp', [B, Tt]);
  const refLogp = g.input('refLogp', [B, Tt]);
  const s = policyScalarInputs(g);
  const { h } = forward(g, c, W, inp.patches, inp.text, inp.blind);
  const lp = textLogProbs(c, W, h, Tt);
  const logp = reduceSum(mul(lp, oneHot(inp.text, c.vocabSize)), [-1]);
  const entropy = neg(reduceSum(mul(exp(lp), lp), [-1]));
  const L = policyLoss(logp, mask, adv, oldLogp, refLogp, s, entropy);
  g.output(L.loss, 'loss');
  g.output(L.pgLoss, 'pgLoss');
  g.output(L.entropyLoss, 'entropyLoss');
  g.output(L.klLoss, 'klLoss');
  g.output(logp, 'logp');
  g.output(entropy, 'entropy');
  outputGradients(g, c, W, L.loss);
  return g;
}

/** Cross-entropy on the masked (response) tokens: loss = −Σ m·logp / N. */
export function buildSupervisedGraph(c: ModelConfig, B: number, Tt: number): Graph {
  const g = new Graph(`sft_${B}x${Tt}`);
  const W = paramInputs(g, c, true);
  const inp = sequenceInputs(g, c, B, Tt);
  const mask = g.input('mask', [B, Tt]);
  const invTokens = g.input('invTokens', []);
  const { h } = forward(g, c, W, inp.patches, inp.text, inp.blind);
  const logp = reduceSum(mul(textLogProbs(c, W, h, Tt), oneHot(inp.text, c.vocabSize)), [-1]);
  const loss = neg(mul(reduceSum(mul(logp, mask), [0, 1]), invTokens));
  g.output(loss, 'loss');
  outputGradients(g, c, W, loss);
  return g;
}

function outputGradients(g: Graph, c: ModelConfig, W: Params, loss: Tensor) {
  const names = paramShapes(c).map(([n]) => n);
  const grads = gradients(loss, names.map((n) => W[n]));
  names.forEach((n, i) => g.output(grads[i], `grad.${n}`));
}

/**
 * Sampling, prefill: the forward over [image; prompts padded to Tt]. Outputs log-probs at every text
 * position [B, Tt, V] (the caller reads the row after each prompt, so Tt > the longest prompt) and each
 * layer's K/V zero-padded to the full cache [B, H, seqLen, dh] (rows past a prompt are written while decoding).
 */
export function buildPrefillGraph(c: ModelConfig, B: number, Tt: number): Graph {
  const g = new Graph(`prefill_${B}x${Tt}`);
  const W = paramInputs(g, c, false);
  const inp = sequenceInputs(g, c, B, Tt);
  const { h, kv } = forward(g, c, W, inp.patches, inp.text, inp.blind);
  g.output(textLogProbs(c, W, h, Tt), 'logprobs');
  const toCache = (t: Tensor) => {
    if (Tt === c.maxText) return t;
    const [, H, , dh] = t.shape;
    return concat([t, expand(g.scalar(0), [B, H, c.maxText - Tt, dh])], 2);
  };
  kv.forEach((t, l) => { g.output(toCache(t.k), `present.${l}.k`); g.output(toCache(t.v), `present.${l}.v`); });
  return g;
}

/**
 * Sampling, one decode step for every sequence of the batch: token [B, 1] at position pos [B, 1]; the
 * cache is a fixed [B, H, seqLen, dh] buffer per layer, so each step costs the same at any length.
 * cacheIndex [B, H, 3] holds (b, h, pos) for the cache writes; keyBias [B, 1, 1, seqLen] is 0 for keys the
 * query may see (≤ pos, and not image keys for blind), else −1e9.
 */
export function buildDecodeGraph(c: ModelConfig, B: number): Graph {
  const g = new Graph(`decode_${B}`);
  const W = paramInputs(g, c, false);
  const S = seqLen(c);
  const token = g.input('token', [B, 1], { dtype: 'int64' });
  const pos = g.input('pos', [B, 1], { dtype: 'int64' });
  const keyBias = g.input('keyBias', [B, 1, 1, S]);
  const at = g.input('cacheIndex', [B, c.nHeads, 3], { dtype: 'int64' });
  let x = add(embedding(W['tok.w'], token), embedding(W['pos.w'], pos));
  const dh = c.dModel / c.nHeads;
  for (let l = 0; l < c.nLayers; l++) {
    const k = g.input(`past.${l}.k`, [B, c.nHeads, S, dh]);
    const v = g.input(`past.${l}.v`, [B, c.nHeads, S, dh]);
    const r = block(x, W, l, c, keyBias, { k, v, at });
    x = r.x;
    g.output(r.k, `present.${l}.k`);
    g.output(r.v, `present.${l}.v`);
  }
  const logits = matmul(layerNorm(x, W['lnf.g'], W['lnf.b']), W['head.w']);
  g.output(logSoftmax(reshape(logits, [B, c.vocabSize])), 'logprobs');
  return g;
}
