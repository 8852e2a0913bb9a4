/**
 * The model folder the trainer starts from: weights.safetensors and config.json (model config, task
 * config, tokenizer vocabulary, warm-start settings and measured accuracy). The built-in one ships in
 * models/tiny-vlm-shapes, found relative to the bundle (dist/cli.js → ../models) or to the sources.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { ModelConfig } from '../engine/model';
import type { ShapesConfig } from '../task/shapes';

export const BUILTIN_MODEL = 'tiny-vlm-shapes';

export interface ModelFolderConfig {
  name: string;
  model: ModelConfig;
  task: ShapesConfig;
  vocab: string[];
  /** How the weights were made (the warm start's settings), free-form. */
  pretrain?: Record<string, unknown>;
  /** Validation accuracy measured when the weights were written (avg@k sampled, and greedy). */
  valAccuracy?: number;
  valGreedyAccuracy?: number;
}

export interface LoadedModel {
  dir: string;
  config: ModelFolderConfig;
  weights: Uint8Array;
}

/** The models/ folder next to the bundle or the repository root; undefined when none is found. */
export function modelsRoot(): string | undefined {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'models');
    if (existsSync(join(candidate, BUILTIN_MODEL, 'config.json'))) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/** 'builtin' (or the built-in model's name) → models/tiny-vlm-shapes; anything else is a folder path. */
export function resolveModelDir(model: string): string {
  if (model === 'builtin' || model === BUILTIN_MODEL) {
    const root = modelsRoot();
    if (!root) {
      throw new Error(
        `The built-in model ${BUILTIN_MODEL} was not found next to ${__dirname} (looked for models/${BUILTIN_MODEL}/config.json in its parent folders). ` +
          'Run `npm run pretrain` to create it, or pass a model folder with "model" in the config.',
      );
    }
    return join(root, BUILTIN_MODEL);
  }
  return resolve(model);
}

export function readModelConfig(dir: string): ModelFolderConfig {
  const file = join(dir, 'config.json');
  let v: ModelFolderConfig;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`Cannot read the model configuration ${file}: ${(e as Error).message}`);
  }
  for (const key of ['model', 'task', 'vocab'] as const) {
    if (!v || typeof v !== 'object' || v[key] === undefined) throw new Error(`${file}: missing "${key}"`);
  }
  return v;
}

export function loadModel(model: string): LoadedModel {
  const dir = resolveModelDir(model);
  const config = readModelConfig(dir);
  const file = join(dir, 'weights.safetensors');
  if (!existsSync(file)) throw new Error(`The model folder ${dir} has no weights.safetensors`);
  const buf = readFileSync(file);
  return { dir, config, weights: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) };
}
