/**
 * Fixture run directories for the UI scenarios and the integration suite, written through RunWriter (so they
 * are exactly what a reader expects), with made-up but well-formed numbers (ALGORITHMS.md §7 fields).
 *   npx tsx test/vscode/suite/fixtures.ts <runsDir>    writes the fixture runs into <runsDir>
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunWriter } from '../../../src/core/run/writer';
import { stepName, type AlgorithmName, type RolloutRecord } from '../../../src/core/run/schema';

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

export function fakeRollouts(step: number, n = 4): RolloutRecord[] {
  const rand = rng(step * 97 + 13);
  const colours = ['red', 'blue', 'green', 'yellow'];
  return Array.from({ length: n }, (_, i) => {
    const colour = colours[Math.floor(rand() * colours.length)];
    const count = 1 + Math.floor(rand() * 3);
    const tokens = ['I', ' see', ` ${count}`, ` ${colour}`, ' circles', '.', ' Answer', ':', ` ${count}`];
    // The count and the colour come from the image (ground-truth perceptual tokens).
    const perceptual = tokens.map((_, k) => (k === 2 || k === 3 || k === 8 ? 1 : 0));
    const reward = rand() < 0.3 + step / 100 ? 1 : 0;
    const advantage = reward ? 0.87 : -0.87;
    const logpImage = tokens.map(() => -rand() * 2);
    const logpBlind = logpImage.map((x, k) => x - (perceptual[k] ? 1 + rand() * 2 : rand() * 0.2));
    const logpMild = logpImage.map((x) => x - rand() * 0.1);
    const G = logpImage.map((x, k) => Math.exp(logpBlind[k] - x) - (logpBlind[k] - x) - 1);
    const U = logpImage.map((x, k) => Math.exp(logpMild[k] - x) - (logpMild[k] - x) - 1);
    const rvd = G.map((g, k) => g / (1 + U[k]) / 3);
    const weights = rvd.map((r) => 1 + Math.max(0, Math.min(1, (r - 0.4) / 0.6)));
    return {
      id: `s${step}-r${i}`,
      step,
      group: `s${step}-g${Math.floor(i / 2)}`,
      prompt: `How many ${colour} circles are in the picture?`,
      answer: String(count),
      response: tokens.join(''),
      reward,
      correct: reward === 1,
      advantage,
      tokens,
      tokenIds: tokens.map((_, k) => 10 + k),
      logp: { image: logpImage, blind: logpBlind, mild: logpMild },
      scores: { G, U, rvd },
      weights,
      tokenAdvantages: weights.map((w) => w * advantage),
      perceptual,
      topAlternatives: tokens.map((t) => [[t, -0.1], [' the', -2.5]] as Array<[string, number]>),
    };
  });
}

/** Writes checkpoints/step-NNNNNN (a fake weights file) through RunWriter, as the trainer does. */
export function writeCheckpoint(runDir: string, step: number): string {
  const w = RunWriter.open(runDir);
  try {
    return w.writeCheckpoint(step, { 'weights.bin': Buffer.from(`fake weights at step ${step}\n`) });
  } finally {
    w.release(); // the fixture's writer is the test process, which lives on: let a backend resume the run
  }
}

interface FixtureSpec {
  id: string;
  name: string;
  algorithm: AlgorithmName;
  steps: number;
  done: number;
  checkpoints: number[];
  end: 'completed' | 'failed' | 'stopped' | 'interrupted';
}

export const FIXTURES: FixtureSpec[] = [
  { id: 'prpo-fixture-completed', name: 'PRPO-R shapes (fixture)', algorithm: 'prpo', steps: 6, done: 6, checkpoints: [3, 6], end: 'completed' },
  { id: 'vppo-fixture-failed', name: 'VPPO crashed (fixture)', algorithm: 'vppo', steps: 10, done: 4, checkpoints: [2], end: 'failed' },
  { id: 'grpo-fixture-interrupted', name: 'GRPO interrupted (fixture)', algorithm: 'grpo', steps: 10, done: 3, checkpoints: [2], end: 'interrupted' },
  { id: 'pgpo-fixture-stopped', name: 'PGPO stopped (fixture)', algorithm: 'pgpo', steps: 10, done: 2, checkpoints: [2], end: 'stopped' },
];

/** Writes the fixture runs (and one broken run.json) into `runsDir`; returns their folders. */
export function writeFixtureRuns(runsDir: string): string[] {
  const dirs: string[] = [];
  FIXTURES.forEach((spec, k) => {
    const w = RunWriter.create(runsDir, {
      id: spec.id,
      name: spec.name,
      source: 'prpo-studio',
      algorithm: spec.algorithm,
      config: { fixture: true },
      model: { name: 'tiny-vlm', config: {} },
      task: { name: 'shapes', config: {} },
      seed: k,
      steps: spec.steps,
    });
    // A pid that cannot be alive: the 'interrupted' run's writer is gone.
    w.appendEvent({ type: 'started', step: 0, pid: 2 ** 22 + 12345, host: undefined });
    for (let step = 1; step <= spec.done; step++) {
      const rollouts = fakeRollouts(step);
      w.appendRollouts(step, rollouts);
      const reward = rollouts.reduce((a, r) => a + r.reward, 0) / rollouts.length;
      w.appendMetrics({ step, time: 1_700_000_000 + step, reward, accuracy: reward, loss: 1 / step, entropy: 1.5 - step / 100 });
      if (spec.checkpoints.includes(step)) {
        writeCheckpoint(w.dir, step);
        w.appendEvent({ type: 'checkpoint', step, checkpoint: `checkpoints/${stepName(step)}` });
      }
    }
    if (spec.end === 'failed') w.appendEvent({ type: 'failed', step: spec.done, reason: 'the training backend exited unexpectedly (exit code 3)' });
    else if (spec.end !== 'interrupted') w.appendEvent({ type: spec.end, step: spec.done });
    w.release();
    dirs.push(w.dir);
  });
  const broken = join(runsDir, 'broken-fixture');
  mkdirSync(broken, { recursive: true });
  writeFileSync(join(broken, 'run.json'), '{ "schema": "prpo-studio/run@1", "id": "broken-fixture",\n  oops }\n');
  dirs.push(broken);
  return dirs;
}

if (process.argv[1] && /fixtures\.ts$/.test(process.argv[1])) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: npx tsx test/vscode/suite/fixtures.ts <runsDir>\n');
    process.exit(2);
  }
  for (const d of writeFixtureRuns(dir)) process.stdout.write(d + '\n');
}
