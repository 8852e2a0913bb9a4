/**
 * The trainer's configuration: the algorithm constants (src/core/algorithms, resolveConfig), the trainer's
 * own settings, and the task's settings. A user's overrides are one flat JSON object whose keys are
 * algorithm keys or trainer keys, plus an optional nested `task` object; every key is checked, and an
 * unknown key or a wrong type is reported with its path (`config.groupSize: expected an integer ≥ 1, got 0`).
 */
import { CONFIG_KEYS, CONFIG_KEY_ALIASES, ConfigError, resolveConfig, showValue, type AlgorithmConfig } from '../../core/algorithms/config';
import type { AlgorithmName } from '../../core/run/schema';
import { QUESTION_TYPES, defaultShapesConfig, type ShapesConfig } from '../task/shapes';

export interface TrainerSettings {
  /** Prompts per step; each gets `groupSize` rollouts. */
  promptsPerStep: number;
  groupSize: number;
  maxNewTokens: number;
  temperature: number;
  topP: number;
  /** AdamW learning rate of the RL updates. */
  lr: number;
  /** Steps of linear learning-rate warm-up (when the engine lets the trainer set its rate). */
  lrWarmupSteps: number;
  /** Optimizer steps per training step, each on a slice of whole groups (PPO mini-batches). */
  miniBatches: number;
  /** Run validation every N steps (and at the last step); 0 turns it off. */
  valEvery: number;
  /** Validation examples (the first N of the validation split). */
  valSize: number;
  /** Responses sampled per validation example: valAccuracy is avg@k at the training temperature. */
  valSamples: number;
  /** Measure validation accuracy of the initial policy (a metrics row with step 0) when a run starts. */
  valAtStart: boolean;
  /** Checkpoint every N steps (0: only on request, on stop and at the end). */
  checkpointEvery: number;
  /** `perturbed` view: probability that an image patch is set to 0. */
  patchDropProb: number;
  /** `mild` view: σ of the Gaussian pixel noise (clipped to [0, 1]). */
  mildSigma: number;
  /** The model folder (weights.safetensors + config.json); 'builtin' is models/tiny-vlm-shapes. */
  model: string;
  /**
   * Score every probe view (exact KL too) for every preset and log the dependency diagnostics
   * (diagnostics.ts) in the metrics rows; the loss is untouched.
   */
  diagnostics: boolean;
  /** Validation examples scored greedily (the primary endpoint; 0: valSize). */
  valGreedySize: number;
}

export const defaultTrainerSettings = (): TrainerSettings => ({
  promptsPerStep: 8,
  groupSize: 8,
  maxNewTokens: 16,
  temperature: 1.0,
  topP: 1.0,
  lr: 1e-4,
  miniBatches: 4,
  lrWarmupSteps: 10,
  valEvery: 10,
  valSize: 256,
  valSamples: 4,
  valAtStart: true,
  checkpointEvery: 10,
  patchDropProb: 0.5,
  mildSigma: 0.1,
  model: 'builtin',
  diagnostics: false,
  valGreedySize: 0,
});

/** The whole configuration of a run, as stored in run.json (`config`: algorithm + trainer keys flat). */
export interface RunConfig {
  algorithm: AlgorithmConfig;
  trainer: TrainerSettings;
  task: ShapesConfig;
}

type Check = { expected: string; ok: (v: unknown) => boolean };
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const int = (lo: number): Check => ({ expected: `an integer ≥ ${lo}`, ok: (v) => Number.isInteger(v) && (v as number) >= lo });
const num = (lo: number, hi: number, loOpen = false): Check => ({
  expected: `a number in ${loOpen ? '(' : '['}${lo}, ${hi}]`,
  ok: (v) => isNum(v) && (loOpen ? v > lo : v >= lo) && v <= hi,
});
const bool: Check = { expected: 'true or false', ok: (v) => typeof v === 'boolean' };
const str: Check = { expected: 'a non-empty string', ok: (v) => typeof v === 'string' && v.length > 0 };

const TRAINER_KEYS: Record<keyof TrainerSettings, Check> = {
  promptsPerStep: int(1),
  groupSize: int(1),
  maxNewTokens: int(1),
  temperature: num(0, 10, true),
  topP: num(0, 1, true),
  lr: num(0, 1),
  miniBatches: int(1),
  lrWarmupSteps: int(0),
  valEvery: int(0),
  valSize: int(1),
  valSamples: int(1),
  valAtStart: bool,
  checkpointEvery: int(0),
  patchDropProb: num(0, 1),
  mildSigma: num(0, 1),
  model: str,
  diagnostics: bool,
  valGreedySize: int(0),
};

const TASK_KEYS: Record<keyof ShapesConfig, Check> = {
  imageSize: int(8),
  patchSize: int(1),
  gridMin: int(1),
  gridMax: int(1),
  minObjects: int(0),
  maxObjects: int(0),
  questionTypes: {
    expected: `a non-empty array of ${QUESTION_TYPES.join(', ')}`,
    ok: (v) => Array.isArray(v) && v.length > 0 && v.every((q) => (QUESTION_TYPES as readonly unknown[]).includes(q)),
  },
  valFraction: num(0, 1, true),
  seed: int(0),
  fillers: int(0),
  countPresentProb: num(0, 1),
};

/** A bad value for an error message: short, and never a throw (a 20,000-deep array overflows JSON.stringify and String). */
const show = showValue;

function checkKeys<T>(where: string, value: Record<string, unknown>, specs: Record<string, Check>, defaults: T): T {
  const out = { ...defaults } as Record<string, unknown>;
  for (const [key, v] of Object.entries(value)) {
    const spec = specs[key];
    if (!Object.hasOwn(specs, key)) throw new ConfigError(`${where}.${key}`, `${where}.${key}: unknown key (known: ${Object.keys(specs).join(', ')})`);
    if (!spec.ok(v)) throw new ConfigError(`${where}.${key}`, `${where}.${key}: expected ${spec.expected}, got ${show(v)}`);
    out[key] = Array.isArray(v) ? [...v] : v;
  }
  return out as T;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Resolves a preset plus user overrides (a flat object, see the file comment) into a RunConfig. Throws
 * ConfigError naming the first bad key. `taskBase` is the task configuration the model was trained on.
 */
export function resolveRunConfig(
  preset: AlgorithmName | string,
  overrides: Record<string, unknown> = {},
  taskBase: ShapesConfig = defaultShapesConfig(),
): RunConfig {
  if (!isObject(overrides)) throw new ConfigError('config', `config: expected an object, got ${show(overrides)}`);
  const algo: Record<string, unknown> = {};
  const trainer: Record<string, unknown> = {};
  let task: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(overrides)) {
    if (key === 'task') {
      if (!isObject(v)) throw new ConfigError('config.task', `config.task: expected an object, got ${show(v)}`);
      task = v;
    } else if (Object.hasOwn(TRAINER_KEYS, key)) trainer[key] = v;
    else if (key === 'preset' || Object.hasOwn(CONFIG_KEYS, key) || Object.hasOwn(CONFIG_KEY_ALIASES, key)) algo[key] = v;
    else {
      const known = [...Object.keys(TRAINER_KEYS), ...Object.keys(CONFIG_KEYS), 'task'];
      throw new ConfigError(`config.${key}`, `config.${key}: unknown key (known: ${known.join(', ')})`);
    }
  }
  const algorithm = resolveConfig(preset, algo);
  const t = checkKeys('config', trainer, TRAINER_KEYS as Record<string, Check>, defaultTrainerSettings());
  // A model folder written before a task key existed holds no value for it: the default (the old task) applies.
  const taskConfig = checkKeys('config.task', task, TASK_KEYS as Record<string, Check>, { ...defaultShapesConfig(), ...taskBase });
  if (taskConfig.gridMax < taskConfig.gridMin) throw new ConfigError('config.task.gridMax', `config.task.gridMax: expected ≥ gridMin (${taskConfig.gridMin}), got ${taskConfig.gridMax}`);
  if (taskConfig.maxObjects < taskConfig.minObjects) throw new ConfigError('config.task.maxObjects', `config.task.maxObjects: expected ≥ minObjects (${taskConfig.minObjects}), got ${taskConfig.maxObjects}`);
  // The ratio's π_old is the sampler's log-prob and π_θ the policy graph's, both of the untempered,
  // untruncated policy; sampling from a tempered or nucleus-truncated policy would make π_old not the
  // behaviour policy (verl divides the logits by T in both terms; this trainer does not), so it is refused.
  for (const key of ['temperature', 'topP'] as const) {
    if (t[key] !== 1) {
      throw new ConfigError(`config.${key}`, `config.${key}: the built-in trainer samples at 1.0 only (its ratio's old log-prob is the untempered, untruncated policy's), got ${t[key]}`);
    }
  }
  return { algorithm, trainer: t, task: taskConfig };
}

/** The flat `config` object stored in run.json (algorithm keys and trainer keys). */
export function flatConfig(c: RunConfig): Record<string, unknown> {
  return { ...c.algorithm, ...c.trainer };
}

/** Rebuilds a RunConfig from run.json's `config` and task config (on resume). */
export function runConfigFromManifest(preset: string, config: Record<string, unknown>, task: Record<string, unknown>): RunConfig {
  return resolveRunConfig(preset, { ...config, task });
}

/** Reads a `--config` file's JSON text; a syntax error names the file. */
export function parseConfigText(text: string, file: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ConfigError('config', `${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(v)) throw new ConfigError('config', `${file}: expected a JSON object of configuration keys, got ${show(v)}`);
  return v;
}
