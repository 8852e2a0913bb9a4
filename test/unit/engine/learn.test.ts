// Learning toys: supervised steps teach a tiny model to count lit image patches and to copy a prompt, to
// 100% under greedy sampling; policy steps then raise the probability of advantaged responses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine } from '../../../src/backend/engine/index';
import type { ModelConfig } from '../../../src/backend/engine/model';
import type { SequenceInput } from '../../../src/backend/engine/types';
import { mulberry32 } from '../../../src/core/random';

const STOP = 0, COUNT = 1, COPY = 12;
const cfg: ModelConfig = { vocabSize: 13, imageSize: 8, channels: 3, patchSize: 4, dModel: 32, nLayers: 2, nHeads: 2, dFF: 64, maxText: 8 };


/** Counting: k of the 4 patches are lit; the answer is token 2 + k. Copy: three digits, echoed. */
function example(r: () => number): SequenceInput {
  const image = new Float32Array(3 * 64);
  if (r() < 0.5) {
    let k = 0;
    for (let p = 0; p < 4; p++) {
      if (r() < 0.5) continue;
      k++;
      const [py, px] = [p >> 1, p & 1];
      for (let ch = 0; ch < 3; ch++) for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) image[ch * 64 + (py * 4 + y) * 8 + px * 4 + x] = 1;
    }
    return { image, prompt: [COUNT], response: [2 + k, STOP] };
  }
  const digits = [0, 1, 2].map(() => 2 + Math.floor(r() * 10));
  return { image, prompt: [COPY, ...digits], response: [...digits, STOP] };
}

test('supervised steps learn counting and copying to 100% (greedy), then policy steps follow the advantage', async () => {
  const e = await createEngine(cfg, { seed: 1, lr: 3e-3, weightDecay: 0, threads: 1 });
  const r = mulberry32(1);
  const evalR = mulberry32(99);
  const evalSet = Array.from({ length: 64 }, () => example(evalR));
  const accuracy = async () => {
    const out = await e.sample({ images: evalSet.map((s) => s.image), prompts: evalSet.map((s) => s.prompt), maxNewTokens: 4, temperature: 0, topP: 1, stopToken: STOP, random: r });
    return out.tokens.filter((t, i) => t.join() === evalSet[i].response.join()).length / evalSet.length;
  };
  let acc = 0, step = 0;
  for (; step < 1500 && acc < 1; step++) {
    await e.supervisedStep(Array.from({ length: 32 }, () => example(r)));
    if (step % 100 === 99) acc = await accuracy();
  }
  assert.equal(acc, 1, `greedy accuracy ${acc} after ${step} steps`);
  assert.ok(evalSet.some((s) => s.prompt[0] === COUNT && s.response[0] > 3) && evalSet.some((s) => s.prompt[0] === COPY));
  console.log(`learned counting and copying in ${step} supervised steps`);

  // RL: with a positive advantage on one answer and negative on another, policy steps move the mass.
  const q = { image: new Float32Array(3 * 64), prompt: [COUNT] };
  const good = { ...q, response: [5, STOP] }, bad = { ...q, response: [2, STOP] };
  const before = await e.score([good, bad]);
  for (let i = 0; i < 5; i++) {
    const old = await e.score([good, bad]);
    const stats = await e.policyStep(
      { sequences: [good, bad], advantages: [Float32Array.of(1, 1), Float32Array.of(-1, -1)], oldLogp: old.logp },
      { clipLow: 0.2, clipHigh: 0.28, dualClip: 3, sampledNllCoef: 0, entropyBonus: 0, klCoef: 0 },
    );
    assert.ok(Number.isFinite(stats.loss) && stats.gradNorm > 0);
  }
  const after = await e.score([good, bad]);
  assert.ok(after.logp[0][0] > before.logp[0][0] + 0.5, `advantaged answer: ${before.logp[0][0]} → ${after.logp[0][0]}`);
  assert.ok(after.logp[1][0] < before.logp[1][0], `penalised answer: ${before.logp[1][0]} → ${after.logp[1][0]}`);
  await e.dispose();
});
