/**
 * Packing sequences into padded tensors. A batch is cut into chunks of at most MAX_CHUNK sequences
 * (SAMPLE_CHUNK for sampling), each padded to a bucket (batch: 1, 2, 4, 8, 16, then multiples of 16; text:
 * multiples of 16), so a handful of sessions serve every call.
 */
import * as ort from 'onnxruntime-node';
import { imageTokens, patchDim, type ModelConfig } from './model';
import type { SequenceInput } from './types';

export const MAX_CHUNK = 64;
/** Sampling batches run wider: a decode step is overhead-bound, so 128 rows cost ~1.8× of 64 (measured). */
export const SAMPLE_CHUNK = 128;
const TEXT_BUCKET = 16;
/** Batch buckets: 1, 2, 4, 8, 16, then multiples of 16 (at most 1.5× padding past 16). */
export const batchBucket = (n: number) => (n <= 16 ? 2 ** Math.ceil(Math.log2(Math.max(1, n))) : Math.ceil(n / 16) * 16);

export type Feeds = Record<string, ort.Tensor>;
export const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
export const i64 = (data: BigInt64Array, dims: number[]) => new ort.Tensor('int64', data, dims);

/** The text bucket for `n` text tokens (never past maxText). */
export function textBucket(c: ModelConfig, n: number) {
  return Math.min(c.maxText, Math.max(TEXT_BUCKET, Math.ceil(n / TEXT_BUCKET) * TEXT_BUCKET));
}

/** Image [C, H, W] → patches [nImg, C·p·p] written at `out[at]` (row-major patch grid; channel, row, column inside a patch). */
export function writePatches(c: ModelConfig, image: Float32Array, out: Float32Array, at: number) {
  const { channels: C, imageSize: S, patchSize: p } = c;
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

/** The sequence inputs (patches, text, blind) of `seqs` padded to [B, Tt], and the mask of their response tokens. */
export function pack(c: ModelConfig, seqs: SequenceInput[], B: number, Tt: number): { feeds: Feeds; mask: Float32Array } {
  const nImg = imageTokens(c), P = patchDim(c);
  const patches = new Float32Array(B * nImg * P);
  const text = new BigInt64Array(B * Tt);
  const blind = new Float32Array(B);
  const mask = new Float32Array(B * Tt);
  seqs.forEach((s, b) => {
    const n = s.prompt.length + s.response.length;
    if (n > c.maxText) throw new Error(`engine: sequence ${b} has ${n} text tokens (prompt ${s.prompt.length} + response ${s.response.length}); the model takes at most maxText = ${c.maxText}`);
    writePatches(c, s.image, patches, b * nImg * P);
    [...s.prompt, ...s.response].forEach((t, k) => {
      if (!(t >= 0 && t < c.vocabSize)) throw new Error(`engine: sequence ${b} token ${k} is ${t}, outside the vocabulary [0, ${c.vocabSize})`);
      text[b * Tt + k] = BigInt(t);
    });
    for (let k = s.prompt.length; k < n; k++) mask[b * Tt + k] = 1;
    blind[b] = s.blind ? 1 : 0;
  });
  return { feeds: { patches: f32(patches, [B, nImg, P]), text: i64(text, [B, Tt]), blind: f32(blind, [B]) }, mask };
}

/** Cuts a batch into chunks of at most MAX_CHUNK with their buckets. */
export function* chunks(c: ModelConfig, seqs: SequenceInput[]) {
  for (let i = 0; i < seqs.length; i += MAX_CHUNK) {
    const part = seqs.slice(i, i + MAX_CHUNK);
    const Tt = textBucket(c, Math.max(...part.map((s) => s.prompt.length + s.response.length)));
    yield { start: i, part, B: batchBucket(part.length), Tt };
  }
}
