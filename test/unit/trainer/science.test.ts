// The trainer paths the study needs: the KL reference policy, the exact KL, every multimask view recorded,
// the refused sampling settings, the resample stream and the diagnostics — with the fake engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exactKlRows, k3Row } from '../../../src/core/algorithms';
import { listCheckpoints, readCheckpoint, readMetrics, readRolloutStep } from '../../../src/core/run';
import { Trainer } from '../../../src/backend/trainer/trainer';
import { REFERENCE_FILE } from '../../../src/backend/trainer/open';
import type { PolicyBatch } from '../../../src/backend/engine/types';
import { ShapesTask, Tokenizer } from '../../../src/backend/task/shapes';
import { FakeEngine } from './fakeEngine';
import { fakeModelConfig, tempDir, tinyConfig, writeFakeModel } from './helpers';
import type { PolicyLossOptions } from '../../../src/core/algorithms';

const model = writeFakeModel(join(tempDir(), 'model'));

/**
 * A fake engine that keeps every policy batch and loss options it was given, and also moves its weights
 * by a supervised step on each batch (so the policy surely leaves the reference even when Ã = 0).
 */
class RecordingEngine extends FakeEngine {
  batches: PolicyBatch[] = [];
  losses: PolicyLossOptions[] = [];
  override async policyStep(batch: PolicyBatch, loss: PolicyLossOptions) {
    this.batches.push(batch);
    this.losses.push(loss);
    const stats = await super.policyStep(batch, loss);
    await this.supervisedStep(batch.sequences);
    return stats;
  }
}

test('klCoef > 0: each step feeds the frozen initial policy\'s log-probs as refLogp, and checkpoints keep it', async () => {
  let engine: RecordingEngine | undefined;
  const trainer = await Trainer.start({
    runsDir: tempDir(),
    preset: 'dapo',
    steps: 3,
    seed: 2,
    config: { ...tinyConfig(model), klCoef: 0.1, dynamicSampling: false, miniBatches: 1, valAtStart: false, checkpointEvery: 3 },
    engineFactory: async (m, o) => (engine = new RecordingEngine(m, o.seed)),
  });
  assert.equal(await trainer.run(), 'completed');
  // An independent copy of the initial policy scores the trained sequences.
  const initial = new FakeEngine(fakeModelConfig(), 99);
  initial.loadState({ weights: readModelWeights() });
  assert.equal(engine!.batches.length, 3);
  for (const [k, batch] of engine!.batches.entries()) {
    assert.ok(batch.refLogp, `step ${k + 1} has refLogp`);
    assert.equal(engine!.losses[k].klCoef, 0.1);
    const want = (await initial.score(batch.sequences)).logp;
    batch.refLogp!.forEach((row, i) => assert.deepEqual(Array.from(row), Array.from(want[i]), `step ${k + 1} rollout ${i}`));
  }
  // After the first update the policy has moved, yet refLogp stayed the initial policy's.
  const current = (await engine!.score(engine!.batches[2].sequences)).logp;
  assert.ok(current.some((row, i) => row.some((v, t) => v !== engine!.batches[2].refLogp![i][t])), 'the policy moved away from the reference');
  const [ckpt] = listCheckpoints(trainer.dir);
  const { files } = readCheckpoint(ckpt.path);
  assert.deepEqual(Array.from(files[REFERENCE_FILE]), Array.from(readModelWeights()));
});

test('klCoef = 0 feeds no reference and saves none', async () => {
  let engine: RecordingEngine | undefined;
  const trainer = await Trainer.start({
    runsDir: tempDir(), preset: 'dapo', steps: 1, config: { ...tinyConfig(model), dynamicSampling: false, valAtStart: false },
    engineFactory: async (m, o) => (engine = new RecordingEngine(m, o.seed)),
  });
  await trainer.run();
  assert.ok(engine!.batches.every((b) => b.refLogp === undefined));
  assert.equal(readCheckpoint(listCheckpoints(trainer.dir)[0].path).files[REFERENCE_FILE], undefined);
});

test('kl "exact": the dependency scores are the full-vocabulary KL of the scored distributions, not k3', async () => {
  let engine: FakeEngine | undefined;
  const trainer = await Trainer.start({
    runsDir: tempDir(), preset: 'pgpo', steps: 1, seed: 4,
    config: { ...tinyConfig(model), kl: 'exact', dynamicSampling: false, valAtStart: false },
    engineFactory: async (m, o) => (engine = new FakeEngine(m, o.seed)),
  });
  assert.equal(await trainer.run(), 'completed');
  assert.equal(engine!.calls.score, 1, 'image and blind views in one score call');
  const rollouts = await readRolloutStep(trainer.dir, 1);
  const tokenizer = new Tokenizer();
  const task = new ShapesTask();
  const V = fakeModelConfig().vocabSize;
  let differsFromK3 = false;
  for (const r of rollouts) {
    const ex = task.example('train', Number(r.group.replace(/^train-/, '')));
    const seq = { image: ex.image, prompt: tokenizer.encode(['<bos>', ...r.prompt.split(' ')]), response: r.tokenIds! };
    const scored = await engine!.score([seq, { ...seq, blind: true }], { fullDistribution: true });
    const want = exactKlRows(scored.logProbs![0], scored.logProbs![1], V);
    r.scores!.S!.forEach((v, t) => assert.ok(Math.abs(v - want[t]) < 1e-6, `S[${t}] ${v} vs exact ${want[t]}`));
    const k3 = k3Row(r.logp.image, r.logp.blind!);
    if (r.scores!.S!.some((v, t) => Math.abs(v - k3[t]) > 1e-6)) differsFromK3 = true;
  }
  assert.ok(differsFromK3, 'exact differs from k3 somewhere');
});

test('multimask records every mask\'s view; perturbed stays the first', async () => {
  const trainer = await Trainer.start({
    runsDir: tempDir(), preset: 'prpo', steps: 1,
    config: { ...tinyConfig(model), rvd: 'multimask', masks: 3, dynamicSampling: false, valAtStart: false },
    engineFactory: async (m, o) => new FakeEngine(m, o.seed),
  });
  await trainer.run();
  const rollouts = await readRolloutStep(trainer.dir, 1);
  for (const r of rollouts) {
    assert.equal(r.logp.perturbedMasks!.length, 3);
    assert.deepEqual(r.logp.perturbedMasks![0], r.logp.perturbed);
    assert.notDeepEqual(r.logp.perturbedMasks![1], r.logp.perturbedMasks![0], 'a fresh mask per view');
    for (const row of r.logp.perturbedMasks!) assert.equal(row.length, r.tokens.length);
  }
});

test('temperature or top-p ≠ 1 is refused with the field named', async () => {
  for (const [key, value] of [['temperature', 0.7], ['topP', 0.9]] as const) {
    await assert.rejects(
      Trainer.start({ runsDir: tempDir(), preset: 'dapo', steps: 1, config: { ...tinyConfig(model), [key]: value }, engineFactory: async (m, o) => new FakeEngine(m, o.seed) }),
      (e: Error) => e.message.startsWith(`config.${key}: the built-in trainer samples at 1.0 only`),
    );
  }
});

test('DAPO retries draw from the resample stream: each step\'s first prompts do not depend on the retries', async () => {
  // Per step, the prompts of the first sample call (the step's primary prompts); retries come after it.
  const primaries = async (maxResampleTries: number) => {
    const calls: string[][] = [];
    const stepStarts: number[] = [0];
    class PromptLog extends FakeEngine {
      override async sample(req: Parameters<FakeEngine['sample']>[0]) {
        calls.push(req.prompts.map((p) => p.join(',')));
        return super.sample(req);
      }
    }
    const t = await Trainer.start({
      runsDir: tempDir(), preset: 'dapo', steps: 4, seed: 5,
      config: { ...tinyConfig(model), valAtStart: false, valEvery: 0, maxResampleTries },
      engineFactory: async (m, o) => new PromptLog(m, o.seed),
      hooks: { onMetrics: () => stepStarts.push(calls.length) },
    });
    await t.run();
    return { firsts: stepStarts.slice(0, 4).map((i) => calls[i]), retries: calls.length - 4 };
  };
  const withRetries = await primaries(3);
  const without = await primaries(0);
  assert.ok(withRetries.retries > 0, 'the run did retry (else the check is vacuous)');
  assert.equal(without.retries, 0);
  assert.deepEqual(withRetries.firsts, without.firsts);
});

function readModelWeights(): Uint8Array {
  return new Uint8Array(readFileSync(join(model, 'weights.safetensors')));
}

test('diagnostics: every preset\'s scores with k3 and exact, baselines and reshaped sets are logged; training is unchanged', async () => {
  const run = async (diagnostics: boolean) => {
    const t = await Trainer.start({
      runsDir: tempDir(), preset: 'prpo', steps: 2, seed: 8,
      config: { ...tinyConfig(model), valAtStart: false, valEvery: 0, dynamicSampling: false, diagnostics },
      engineFactory: async (m, o) => new FakeEngine(m, o.seed),
    });
    await t.run();
    return { metrics: await readMetrics(t.dir), rollouts: await readRolloutStep(t.dir, 2) };
  };
  const on = await run(true);
  const off = await run(false);
  assert.deepEqual(on.rollouts.map((r) => r.tokenAdvantages), off.rollouts.map((r) => r.tokenAdvantages));
  const row = on.metrics.at(-1)!;
  for (const score of ['Svppo', 'Spgpo', 'G', 'U', 'RVD', 'RVD0']) {
    for (const kl of ['k3', 'exact']) {
      const v = row[`diag.auroc.${score}.${kl}`];
      assert.ok(typeof v === 'number' && v >= 0 && v <= 1, `diag.auroc.${score}.${kl} = ${v}`);
    }
  }
  for (const k of ['diag.auroc.entropy', 'diag.auroc.negLogp', 'diag.aurocWithin.G.exact', 'diag.precision.prpo.k3', 'diag.recall.vppo.exact', 'diag.perceptualShare', 'diag.logpPerceptual']) {
    assert.equal(typeof row[k], 'number', k);
  }
  assert.ok(Object.keys(off.metrics.at(-1)!).every((k) => !k.startsWith('diag.')));
});

test('the oracle control boosts exactly the ground-truth perceptual tokens of each rollout; random as many', async () => {
  for (const estimator of ['oracle', 'random']) {
    const trainer = await Trainer.start({
      runsDir: tempDir(), preset: 'prpo', steps: 1,
      config: { ...tinyConfig(model), estimator, dynamicSampling: false, valAtStart: false },
      engineFactory: async (m, o) => new FakeEngine(m, o.seed),
    });
    await trainer.run();
    const rollouts = await readRolloutStep(trainer.dir, 1);
    assert.equal(trainer.engine.constructor, FakeEngine);
    for (const r of rollouts) {
      const boosted = r.weights!.map((w) => (w > 1 ? 1 : 0));
      if (estimator === 'oracle') assert.deepEqual(boosted, r.perceptual);
      else assert.equal(boosted.reduce((a: number, b) => a + b, 0), r.perceptual!.reduce((a, b) => a + b, 0));
    }
  }
});
