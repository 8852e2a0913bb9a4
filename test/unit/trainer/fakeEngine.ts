/**
 * A small deterministic PolicyEngine for the trainer's unit tests: a bigram table plus an image-dependent
 * bias, all in TypeScript. Its updates move the table along the advantages, so training changes what it
 * samples, and its state round-trips through saveState/loadState exactly.
 */
import type { PolicyLossOptions } from '../../../src/core/algorithms/loss';
import type { ModelConfig } from '../../../src/backend/engine/model';
import type {
  PolicyBatch,
  PolicyEngine,
  SampleRequest,
  SampleResult,
  ScoreResult,
  SequenceInput,
  StepStats,
} from '../../../src/backend/engine/types';
import type { ExecutionProvider } from '../../../src/core/protocol/backend';

export class FakeEngine implements PolicyEngine {
  readonly ep: ExecutionProvider = 'cpu';
  /** bigram[prev * V + next] */
  private bigram: Float32Array;
  /** image coupling per token */
  private vis: Float32Array;
  private moment: Float32Array;
  calls = { sample: 0, score: 0, policyStep: 0, supervisedStep: 0 };
  scoreBatchSizes: number[] = [];

  constructor(readonly config: ModelConfig, seed = 1, private lr = 0.05) {
    const V = config.vocabSize;
    this.bigram = new Float32Array(V * V);
    this.vis = new Float32Array(V);
    this.moment = new Float32Array(V * V);
    let x = seed >>> 0 || 1;
    const rnd = () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 4294967296) - 0.5;
    for (let i = 0; i < this.bigram.length; i++) this.bigram[i] = rnd();
    for (let i = 0; i < V; i++) this.vis[i] = 4 * rnd();
  }

  private feature(seq: { image: Float32Array; blind?: boolean }): number {
    if (seq.blind) return 0;
    let s = 0;
    for (let i = 0; i < seq.image.length; i += 7) s += seq.image[i];
    return (s / Math.ceil(seq.image.length / 7)) * 4;
  }

  private logDist(prev: number, f: number, temperature = 1): Float64Array {
    const V = this.config.vocabSize;
    const out = new Float64Array(V);
    let max = -Infinity;
    for (let v = 0; v < V; v++) {
      out[v] = (this.bigram[prev * V + v] + this.vis[v] * f) / temperature;
      if (out[v] > max) max = out[v];
    }
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(out[v] - max);
    const lz = max + Math.log(z);
    for (let v = 0; v < V; v++) out[v] -= lz;
    return out;
  }

  async sample(req: SampleRequest): Promise<SampleResult> {
    this.calls.sample++;
    const tokens: number[][] = [];
    const logp: Float32Array[] = [];
    req.images.forEach((image, i) => {
      const f = this.feature({ image });
      let prev = req.prompts[i][req.prompts[i].length - 1];
      const out: number[] = [];
      const lp: number[] = [];
      for (let t = 0; t < req.maxNewTokens; t++) {
        const dist = this.logDist(prev, f, Math.max(req.temperature, 1e-6));
        const u = req.random();
        let acc = 0;
        let tok = dist.length - 1;
        if (req.temperature <= 1e-6) tok = dist.indexOf(Math.max(...dist));
        else for (let v = 0; v < dist.length; v++) {
          acc += Math.exp(dist[v]);
          if (u < acc) {
            tok = v;
            break;
          }
        }
        out.push(tok);
        lp.push(this.logDist(prev, f)[tok]);
        prev = tok;
        if (tok === req.stopToken) break;
      }
      tokens.push(out);
      logp.push(Float32Array.from(lp));
    });
    return { tokens, logp };
  }

  async score(seqs: SequenceInput[], opts?: { fullDistribution?: boolean }): Promise<ScoreResult> {
    this.calls.score++;
    this.scoreBatchSizes.push(seqs.length);
    const logp: Float32Array[] = [];
    const entropy: Float32Array[] = [];
    const full: Float32Array[] = [];
    for (const s of seqs) {
      const f = this.feature(s);
      let prev = s.prompt[s.prompt.length - 1];
      const lp = new Float32Array(s.response.length);
      const ent = new Float32Array(s.response.length);
      const V = this.config.vocabSize;
      const fd = new Float32Array(s.response.length * V);
      s.response.forEach((tok, t) => {
        const d = this.logDist(prev, f);
        lp[t] = d[tok];
        ent[t] = -d.reduce((a, l) => a + Math.exp(l) * l, 0);
        fd.set(d, t * V);
        prev = tok;
      });
      logp.push(lp);
      entropy.push(ent);
      full.push(fd);
    }
    return opts?.fullDistribution ? { logp, entropy, logProbs: full } : { logp, entropy };
  }

  setLearningRate(lr: number): void {
    this.lr = lr;
  }

  async policyStep(batch: PolicyBatch, _loss: PolicyLossOptions): Promise<StepStats> {
    this.calls.policyStep++;
    const V = this.config.vocabSize;
    let n = 0;
    let pg = 0;
    batch.sequences.forEach((s, i) => {
      let prev = s.prompt[s.prompt.length - 1];
      s.response.forEach((tok, t) => {
        const a = batch.advantages[i][t];
        const k = prev * V + tok;
        this.moment[k] = 0.9 * this.moment[k] + 0.1 * a;
        this.bigram[k] += this.lr * a;
        pg -= a;
        n++;
        prev = tok;
      });
    });
    return { loss: pg / Math.max(1, n), pgLoss: pg / Math.max(1, n), entropyLoss: 0, klLoss: 0, clipFraction: 0, entropy: 1, approxKl: 0, gradNorm: 1 };
  }

  async supervisedStep(seqs: SequenceInput[]): Promise<{ loss: number; gradNorm: number }> {
    this.calls.supervisedStep++;
    const V = this.config.vocabSize;
    let loss = 0;
    let n = 0;
    for (const s of seqs) {
      let prev = s.prompt[s.prompt.length - 1];
      for (const tok of s.response) {
        loss -= this.logDist(prev, this.feature(s))[tok];
        this.bigram[prev * V + tok] += this.lr;
        n++;
        prev = tok;
      }
    }
    return { loss: loss / Math.max(1, n), gradNorm: 1 };
  }

  saveState(): { weights: Uint8Array; optimizer: Uint8Array } {
    const w = new Float32Array(this.bigram.length + this.vis.length);
    w.set(this.bigram);
    w.set(this.vis, this.bigram.length);
    return { weights: new Uint8Array(w.buffer.slice(0)), optimizer: new Uint8Array(this.moment.buffer.slice(0)) };
  }

  loadState(state: { weights: Uint8Array; optimizer?: Uint8Array }): void {
    const w = new Float32Array(state.weights.slice().buffer);
    if (w.length !== this.bigram.length + this.vis.length) throw new Error('FakeEngine.loadState: wrong size');
    this.bigram = w.slice(0, this.bigram.length);
    this.vis = w.slice(this.bigram.length);
    if (state.optimizer) this.moment = new Float32Array(state.optimizer.slice().buffer);
  }

  async dispose(): Promise<void> {}
}
