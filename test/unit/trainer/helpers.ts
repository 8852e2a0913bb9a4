/** Shared set-up for the trainer tests: a model folder for the fake engine, temp folders, metric comparison. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelConfig } from '../../../src/backend/engine/model';
import { VOCAB, defaultShapesConfig } from '../../../src/backend/task/shapes';
import type { EngineFactory } from '../../../src/backend/trainer/trainer';
import type { MetricsRow } from '../../../src/core/run';
import { FakeEngine } from './fakeEngine';

export const fakeModelConfig = (): ModelConfig => ({
  vocabSize: VOCAB.length,
  imageSize: 32,
  channels: 3,
  patchSize: 8,
  dModel: 8,
  nLayers: 1,
  nHeads: 1,
  dFF: 16,
  maxText: 32,
});

export function tempDir(prefix = 'prpo-trainer-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes a model folder (config.json + weights.safetensors) holding a FakeEngine's initial weights. */
export function writeFakeModel(dir: string, seed = 1): string {
  mkdirSync(dir, { recursive: true });
  const model = fakeModelConfig();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ name: 'fake', model, task: defaultShapesConfig(), vocab: VOCAB }));
  writeFileSync(join(dir, 'weights.safetensors'), new FakeEngine(model, seed).saveState().weights);
  return dir;
}

export const fakeFactory: EngineFactory = async (model, opts) => new FakeEngine(model, opts.seed + 7);

/** Small, fast settings for tests. */
export const tinyConfig = (modelDir: string): Record<string, unknown> => ({
  model: modelDir,
  promptsPerStep: 3,
  groupSize: 4,
  maxNewTokens: 8,
  valSize: 8,
  valEvery: 2,
});

const TIMING = /^time/;
/** A metrics row without its timing fields (which differ between runs of the same computation). */
export function withoutTiming(row: MetricsRow): Record<string, number> {
  return Object.fromEntries(Object.entries(row).filter(([k, v]) => !TIMING.test(k) && v !== undefined)) as Record<string, number>;
}
