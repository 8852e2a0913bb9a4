// The trainer loop with a fake engine: records, metrics, views batched in one score call, exact resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readMetrics, readRolloutStep, readEvents, listCheckpoints } from '../../../src/core/run';
import { Trainer } from '../../../src/backend/trainer/trainer';
import { ConfigError } from '../../../src/core/algorithms';
import { FakeEngine } from './fakeEngine';
import { fakeFactory, tempDir, tinyConfig, withoutTiming, writeFakeModel } from './helpers';
import type { EngineFactory } from '../../../src/backend/trainer/trainer';

const model = writeFakeModel(join(tempDir(), 'model'));

test('a PRPO step writes rollouts with every per-token field and one score call for both views', async () => {
  const runsDir = tempDir();
  let engine: FakeEngine | undefined;
  const trainer = await Trainer.start({
    runsDir,
    preset: 'prpo',
    steps: 1,
    seed: 3,
    config: { ...tinyConfig(model), dynamicSampling: false },
    engineFactory: async (m, o) => (engine = new FakeEngine(m, o.seed)),
  });
  assert.equal(await trainer.run(), 'completed');
  assert.equal(engine!.calls.score, 1);
  assert.deepEqual(engine!.scoreBatchSizes, [3 * 4 * 2]);
  const rollouts = await readRolloutStep(trainer.dir, 1);
  assert.equal(rollouts.length, 12);
  for (const r of rollouts) {
    const L = r.tokens.length;
    assert.ok(L >= 1);
    for (const row of [r.tokenIds!, r.logp.image, r.logp.blind!, r.logp.mild!, r.scores!.G!, r.scores!.U!, r.scores!.rvd!, r.weights!, r.tokenAdvantages, r.perceptual!]) {
      assert.equal(row.length, L);
    }
    assert.match(r.image!, /^images\/train-\d+\.png$/);
  }
  const metrics = await readMetrics(trainer.dir);
  assert.equal(metrics[0].step, 0);
  assert.ok(typeof metrics[0].valAccuracy === 'number');
  const row = metrics[1];
  for (const k of ['reward', 'accuracy', 'loss', 'clipFraction', 'entropy', 'dependencySparsity', 'timeSampleMs', 'timeProbeMs', 'timeUpdateMs', 'timeStepMs', 'valAccuracy']) {
    assert.equal(typeof row[k], 'number', k);
  }
  const events = await readEvents(trainer.dir);
  assert.deepEqual(events.map((e) => e.type), ['started', 'checkpoint', 'completed']);
});

test('every preset runs a step', async () => {
  for (const preset of ['grpo', 'dapo', 'vppo', 'pgpo', 'prpo']) {
    const trainer = await Trainer.start({ runsDir: tempDir(), preset, steps: 1, config: { ...tinyConfig(model), valAtStart: false }, engineFactory: fakeFactory });
    assert.equal(await trainer.run(), 'completed', preset);
    const rollouts = await readRolloutStep(trainer.dir, 1);
    assert.ok(rollouts.length > 0, preset);
    if (preset === 'vppo') assert.ok(rollouts.every((r) => r.mask && r.logp.perturbed && r.alpha !== undefined));
    if (preset === 'pgpo') assert.ok(rollouts.every((r) => r.weights && r.logp.blind));
  }
});

test('train 2 steps then resume to 4 reproduces steps 3–4 of a straight 4-step run', async () => {
  for (const preset of ['prpo', 'vppo']) {
    const config = { ...tinyConfig(model), checkpointEvery: 2 };
    const straight = await Trainer.start({ runsDir: tempDir(), preset, steps: 4, seed: 11, config, engineFactory: fakeFactory });
    await straight.run();
    const first = await Trainer.start({ runsDir: tempDir(), preset, steps: 2, seed: 11, config, engineFactory: fakeFactory });
    await first.run();
    const resumed = await Trainer.resume({ runDir: first.dir, steps: 4, engineFactory: fakeFactory });
    assert.equal(resumed.currentStep, 2);
    await resumed.run();
    const a = (await readMetrics(straight.dir)).filter((r) => r.step >= 3).map(withoutTiming);
    const b = (await readMetrics(first.dir)).filter((r) => r.step >= 3).map(withoutTiming);
    a.forEach((r) => delete r.time);
    b.forEach((r) => delete r.time);
    assert.equal(a.length, 2);
    assert.deepEqual(b, a, preset);
    const ra = await readRolloutStep(straight.dir, 4);
    const rb = await readRolloutStep(first.dir, 4);
    assert.deepEqual(rb, ra);
    assert.deepEqual(listCheckpoints(first.dir).map((c) => c.step), [2, 4]);
  }
});

test('pause holds the loop between steps; checkpoint and stop answer at the safe point', async () => {
  const trainer = await Trainer.start({ runsDir: tempDir(), preset: 'grpo', steps: 100000, config: { ...tinyConfig(model), checkpointEvery: 0, valEvery: 0 }, engineFactory: fakeFactory });
  const done = trainer.run();
  const paused = await trainer.pause();
  assert.equal(paused.state, 'paused');
  const at = paused.step;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(trainer.currentStep, at);
  const ck = await trainer.checkpointNow();
  assert.equal(ck.step, at);
  trainer.resume();
  await new Promise((r) => setTimeout(r, 20));
  const stopped = await trainer.stop();
  assert.equal(stopped.state, 'stopped');
  assert.equal(await done, 'stopped');
  const events = (await readEvents(trainer.dir)).map((e) => e.type);
  assert.deepEqual(events.slice(0, 3), ['started', 'paused', 'checkpoint']);
  assert.equal(events.at(-1), 'stopped');
  assert.equal(listCheckpoints(trainer.dir).at(-1)!.step, stopped.step);
});

test('a bad config names the field', async () => {
  const bad = async (config: Record<string, unknown>, field: RegExp) => {
    await assert.rejects(Trainer.start({ runsDir: tempDir(), preset: 'prpo', steps: 1, config: { model, ...config }, engineFactory: fakeFactory }), (e: Error) => {
      assert.ok(e instanceof ConfigError, e.message);
      assert.match(e.message, field);
      return true;
    });
  };
  await bad({ groupSize: 0 }, /config\.groupSize: expected an integer ≥ 1/);
  await bad({ grupSize: 4 }, /config\.grupSize: unknown key/);
  await bad({ tau: 'x' }, /config\.tau/);
  await bad({ task: { gridMax: 'big' } }, /config\.task\.gridMax/);
  await bad({ task: { colours: 3 } }, /config\.task\.colours: unknown key/);
});

test('resume marks a run whose backend died failed (with the reason) and refuses one whose writer lives', async () => {
  const trainer = await Trainer.start({ runsDir: tempDir(), preset: 'grpo', steps: 2, config: { ...tinyConfig(model), valAtStart: false }, engineFactory: fakeFactory });
  // This process wrote 'started': the writer is alive.
  await assert.rejects(Trainer.resume({ runDir: trainer.dir, steps: 2, engineFactory: fakeFactory }), /running in another process/);
  // A writer that is gone (a pid that does not exist).
  trainer.writer.appendEvent({ type: 'resumed', step: 0, pid: 2 ** 22 + 4321 });
  const resumed = await Trainer.resume({ runDir: trainer.dir, steps: 2, engineFactory: fakeFactory });
  assert.equal(await resumed.run(), 'completed');
  const events = await readEvents(trainer.dir);
  const failed = events.find((e) => e.type === 'failed');
  assert.match(failed!.reason!, /pid 4198625\) died without stopping the run/);
  assert.equal(events.at(-1)!.type, 'completed');
});

test('the learning-rate warm-up reaches the engine through setLearningRate, and resumes where it was', async () => {
  const rates: number[] = [];
  const recording: EngineFactory = async (m, o) => {
    const e = new FakeEngine(m, o.seed);
    const set = e.setLearningRate.bind(e);
    e.setLearningRate = (lr) => (rates.push(lr), set(lr));
    return e;
  };
  const config = { ...tinyConfig(model), valEvery: 0, valAtStart: false, lr: 0.4, lrWarmupSteps: 4, miniBatches: 1, checkpointEvery: 2 };
  const first = await Trainer.start({ runsDir: tempDir(), preset: 'grpo', steps: 2, config, engineFactory: recording });
  await first.run();
  await (await Trainer.resume({ runDir: first.dir, steps: 5, engineFactory: recording })).run();
  // Step k trains at lr · min(1, k / lrWarmupSteps).
  assert.deepEqual(rates.map((r) => Number(r.toFixed(12))), [0.1, 0.2, 0.3, 0.4, 0.4]);
});

test('a resume that fails (a corrupt checkpoint) lets go of the run, so another process can resume it', async () => {
  const trainer = await Trainer.start({ runsDir: tempDir(), preset: 'grpo', steps: 1, config: { ...tinyConfig(model), valAtStart: false, checkpointEvery: 1 }, engineFactory: fakeFactory });
  assert.equal(await trainer.run(), 'completed');
  const ckpt = listCheckpoints(trainer.dir).at(-1)!.path;
  const weights = join(ckpt, 'weights.safetensors');
  const bytes = readFileSync(weights);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(weights, bytes);
  await assert.rejects(Trainer.resume({ runDir: trainer.dir, steps: 2, engineFactory: fakeFactory }), /weights\.safetensors is corrupt/);
  assert.equal(existsSync(join(trainer.dir, 'writer.lock')), false);
});
