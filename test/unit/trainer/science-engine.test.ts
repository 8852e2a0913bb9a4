// The real engine through the trainer: klCoef > 0 with the frozen reference, the exact KL and the
// diagnostics, three steps on the built-in model; and the full-vocabulary entropy bonus in the loss graph.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readMetrics, readRolloutStep } from '../../../src/core/run';
import { Trainer } from '../../../src/backend/trainer/trainer';
import { createEngine, modelConfig } from '../../../src/backend/engine';
import { tempDir } from './helpers';

test('real engine: 3 PRPO-R steps with klCoef > 0, kl "exact" and diagnostics', async () => {
  const trainer = await Trainer.start({
    runsDir: tempDir(), preset: 'prpo', steps: 3, seed: 1,
    config: { klCoef: 0.2, kl: 'exact', diagnostics: true, promptsPerStep: 2, groupSize: 4, miniBatches: 2, valAtStart: false, valEvery: 0, dynamicSampling: false, lr: 1e-3, lrWarmupSteps: 0 },
  });
  try {
    assert.equal(await trainer.run(), 'completed');
  } finally {
    await trainer.engine.dispose();
  }
  const rows = (await readMetrics(trainer.dir)).filter((r) => r.step > 0);
  assert.equal(rows.length, 3);
  // Step 1's first mini-batch is at the reference (KL 0); later ones have moved away from it.
  assert.ok(rows.every((r) => Number.isFinite(r.klLoss) && r.klLoss! >= 0));
  assert.ok(rows[2].klLoss! > 0, `the policy left the reference by step 3 (klLoss ${rows[2].klLoss})`);
  assert.equal(typeof rows[2]['diag.auroc.G.exact'], 'number');
  const rollouts = await readRolloutStep(trainer.dir, 3);
  for (const r of rollouts) for (const g of r.scores!.G!) assert.ok(g >= -1e-6 && Number.isFinite(g), 'exact KL is ≥ 0');
});

test('entropyBonus > 0 raises the policy entropy where 0 does not (same data, zero advantages)', async () => {
  const config = modelConfig({ vocabSize: 12, imageSize: 16, patchSize: 8 }, { dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, maxText: 8 });
  const seqs = Array.from({ length: 4 }, (_, i) => ({ image: new Float32Array(3 * 16 * 16).fill(i / 4), prompt: [1, 2], response: [3 + i, 4, 5] }));
  const entropyAfter = async (entropyBonus: number) => {
    const e = await createEngine(config, { seed: 3, lr: 3e-2 });
    try {
      // A peaked policy first (near-uniform initial weights are at the entropy maximum already).
      for (let k = 0; k < 15; k++) await e.supervisedStep(seqs);
      e.setLearningRate(1e-2);
      const zero = seqs.map((s) => new Float32Array(s.response.length));
      for (let k = 0; k < 5; k++) {
        const old = (await e.score(seqs)).logp;
        await e.policyStep({ sequences: seqs, advantages: zero, oldLogp: old }, { clipLow: 0.2, clipHigh: 0.28, dualClip: 3, sampledNllCoef: 0, klCoef: 0, entropyBonus });
      }
      const ent = (await e.score(seqs)).entropy.flatMap((r) => Array.from(r));
      return ent.reduce((a, b) => a + b, 0) / ent.length;
    } finally {
      await e.dispose();
    }
  };
  const before = await entropyAfter(0);
  assert.ok(before < 0.8 * Math.log(12), `the supervised steps peaked the policy (entropy ${before})`);
  const after = await entropyAfter(0.5);
  assert.ok(after > before + 1e-3, `entropy with the bonus ${after} vs without ${before}`);
});
