/**
 * The built-in engine: the tiny VLM (model.ts) run by onnxruntime-node, implementing PolicyEngine.
 * Batches are cut into chunks of at most MAX_CHUNK sequences (SAMPLE_CHUNK for sampling), each padded to
 * a bucket (batch: 1, 2, 4, 8, 16, then multiples of 16; text: multiples of 16), so a handful of sessions
 * serve every call.
 */
import * as ort from 'onnxruntime-node';
import type { ExecutionProvider } from '../../core/protocol/backend';
import { AdamW, clipGradNorm } from './adamw';
import {
  NEG_INF, POLICY_SCALARS, buildDecodeGraph, buildPolicyGraph, buildPrefillGraph, buildScoreGraph,
  buildSupervisedGraph, checkConfig, imageTokens, initWeights, paramShapes, patchDim, seqLen,
} from './model';
import { policyLossReference } from '../../core/algorithms/loss';
import { readSafetensors, writeSafetensors } from './safetensors';
import { SessionPool } from './session';
import type {
  ModelConfig, PolicyBatch, PolicyEngine, PolicyLossConfig, SampleRequest, SampleResult, ScoreResult,
  SequenceInput, StepStats,
} from './types';

export type { ModelConfig, PolicyEngine } from './types';
export { paramCount } from './model';

export interface EngineOptions {
  ep?: ExecutionProvider;
  seed: number;
  lr?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  threads?: number;
  /** Let idle onnxruntime threads spin-wait (faster on an idle machine, slower on a busy one). Default false. */
  spin?: boolean;
  onLog?: (msg: string) => void;
}

/** A model small enough to train RL steps on 2 CPU cores (~0.25M parameters for a 100-token vocabulary). */
export function defaultModelConfig(vocabSize: number, imageSize: number, patchSize: number, maxText: number): ModelConfig {
  return { vocabSize, imageSize, channels: 3, patchSize, dModel: 96, nLayers: 2, nHeads: 4, dFF: 384, maxText };
}

export async function createEngine(config: ModelConfig, opts: EngineOptions): Promise<PolicyEngine> {
  checkConfig(config);
  const engine = new Engine(config, opts);
  // Open the first session now, so a missing provider is reported (and CPU chosen) before any work.
  await engine.warmUp();
  return engine;
}

export const MAX_CHUNK = 64;
/** Sampling batches run wider: a decode step is overhead-bound, so 128 rows cost ~1.8× of 64 (measured). */
export const SAMPLE_CHUNK = 128;
const TEXT_BUCKET = 16;
/** Batch buckets: 1, 2, 4, 8, 16, then multiples of 16 (at most 1.5× padding past 16). */
const batchBucket = (n: number) => (n <= 16 ? 2 ** Math.ceil(Math.log2(Math.max(1, n))) : Math.ceil(n / 16) * 16);

type Feeds = Record<string, ort.Tensor>;
const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);

export class Engine implements PolicyEngine {
  readonly weights: Map<string, Float32Array>;
  private weightFeeds: Feeds = {};
  private pool: SessionPool;
  private opt: AdamW;
  private maxGradNorm: number;
  private log: (msg: string) => void;

  constructor(readonly config: ModelConfig, opts: EngineOptions) {
    this.log = opts.onLog ?? ((m) => console.warn(m));
    this.weights = initWeights(config, opts.seed);
    for (const [name, shape] of paramShapes(config)) this.weightFeeds[name] = f32(this.weights.get(name)!, shape);
    this.pool = new SessionPool({ ep: opts.ep ?? 'cpu', threads: opts.threads, spin: opts.spin, onLog: this.log });
    this.opt = new AdamW(
      { lr: opts.lr ?? 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: opts.weightDecay ?? 0.01 },
      (name) => name.endsWith('.w'),
    );
    this.maxGradNorm = opts.maxGradNorm ?? 1.0;
  }

  get ep(): ExecutionProvider { return this.pool.ep; }
  /** Learning rate of the optimizer (the trainer may schedule it). */
  get lr() { return this.opt.cfg.lr; }
  set lr(v: number) { this.opt.cfg.lr = v; }

  async warmUp() { await this.session('score', 1, this.textBucket(1)); }

  private textBucket(n: number) { return Math.min(this.config.maxText, Math.max(TEXT_BUCKET, Math.ceil(n / TEXT_BUCKET) * TEXT_BUCKET)); }

  private session(kind: 'score' | 'scorefull' | 'policy' | 'sft' | 'prefill' | 'decode', B: number, Tt = 0) {
    const c = this.config;
    return this.pool.get(`${kind}:${B}:${Tt}`, () => {
      switch (kind) {
        case 'score': return buildScoreGraph(c, B, Tt, false);
        case 'scorefull': return buildScoreGraph(c, B, Tt, true);
        case 'policy': return buildPolicyGraph(c, B, Tt);
        case 'sft': return buildSupervisedGraph(c, B, Tt);
        case 'prefill': return buildPrefillGraph(c, B, Tt);
        case 'decode': return buildDecodeGraph(c, B);
      }
    });
  }

  // -------------------------------------------------------------------------------------------------
  // Packing sequences into padded tensors

  /** Image [C, H, W] → patches [nImg, C·p·p] (row-major patch grid; channel, row, column inside a patch). */
  patches(image: Float32Array, out: Float32Array, at: number) {
    const { channels: C, imageSize: S, patchSize: p } = this.config;
    if (image.length !== C * S * S) throw new Error(`engine: image has ${image.length} values, expected ${C}×${S}×${S} = ${C * S * S} (CHW)`);
    const g = S / p;
    let o = at;
    for (let py = 0; py < g; py++) for (let px = 0; px < g; px++) {
      for (let ch = 0; ch < C; ch++) for (let dy = 0; dy < p; dy++) {
        const row = ch * S * S + (py * p + dy) * S + px * p;
        for (let dx = 0; dx < p; dx++) out[o++] = image[row + dx];
      }
    }
  }

  private pack(seqs: SequenceInput[], B: number, Tt: number) {
    const c = this.config;
    const nImg = imageTokens(c), P = patchDim(c);
    const patches = new Float32Array(B * nImg * P);
    const text = new BigInt64Array(B * Tt);
    const blind = new Float32Array(B);
    const mask = new Float32Array(B * Tt);
    seqs.forEach((s, b) => {
      const n = s.prompt.length + s.response.length;
      if (n > c.maxText) throw new Error(`engine: sequence ${b} has ${n} text tokens (prompt ${s.prompt.length} + response ${s.response.length}); the model takes at most maxText = ${c.maxText}`);
      this.patches(s.image, patches, b * nImg * P);
      [...s.prompt, ...s.response].forEach((t, k) => {
        if (!(t >= 0 && t < c.vocabSize)) throw new Error(`engine: sequence ${b} token ${k} is ${t}, outside the vocabulary [0, ${c.vocabSize})`);
        text[b * Tt + k] = BigInt(t);
      });
      for (let k = s.prompt.length; k < n; k++) mask[b * Tt + k] = 1;
      blind[b] = s.blind ? 1 : 0;
    });
    return {
      feeds: {
        ...this.weightFeeds,
        patches: f32(patches, [B, nImg, P]),
        text: new ort.Tensor('int64', text, [B, Tt]),
        blind: f32(blind, [B]),
      } as Feeds,
      mask,
    };
  }

  /** Cuts a batch into chunks with their buckets. */
  private *chunks(seqs: SequenceInput[]) {
    for (let i = 0; i < seqs.length; i += MAX_CHUNK) {
      const part = seqs.slice(i, i + MAX_CHUNK);
      const Tt = this.textBucket(Math.max(...part.map((s) => s.prompt.length + s.response.length)));
      yield { start: i, part, B: batchBucket(part.length), Tt };
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Scoring

  async score(seqs: SequenceInput[], opts: { fullDistribution?: boolean } = {}): Promise<ScoreResult> {
    const V = this.config.vocabSize;
    const res: ScoreResult = { logp: [], entropy: [], ...(opts.fullDistribution ? { logProbs: [] } : {}) };
    for (const { part, B, Tt } of this.chunks(seqs)) {
      const session = await this.session(opts.fullDistribution ? 'scorefull' : 'score', B, Tt);
      const { feeds } = this.pack(part, B, Tt);
      const out = await session.run(feeds);
      const logp = out.logp.data as Float32Array, ent = out.entropy.data as Float32Array;
      part.forEach((s, b) => {
        const from = b * Tt + s.prompt.length, to = from + s.response.length;
        res.logp.push(logp.slice(from, to));
        res.entropy.push(ent.slice(from, to));
        if (res.logProbs) res.logProbs.push((out.logprobs.data as Float32Array).slice(from * V, to * V));
      });
    }
    return res;
  }

  // -------------------------------------------------------------------------------------------------
  // Training steps

  private newGrads() { return new Map<string, Float32Array>(); }

  /** Adds a chunk's gradients; the first chunk's output arrays are taken as they are (no copy). */
  private accumulate(grads: Map<string, Float32Array>, out: ort.InferenceSession.ReturnType) {
    for (const n of this.weights.keys()) {
      const d = out[`grad.${n}`].data as Float32Array;
      const g = grads.get(n);
      if (!g) { grads.set(n, d); continue; }
      for (let i = 0; i < g.length; i++) g[i] += d[i];
    }
  }

  private applyGrads(grads: Map<string, Float32Array>) {
    const gradNorm = clipGradNorm(grads.values(), this.maxGradNorm);
    if (Number.isFinite(gradNorm)) this.opt.update(this.weights, grads);
    else this.log(`engine: gradient norm is ${gradNorm}; update skipped`);
    return gradNorm;
  }

  async policyStep(batch: PolicyBatch, loss: PolicyLossConfig): Promise<StepStats> {
    const { sequences } = batch;
    if (loss.klCoef > 0 && !batch.refLogp) throw new Error('engine: policyStep with klCoef > 0 needs refLogp');
    const N = sequences.reduce((s, q) => s + q.response.length, 0);
    const stats: StepStats = { loss: 0, pgLoss: 0, entropyLoss: 0, klLoss: 0, clipFraction: 0, entropy: 0, approxKl: 0, gradNorm: 0 };
    if (N === 0) return stats;
    sequences.forEach((s, i) => {
      for (const [what, arr] of [['advantages', batch.advantages], ['oldLogp', batch.oldLogp], ['refLogp', batch.refLogp]] as const) {
        if (arr && arr[i].length !== s.response.length) throw new Error(`engine: policyStep ${what}[${i}] has ${arr[i].length} values for a response of ${s.response.length} tokens`);
      }
    });
    const grads = this.newGrads();
    const scalars: Record<(typeof POLICY_SCALARS)[number], number> = {
      clipLow: loss.clipLow, clipHigh: loss.clipHigh, dualClip: loss.dualClip, entropyCoef: loss.entropyCoef, klCoef: loss.klCoef, invTokens: 1 / N,
    };
    const logpNew: Float32Array[] = [];
    let entropySum = 0;
    for (const { start, part, B, Tt } of this.chunks(sequences)) {
      const session = await this.session('policy', B, Tt);
      const { feeds, mask } = this.pack(part, B, Tt);
      const adv = new Float32Array(B * Tt), old = new Float32Array(B * Tt), ref = new Float32Array(B * Tt);
      part.forEach((s, b) => {
        const at = b * Tt + s.prompt.length;
        adv.set(batch.advantages[start + b], at);
        old.set(batch.oldLogp[start + b], at);
        if (batch.refLogp) ref.set(batch.refLogp[start + b], at);
      });
      feeds.mask = f32(mask, [B, Tt]);
      feeds.advantages = f32(adv, [B, Tt]);
      feeds.oldLogp = f32(old, [B, Tt]);
      feeds.refLogp = f32(ref, [B, Tt]);
      for (const k of POLICY_SCALARS) feeds[k] = f32(new Float32Array([scalars[k]]), []);
      const out = await session.run(feeds);
      stats.loss += (out.loss.data as Float32Array)[0];
      stats.pgLoss += (out.pgLoss.data as Float32Array)[0];
      stats.entropyLoss += (out.entropyLoss.data as Float32Array)[0];
      stats.klLoss += (out.klLoss.data as Float32Array)[0];
      const logp = out.logp.data as Float32Array, ent = out.entropy.data as Float32Array;
      part.forEach((s, b) => {
        const at = b * Tt + s.prompt.length;
        logpNew.push(logp.slice(at, at + s.response.length));
        for (let k = at; k < at + s.response.length; k++) entropySum += ent[k];
      });
      this.accumulate(grads, out);
    }
    if (!batch.refLogp) stats.klLoss = 0; // no reference: the term is off (its coefficient is 0)
    // Clip fraction and approximate KL as the §5 reference defines them (verl's pg_clipfrac and ppo_kl).
    const ref = policyLossReference({ logpNew, logpOld: batch.oldLogp, advantages: batch.advantages }, loss);
    stats.clipFraction = ref.clipFraction;
    stats.approxKl = ref.approxKl;
    stats.entropy = entropySum / N;
    stats.gradNorm = this.applyGrads(grads);
    return stats;
  }

  async supervisedStep(seqs: SequenceInput[]): Promise<{ loss: number; gradNorm: number }> {
    const N = seqs.reduce((s, q) => s + q.response.length, 0);
    if (N === 0) return { loss: 0, gradNorm: 0 };
    const grads = this.newGrads();
    let loss = 0;
    for (const { part, B, Tt } of this.chunks(seqs)) {
      const session = await this.session('sft', B, Tt);
      const { feeds, mask } = this.pack(part, B, Tt);
      feeds.mask = f32(mask, [B, Tt]);
      feeds.invTokens = f32(new Float32Array([1 / N]), []);
      const out = await session.run(feeds);
      loss += (out.loss.data as Float32Array)[0];
      this.accumulate(grads, out);
    }
    return { loss, gradNorm: this.applyGrads(grads) };
  }

  // -------------------------------------------------------------------------------------------------
  // Sampling with a key/value cache

  async sample(req: SampleRequest): Promise<SampleResult> {
    const tokens: number[][] = [], logp: Float32Array[] = [];
    for (let i = 0; i < req.prompts.length; i += SAMPLE_CHUNK) {
      const r = await this.sampleChunk(req, i, Math.min(req.prompts.length, i + SAMPLE_CHUNK));
      tokens.push(...r.tokens);
      logp.push(...r.logp);
    }
    return { tokens, logp };
  }

  private async sampleChunk(req: SampleRequest, from: number, to: number): Promise<SampleResult> {
    const c = this.config, V = c.vocabSize, S = seqLen(c), nImg = imageTokens(c);
    const n = to - from, B = batchBucket(n);
    const seqs: SequenceInput[] = [];
    for (let i = from; i < to; i++) seqs.push({ image: req.images[i], prompt: req.prompts[i], response: [] });
    // Prefill only as far as the prompts reach (the row after the longest prompt is read).
    const Tp = this.textBucket(Math.min(c.maxText, Math.max(...seqs.map((s) => s.prompt.length)) + 1));
    const { feeds } = this.pack(seqs, B, Tp);
    const prefill = await (await this.session('prefill', B, Tp)).run(feeds);

    const tokens: number[][] = seqs.map(() => []);
    const lps: number[][] = seqs.map(() => []);
    const textLen = seqs.map((s) => s.prompt.length);
    const active = seqs.map((s) => s.prompt.length < c.maxText && req.maxNewTokens > 0);
    const emit = (b: number, row: Float32Array) => {
      const t = drawToken(row, req.temperature, req.topP, req.random);
      tokens[b].push(t);
      lps[b].push(row[t]);
      textLen[b]++;
      if (t === req.stopToken || tokens[b].length >= req.maxNewTokens || textLen[b] >= c.maxText) active[b] = false;
    };
    const first = prefill.logprobs.data as Float32Array;
    seqs.forEach((s, b) => { if (active[b]) emit(b, first.subarray((b * Tp + s.prompt.length) * V, (b * Tp + s.prompt.length + 1) * V)); });

    let past: Feeds = {};
    for (let l = 0; l < c.nLayers; l++) {
      past[`past.${l}.k`] = prefill[`present.${l}.k`];
      past[`past.${l}.v`] = prefill[`present.${l}.v`];
    }
    const H = c.nHeads, rowSize = H * S * (c.dModel / H);
    // rows[r] is the sequence decoded in batch row r. When finished sequences free a smaller bucket, the
    // live rows of the cache are copied into it, so a long tail of a few sequences runs at a small batch.
    let rows = seqs.map((_, b) => b), Bd = B;
    for (;;) {
      const live = rows.filter((b) => active[b]);
      if (!live.length) break;
      if (batchBucket(live.length) < Bd) {
        const Bn = batchBucket(live.length);
        const keep = live.map((b) => rows.indexOf(b));
        const compacted: Feeds = {};
        for (const [name, t] of Object.entries(past)) {
          const from = t.data as Float32Array, to = new Float32Array(Bn * rowSize);
          keep.forEach((r, i) => to.set(from.subarray(r * rowSize, (r + 1) * rowSize), i * rowSize));
          compacted[name] = f32(to, [Bn, H, S, c.dModel / H]);
        }
        past = compacted;
        rows = live;
        Bd = Bn;
      }
      const token = new BigInt64Array(Bd), pos = new BigInt64Array(Bd), keyBias = new Float32Array(Bd * S).fill(NEG_INF);
      const cacheIndex = new BigInt64Array(Bd * H * 3);
      for (let r = 0; r < Bd; r++) {
        // Feed each row's last sampled token at its position; finished and padding rows repeat harmlessly.
        const b = rows[r];
        const at = b === undefined ? 0 : Math.min(nImg + textLen[b] - 1, S - 1);
        token[r] = BigInt(b !== undefined && tokens[b].length ? tokens[b][tokens[b].length - 1] : 0);
        pos[r] = BigInt(at);
        for (let h = 0; h < H; h++) cacheIndex.set([BigInt(r), BigInt(h), BigInt(at)], (r * H + h) * 3);
        keyBias.fill(0, r * S, r * S + at + 1);
      }
      const decode = await this.session('decode', Bd);
      const out = await decode.run({
        ...this.weightFeeds, ...past,
        token: new ort.Tensor('int64', token, [Bd, 1]),
        pos: new ort.Tensor('int64', pos, [Bd, 1]),
        keyBias: f32(keyBias, [Bd, 1, 1, S]),
        cacheIndex: new ort.Tensor('int64', cacheIndex, [Bd, H, 3]),
      });
      past = {};
      for (let l = 0; l < c.nLayers; l++) {
        past[`past.${l}.k`] = out[`present.${l}.k`];
        past[`past.${l}.v`] = out[`present.${l}.v`];
      }
      const lp = out.logprobs.data as Float32Array;
      rows.forEach((b, r) => { if (active[b]) emit(b, lp.subarray(r * V, (r + 1) * V)); });
    }
    return { tokens, logp: lps.map((a) => Float32Array.from(a)) };
  }

  // -------------------------------------------------------------------------------------------------
  // State

  saveState(): { weights: Uint8Array; optimizer: Uint8Array } {
    const shapes = new Map(paramShapes(this.config));
    const weights = writeSafetensors(
      [...this.weights].map(([name, data]) => ({ name, shape: shapes.get(name)!, data })),
      { format: 'prpo-tiny-vlm', config: JSON.stringify(this.config) },
    );
    const opt = [...this.opt.m.keys()].flatMap((name) => [
      { name: `m.${name}`, shape: shapes.get(name)!, data: this.opt.m.get(name)! },
      { name: `v.${name}`, shape: shapes.get(name)!, data: this.opt.v.get(name)! },
    ]);
    const optimizer = writeSafetensors(opt, { step: String(this.opt.step), config: JSON.stringify(this.opt.cfg) });
    return { weights, optimizer };
  }

  loadState(state: { weights: Uint8Array; optimizer?: Uint8Array }): void {
    const { tensors, metadata } = readSafetensors(state.weights);
    if (metadata.config) {
      const saved = JSON.parse(metadata.config) as ModelConfig;
      const diff = (Object.keys(this.config) as (keyof ModelConfig)[]).filter((k) => saved[k] !== this.config[k]);
      if (diff.length) throw new Error(`engine: weights were saved for a different model (${diff.map((k) => `${k} ${saved[k]} ≠ ${this.config[k]}`).join(', ')})`);
    }
    const shapes = paramShapes(this.config);
    for (const [name, shape] of shapes) {
      const t = tensors.get(name);
      if (!t) throw new Error(`engine: weights lack tensor '${name}'`);
      if (t.shape.join(',') !== shape.join(',')) throw new Error(`engine: tensor '${name}' has shape [${t.shape}], model needs [${shape}]`);
    }
    for (const [name] of shapes) this.weights.get(name)!.set(tensors.get(name)!.data);
    if (state.optimizer) {
      const o = readSafetensors(state.optimizer);
      this.opt.m.clear();
      this.opt.v.clear();
      for (const [name] of shapes) {
        const m = o.tensors.get(`m.${name}`), v = o.tensors.get(`v.${name}`);
        if (m && v) { this.opt.m.set(name, m.data); this.opt.v.set(name, v.data); }
      }
      this.opt.step = Number(o.metadata.step ?? 0);
    }
  }

  async dispose() { await this.pool.dispose(); }
}

/**
 * Draws a token from a log-distribution with temperature and nucleus (top-p) truncation; temperature
 * ≤ 1e-6 means greedy. Uses exactly one `random()` per draw, so streams stay aligned.
 */
export function drawToken(logp: Float32Array, temperature: number, topP: number, random: () => number): number {
  const u = random();
  const V = logp.length;
  if (temperature <= 1e-6) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logp[i] > logp[best]) best = i;
    return best;
  }
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, logp[i] / temperature);
  const p = new Float64Array(V);
  let z = 0;
  for (let i = 0; i < V; i++) { p[i] = Math.exp(logp[i] / temperature - max); z += p[i]; }
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => p[b] - p[a] || a - b);
  let keep = 0, mass = 0;
  while (keep < V && (keep === 0 || mass < topP * z)) mass += p[order[keep++]];
  let x = u * mass;
  for (let k = 0; k < keep; k++) {
    x -= p[order[k]];
    if (x < 0) return order[k];
  }
  return order[keep - 1];
}
