/**
 * Opening a run: a new run directory at step 0 (start), or an existing one restored from a checkpoint
 * (resume), with the checks that the model, the task and the run's settings fit together, and the
 * checkpoint's trainer state (trainer.json: step, prompt cursor, random streams).
 */
import { rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { BackendStatus, CheckpointInfo, ExecutionProvider, ResumeFromParams, StartParams } from '../../core/protocol/backend';
import {
  RunWriter,
  formatIssue,
  lastWriter,
  latestCheckpoint,
  listRolloutSteps,
  markInterruptedAsFailed,
  readCheckpoint,
  readRun,
  runFiles,
  type MetricsRow,
  type RolloutRecord,
} from '../../core/run';
import type { ModelConfig } from '../engine/model';
import type { PolicyEngine } from '../engine/types';
import { Rng, type RngState } from '../rng';
import { ShapesTask, Tokenizer } from '../task/shapes';
import { flatConfig, resolveRunConfig, runConfigFromManifest, type RunConfig } from './config';
import { BUILTIN_MODEL, loadModel, type LoadedModel } from './model';

export type EngineFactory = (
  model: ModelConfig,
  opts: { ep: ExecutionProvider; seed: number; lr: number; onLog?: (message: string) => void },
) => Promise<PolicyEngine>;

/** The real engine, loaded on demand (so tests with a fake engine never load onnxruntime). */
export const defaultEngineFactory: EngineFactory = async (model, opts) => {
  const engine = await import('../engine');
  return engine.createEngine(model, opts);
};

export interface TrainerHooks {
  onMetrics?(row: MetricsRow): void;
  onRollouts?(step: number, rollouts: RolloutRecord[]): void;
  onCheckpoint?(info: CheckpointInfo): void;
  onState?(status: BackendStatus): void;
  onLog?(level: 'info' | 'warn' | 'error', message: string): void;
}

/** The protocol's start request (the CLI's preset is checked here, so it may be any string), plus test seams. */
export interface StartOptions extends Omit<StartParams, 'preset'> {
  preset: string;
  engineFactory?: EngineFactory;
  hooks?: TrainerHooks;
}

export interface ResumeOptions extends ResumeFromParams {
  engineFactory?: EngineFactory;
  hooks?: TrainerHooks;
}

/**
 * The random streams; every random draw of a run comes from one of them. `resample` draws the prompts of
 * DAPO's retries, so `data` gives every preset of a seed the same first prompts at every step.
 */
export interface Streams {
  data: Rng;
  sampling: Rng;
  perturbation: Rng;
  resample: Rng;
}

/** Where a run stands between steps: what a checkpoint must hold besides the engine's state. */
export interface Position {
  step: number;
  /** How many training prompts have been drawn. */
  cursor: number;
  rng: Streams;
}

/** trainer.json in a checkpoint. */
export interface TrainerState {
  version: 1;
  step: number;
  /** How many training prompts have been drawn. */
  cursor: number;
  /** `resample` is absent in checkpoints written before it existed (it then starts afresh from the seed). */
  rng: { data: RngState; sampling: RngState; perturbation: RngState; resample?: RngState };
}

export const CHECKPOINT_FILES = { weights: 'weights.safetensors', optimizer: 'optimizer.safetensors', trainer: 'trainer.json' };
/** The frozen reference policy of a run with klCoef > 0 (the run's initial weights), in its checkpoints. */
export const REFERENCE_FILE = 'reference.safetensors';

/** An opened run, ready to train. */
export interface OpenedRun {
  writer: RunWriter;
  config: RunConfig;
  engine: PolicyEngine;
  seed: number;
  steps: number;
  position: Position;
  /** The step of the checkpoint the run was restored from; -1 when it starts from the initial weights. */
  checkpointStep: number;
  /** The reference policy's weights (the run's initial weights) when klCoef > 0. */
  reference?: Uint8Array;
}

/** Creates a run directory at step 0 and appends its 'started' event. */
export async function openNewRun(opts: StartOptions): Promise<OpenedRun> {
  const overrides = { ...(opts.config ?? {}) };
  if (opts.checkpointEvery !== undefined) overrides.checkpointEvery = opts.checkpointEvery;
  const modelSetting = typeof overrides.model === 'string' ? overrides.model : 'builtin';
  const model = loadModel(modelSetting);
  const config = resolveRunConfig(opts.preset, overrides, model.config.task);
  checkCompatible(model, config);
  const seed = opts.seed ?? 0;
  const engine = await (opts.engineFactory ?? defaultEngineFactory)(model.config.model, { ep: opts.ep ?? 'cpu', seed, lr: config.trainer.lr, onLog: warnings(opts.hooks) });
  engine.loadState({ weights: model.weights });
  const writer = RunWriter.create(opts.runsDir, {
    name: opts.name ?? `${config.algorithm.preset} seed ${seed}`,
    source: 'prpo-studio',
    algorithm: config.algorithm.preset,
    config: flatConfig(config),
    model: { name: model.config.name ?? BUILTIN_MODEL, config: { ...model.config.model } as unknown as Record<string, unknown> },
    task: { name: 'shapes', config: { ...config.task } as unknown as Record<string, unknown> },
    seed,
    steps: opts.steps,
  });
  writer.appendEvent({ type: 'started', step: 0 });
  const reference = config.algorithm.klCoef > 0 ? model.weights : undefined;
  return { writer, config, engine, seed, steps: opts.steps, position: { step: 0, cursor: 0, rng: initialStreams(seed) }, checkpointStep: -1, reference };
}

/**
 * Opens a run directory and restores it from a checkpoint (the latest complete one unless named; from the
 * initial weights when the run has none), then appends its 'resumed' event. A run left 'running' or
 * 'paused' by a backend that died is first marked failed in events.jsonl; one whose writer is alive is refused.
 */
export async function openExistingRun(opts: ResumeOptions): Promise<OpenedRun> {
  const info = await readRun(opts.runDir);
  if (!info.manifest) {
    throw new Error(`Cannot resume ${opts.runDir}: ${info.issues.map(formatIssue).join('; ') || 'run.json is missing'}`);
  }
  if (info.status === 'running' || info.status === 'paused') {
    throw new Error(`Cannot resume ${info.dir}: it is ${info.status} in another process (pid ${lastWriter(info.events)?.pid ?? '?'}); stop that first.`);
  }
  if (info.status === 'interrupted') await markInterruptedAsFailed(opts.runDir);
  const writer = RunWriter.open(opts.runDir);
  // Until 'resumed' is written this process holds the run without writing it: a failure (a corrupt
  // checkpoint, a missing model) lets go of it, so that the run can be resumed by another process.
  try {
    const manifest = writer.manifest;
    const config = runConfigFromManifest(manifest.algorithm, manifest.config, manifest.task.config);
    const ckpt = opts.checkpoint ? (isAbsolute(opts.checkpoint) ? opts.checkpoint : join(writer.dir, opts.checkpoint)) : latestCheckpoint(writer.dir);
    const modelConfig = manifest.model.config as unknown as ModelConfig;
    const engine = await (opts.engineFactory ?? defaultEngineFactory)(modelConfig, { ep: opts.ep ?? 'cpu', seed: manifest.seed, lr: config.trainer.lr, onLog: warnings(opts.hooks) });
    let position: Position = { step: 0, cursor: 0, rng: initialStreams(manifest.seed) };
    let reference: Uint8Array | undefined;
    if (ckpt) {
      const { files } = readCheckpoint(ckpt);
      for (const name of Object.values(CHECKPOINT_FILES)) {
        if (!files[name]) throw new Error(`checkpoint ${ckpt}: ${name} is missing from its manifest`);
      }
      const st = parseTrainerState(files[CHECKPOINT_FILES.trainer], join(ckpt, CHECKPOINT_FILES.trainer));
      engine.loadState({ weights: files[CHECKPOINT_FILES.weights], optimizer: files[CHECKPOINT_FILES.optimizer] });
      position = {
        step: st.step,
        cursor: st.cursor,
        rng: {
          data: Rng.fromState(st.rng.data),
          sampling: Rng.fromState(st.rng.sampling),
          perturbation: Rng.fromState(st.rng.perturbation),
          resample: st.rng.resample ? Rng.fromState(st.rng.resample) : new Rng(manifest.seed, 'resample'),
        },
      };
      reference = files[REFERENCE_FILE];
    } else {
      // No checkpoint yet: start over from the initial weights (same seed, so the same run).
      engine.loadState({ weights: loadModel(config.trainer.model).weights });
    }
    // Rollout files of steps after the checkpoint belong to the abandoned continuation: they are redone.
    for (const s of listRolloutSteps(writer.dir)) {
      if (s > position.step) rmSync(runFiles.rollouts(writer.dir, s), { force: true });
    }
    // The target is the latest resume's, lower ones too: a run resumed to step 60 and done there reads 60/60.
    if (opts.steps !== manifest.steps) writer.updateManifest({ steps: opts.steps });
    // The reference policy: the one the checkpoint kept, else the model folder's weights (the initial ones).
    if (config.algorithm.klCoef > 0) reference ??= loadModel(config.trainer.model).weights;
    writer.appendEvent({ type: 'resumed', step: position.step });
    return { writer, config, engine, seed: manifest.seed, steps: opts.steps, position, checkpointStep: ckpt ? position.step : -1, reference };
  } catch (e) {
    writer.release();
    throw e;
  }
}

/** The engine's warnings go to the hooks' log, when there is one. */
function warnings(hooks: TrainerHooks | undefined): ((message: string) => void) | undefined {
  return hooks?.onLog ? (message) => hooks.onLog!('warn', message) : undefined;
}

function initialStreams(seed: number): Streams {
  return { data: new Rng(seed, 'data'), sampling: new Rng(seed, 'sampling'), perturbation: new Rng(seed, 'perturbation'), resample: new Rng(seed, 'resample') };
}

/** trainer.json's bytes for `position`. */
export function trainerStateBytes(position: Position): Uint8Array {
  const { step, cursor, rng } = position;
  const state: TrainerState = { version: 1, step, cursor, rng: { data: rng.data.state(), sampling: rng.sampling.state(), perturbation: rng.perturbation.state(), resample: rng.resample.state() } };
  return new TextEncoder().encode(JSON.stringify(state, null, 2) + '\n');
}

function parseTrainerState(bytes: Uint8Array, file: string): TrainerState {
  let v: TrainerState;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!v || v.version !== 1 || !Number.isInteger(v.step) || !Number.isInteger(v.cursor) || !v.rng?.data || !v.rng?.sampling || !v.rng?.perturbation) {
    throw new Error(`${file}: not a trainer state (expected version 1 with step, cursor and rng streams)`);
  }
  return v;
}

function checkCompatible(model: LoadedModel, config: RunConfig): void {
  const m = model.config.model;
  const t = config.task;
  const vocab = new Tokenizer().vocab;
  if (model.config.vocab.length !== vocab.length || model.config.vocab.some((w, i) => w !== vocab[i])) {
    throw new Error(`The model in ${model.dir} was trained with a different vocabulary than this version's shapes tokenizer.`);
  }
  if (m.imageSize !== t.imageSize || m.patchSize !== t.patchSize) {
    throw new Error(`config.task: imageSize/patchSize ${t.imageSize}/${t.patchSize} do not match the model's ${m.imageSize}/${m.patchSize}`);
  }
  const need = new ShapesTask(t).maxPromptTokens + config.trainer.maxNewTokens;
  if (need > m.maxText) {
    throw new Error(`config.maxNewTokens: prompt (≤ ${need - config.trainer.maxNewTokens}) + ${config.trainer.maxNewTokens} new tokens exceed the model's maxText ${m.maxText}`);
  }
}
