/**
 * The built-in engine: the tiny VLM (model.ts) run by onnxruntime-node, implementing PolicyEngine.
 * Batches are packed into padded buckets (batching.ts), so a handful of sessions serve every call;
 * sampling (sampler.ts) decodes with a key/value cache; the state is safetensors bytes (state.ts).
 */
import type * as ort from 'onnxruntime-node';
import { policyLossReference, type PolicyLossOptions } from '../../core/algorithms/loss';
import type { ExecutionProvider } from '../../core/protocol/backend';
import { AdamW, clipGradNorm } from './adamw';
import { chunks, f32, pack, textBucket, type Feeds } from './batching';
import {
  POLICY_SCALARS, type ModelConfig, buildDecodeGraph, buildPolicyGraph, buildPrefillGraph, buildScoreGraph,
  buildSupervisedGraph, checkConfig, initWeights, paramShapes,
} from './model';
import { sample } from './sampler';
import { SessionPool } from './session';
import { loadState, saveState } from './state';
import {
  zeroStepStats, type PolicyBatch, type PolicyEngine, type SampleRequest, type SampleResult, type ScoreResult,
  type SequenceInput, type StepStats,
} from './types';

export type { PolicyEngine } from './types';
export { DEFAULT_MODEL_SIZE, modelConfig, paramCount, type ModelConfig } from './model';
export { drawToken } from './sampler';

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

export async function createEngine(config: ModelConfig, opts: EngineOptions): Promise<PolicyEngine> {
  checkConfig(config);
  const engine = new Engine(config, opts);
  // Open the first session now, so a missing provider is reported (and CPU chosen) before any work.
  await engine.warmUp();
  return engine;
}

export class Engine implements PolicyEngine {
  readonly weights: Map<string, Float32Array>;
  private readonly weightFeeds: Feeds = {};
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
  setLearningRate(lr: number) { this.opt.cfg.lr = lr; }

  async warmUp() { await this.session('score', 1, textBucket(this.config, 1)); }

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

  /** The feeds of one chunk: the weights and the packed sequences; and the response-token mask. */
  private feeds(part: SequenceInput[], B: number, Tt: number) {
    const { feeds, mask } = pack(this.config, part, B, Tt);
    return { feeds: { ...this.weightFeeds, ...feeds }, mask };
  }

  // -------------------------------------------------------------------------------------------------
  // Scoring

  async score(seqs: SequenceInput[], opts: { fullDistribution?: boolean } = {}): Promise<ScoreResult> {
    const V = this.config.vocabSize;
    const res: ScoreResult = { logp: [], entropy: [], ...(opts.fullDistribution ? { logProbs: [] } : {}) };
    for (const { part, B, Tt } of chunks(this.config, seqs)) {
      const session = await this.session(opts.fullDistribution ? 'scorefull' : 'score', B, Tt);
      const { feeds } = this.feeds(part, B, Tt);
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

  async policyStep(batch: PolicyBatch, loss: PolicyLossOptions): Promise<StepStats> {
    const { sequences } = batch;
    if (loss.klCoef > 0 && !batch.refLogp) throw new Error('engine: policyStep with klCoef > 0 needs refLogp');
    const N = sequences.reduce((s, q) => s + q.response.length, 0);
    const stats = zeroStepStats();
    if (N === 0) return stats;
    sequences.forEach((s, i) => {
      for (const [what, arr] of [['advantages', batch.advantages], ['oldLogp', batch.oldLogp], ['refLogp', batch.refLogp]] as const) {
        if (arr && arr[i].length !== s.response.length) throw new Error(`engine: policyStep ${what}[${i}] has ${arr[i].length} values for a response of ${s.response.length} tokens`);
      }
    });
    const grads = this.newGrads();
    const scalars: Record<(typeof POLICY_SCALARS)[number], number> = {
      clipLow: loss.clipLow, clipHigh: loss.clipHigh, dualClip: loss.dualClip, sampledNllCoef: loss.sampledNllCoef, entropyBonus: loss.entropyBonus, klCoef: loss.klCoef, invTokens: 1 / N,
    };
    const logpNew: Float32Array[] = [];
    let entropySum = 0;
    for (const { start, part, B, Tt } of chunks(this.config, sequences)) {
      const session = await this.session('policy', B, Tt);
      const { feeds, mask } = this.feeds(part, B, Tt);
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
    for (const { part, B, Tt } of chunks(this.config, seqs)) {
      const session = await this.session('sft', B, Tt);
      const { feeds, mask } = this.feeds(part, B, Tt);
      feeds.mask = f32(mask, [B, Tt]);
      feeds.invTokens = f32(new Float32Array([1 / N]), []);
      const out = await session.run(feeds);
      loss += (out.loss.data as Float32Array)[0];
      this.accumulate(grads, out);
    }
    return { loss, gradNorm: this.applyGrads(grads) };
  }

  // -------------------------------------------------------------------------------------------------
  // Sampling (sampler.ts) and state (state.ts)

  sample(req: SampleRequest): Promise<SampleResult> {
    return sample({ config: this.config, weightFeeds: this.weightFeeds, session: (kind, B, Tt) => this.session(kind, B, Tt) }, req);
  }

  saveState(): { weights: Uint8Array; optimizer: Uint8Array } {
    return saveState(this.config, this.weights, this.opt);
  }

  loadState(state: { weights: Uint8Array; optimizer?: Uint8Array }): void {
    loadState(this.config, this.weights, this.opt, state);
  }

  async dispose() { await this.pool.dispose(); }
}

