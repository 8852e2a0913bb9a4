// Shared fixtures for the run-directory tests (not a test file itself).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RolloutRecord } from '../../../src/core/run/schema';
import type { NewRunManifest } from '../../../src/core/run/writer';

/** A fresh temporary folder, removed after the test. */
export function tempDir(t: { after: (fn: () => void) => void }, prefix = 'prpo-run-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export const newManifest = (over: Partial<NewRunManifest> = {}): NewRunManifest => ({
  name: 'test run',
  source: 'prpo-studio',
  algorithm: 'vppo',
  config: { k: 0.4 },
  model: { name: 'tiny-vlm', config: { layers: 2 } },
  task: { name: 'shapes', config: {} },
  seed: 7,
  ...over,
});

export function rollout(step: number, i: number, over: Partial<RolloutRecord> = {}): RolloutRecord {
  const tokens = ['There', ' are', ' 3', ' circles'];
  return {
    id: `${step}-${i}`,
    step,
    group: `g${i >> 2}`,
    prompt: 'How many circles?',
    image: `images/train-${i}.png`,
    answer: '3',
    response: tokens.join(''),
    reward: i % 2,
    correct: i % 2 === 1,
    advantage: i % 2 ? 0.7 : -0.7,
    tokens,
    logp: { image: [-0.1, -0.2, -1.5, -0.3], perturbed: [-0.1, -0.3, -2.5, -0.4] },
    scores: { S: [0, 0.01, 0.6, 0.02] },
    mask: [0, 0, 1, 1],
    tokenAdvantages: [0, 0, 0.7, 0.7],
    perceptual: [0, 0, 1, 1],
    ...over,
  };
}
