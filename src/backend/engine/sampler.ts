/**
 * Sampling with a key/value cache: one prefill over [image; prompt], then one decode step per new token
 * for every live sequence, each drawing from the temperature- and top-p-shaped distribution.
 */
import type * as ort from 'onnxruntime-node';
import { SAMPLE_CHUNK, batchBucket, f32, i64, pack, textBucket, type Feeds } from './batching';
import { NEG_INF, imageTokens, seqLen, type ModelConfig } from './model';
import type { SampleRequest, SampleResult, SequenceInput } from './types';

/** What sampling needs from the engine: the model, its weights as feeds, and its prefill and decode sessions. */
export interface SamplerContext {
  readonly config: ModelConfig;
  readonly weightFeeds: Feeds;
  session(kind: 'prefill' | 'decode', B: number, Tt?: number): Promise<ort.InferenceSession>;
}

export async function sample(ctx: SamplerContext, req: SampleRequest): Promise<SampleResult> {
  const tokens: number[][] = [], logp: Float32Array[] = [];
  for (let i = 0; i < req.prompts.length; i += SAMPLE_CHUNK) {
    const r = await sampleChunk(ctx, req, i, Math.min(req.prompts.length, i + SAMPLE_CHUNK));
    tokens.push(...r.tokens);
    logp.push(...r.logp);
  }
  return { tokens, logp };
}

/** Each layer's present K/V of a session's outputs, as the past of the next decode step. */
function handOff(out: ort.InferenceSession.ReturnType, nLayers: number): Feeds {
  const past: Feeds = {};
  for (let l = 0; l < nLayers; l++) {
    past[`past.${l}.k`] = out[`present.${l}.k`];
    past[`past.${l}.v`] = out[`present.${l}.v`];
  }
  return past;
}

async function sampleChunk(ctx: SamplerContext, req: SampleRequest, from: number, to: number): Promise<SampleResult> {
  const c = ctx.config, V = c.vocabSize, S = seqLen(c), nImg = imageTokens(c);
  const n = to - from, B = batchBucket(n);
  const seqs: SequenceInput[] = [];
  for (let i = from; i < to; i++) seqs.push({ image: req.images[i], prompt: req.prompts[i], response: [] });
  // Prefill only as far as the prompts reach (the row after the longest prompt is read).
  const Tp = textBucket(c, Math.min(c.maxText, Math.max(...seqs.map((s) => s.prompt.length)) + 1));
  const { feeds } = pack(c, seqs, B, Tp);
  const prefill = await (await ctx.session('prefill', B, Tp)).run({ ...ctx.weightFeeds, ...feeds });

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

  let past = handOff(prefill, c.nLayers);
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
    const decode = await ctx.session('decode', Bd);
    const out = await decode.run({
      ...ctx.weightFeeds, ...past,
      token: i64(token, [Bd, 1]),
      pos: i64(pos, [Bd, 1]),
      keyBias: f32(keyBias, [Bd, 1, 1, S]),
      cacheIndex: i64(cacheIndex, [Bd, H, 3]),
    });
    past = handOff(out, c.nLayers);
    const lp = out.logprobs.data as Float32Array;
    rows.forEach((b, r) => { if (active[b]) emit(b, lp.subarray(r * V, (r + 1) * V)); });
  }
  return { tokens, logp: lps.map((a) => Float32Array.from(a)) };
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
