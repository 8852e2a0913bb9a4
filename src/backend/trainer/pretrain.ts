/**
 * The supervised warm start: the tiny VLM learns the shapes task's reference traces by cross-entropy
 * (engine.supervisedStep) until a stopping rule holds. `accuracy` (the shipped model): its validation
 * accuracy (avg@k, validate.ts) reaches a target — far from perfect, so RL has work left. `textLearned`
 * (the study's model): the tokens the trace determines are learned — teacher-forced top-1 on the
 * non-perceptual reference tokens ≥ a target (0.98) — so what RL has left is perception. Seeded: the same
 * settings give the same weights. Its checks use validation examples from index 100000 on, apart from the
 * ones RL runs validate on.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MODEL_SIZE, modelConfig, type ModelConfig, type ModelSize } from '../engine/model';
import type { PolicyEngine } from '../engine/types';
import { ShapesTask, Tokenizer, VOCAB, defaultShapesConfig, scoreResponse, type ShapesConfig, type ShapesExample } from '../task/shapes';
import { greedyAccuracyByType, teacherForced, validationAccuracy, type TeacherForced } from './validate';
import { traceDiagnostics } from './diagnostics';
import type { ModelFolderConfig } from './model';
import { Rng } from '../rng';
import type { EngineFactory } from './open';

/** The model's size (channels and the image geometry follow the task; engine/model.ts has the defaults). */
type PretrainModelSize = Pick<ModelSize, 'dModel' | 'nLayers' | 'nHeads' | 'dFF' | 'maxText'>;

export interface PretrainSettings extends PretrainModelSize {
  seed: number;
  /** Upper bound on supervised steps. */
  maxSteps: number;
  batchSize: number;
  lr: number;
  /** Check validation accuracy every N steps; stop at the first check that reaches targetAccuracy. */
  evalEvery: number;
  evalSize: number;
  /** Responses sampled per evaluation example (avg@k). */
  evalSamples: number;
  /** Stop at the first evaluation whose avg@k reaches this (stopAt 'accuracy'). */
  targetAccuracy: number;
  /** 'accuracy': avg@k ≥ targetAccuracy; 'textLearned': non-perceptual teacher-forced top-1 ≥ textTop1Target. */
  stopAt: 'accuracy' | 'textLearned';
  textTop1Target: number;
  task: ShapesConfig;
}

export const defaultPretrainSettings = (): PretrainSettings => ({
  seed: 0,
  maxSteps: 3000,
  batchSize: 32,
  lr: 2e-3,
  evalEvery: 50,
  evalSize: 256,
  evalSamples: 4,
  targetAccuracy: 0.35,
  stopAt: 'accuracy',
  textTop1Target: 0.98,
  dModel: DEFAULT_MODEL_SIZE.dModel,
  nLayers: DEFAULT_MODEL_SIZE.nLayers,
  nHeads: DEFAULT_MODEL_SIZE.nHeads,
  dFF: DEFAULT_MODEL_SIZE.dFF,
  maxText: DEFAULT_MODEL_SIZE.maxText,
  task: defaultShapesConfig(),
});

export const PRETRAIN_EVAL_OFFSET = 100000;

export function pretrainModelConfig(s: PretrainSettings): ModelConfig {
  const { dModel, nLayers, nHeads, dFF, maxText } = s;
  return modelConfig({ vocabSize: VOCAB.length, imageSize: s.task.imageSize, patchSize: s.task.patchSize }, { dModel, nLayers, nHeads, dFF, maxText });
}

export interface PretrainResult {
  engine: PolicyEngine;
  model: ModelConfig;
  steps: number;
  /** avg@k sampled at temperature 1 (validate.ts), the definition RL runs report as valAccuracy. */
  valAccuracy: number;
  valGreedyAccuracy: number;
  history: Array<{ step: number; loss: number; valAccuracy?: number; valGreedyAccuracy?: number; nonPerceptualTop1?: number; perceptualTop1?: number }>;
  /** With stopAt 'textLearned': the teacher-forced fit at the stop. */
  teacherForced?: TeacherForced;
}

export async function pretrain(s: PretrainSettings, factory: EngineFactory, log: (line: string) => void = () => {}): Promise<PretrainResult> {
  const task = new ShapesTask(s.task, new Tokenizer());
  const model = pretrainModelConfig(s);
  const engine = await factory(model, { ep: 'cpu', seed: s.seed, lr: s.lr });
  const rng = new Rng(s.seed, 'pretrain-data');
  const evalSet = Array.from({ length: s.evalSize }, (_, i) => task.example('val', PRETRAIN_EVAL_OFFSET + i));
  const history: PretrainResult['history'] = [];
  const evaluate = () => validationAccuracy(engine, task.tokenizer, evalSet, { maxNewTokens: task.maxResponseTokens, temperature: 1, samples: s.evalSamples, seed: s.seed });
  const textRule = s.stopAt === 'textLearned';
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  let acc = textRule ? { sampled: NaN, greedy: NaN } : await evaluate();
  let tf: TeacherForced | undefined;
  if (!textRule) log(`step 0: val accuracy ${pct(acc.sampled)} (greedy ${pct(acc.greedy)})`);
  let step = 0;
  let lossSum = 0;
  while (step < s.maxSteps) {
    const seqs = Array.from({ length: s.batchSize }, () => {
      const e = task.example('train', rng.nextU32() >>> 1);
      return { image: e.image, prompt: e.prompt, response: e.target };
    });
    const { loss } = await engine.supervisedStep(seqs);
    step++;
    lossSum += loss;
    const row: PretrainResult['history'][number] = { step, loss };
    if (step % s.evalEvery === 0 && textRule) {
      // Teacher-forced on the reference traces: one score call, far cheaper than sampling.
      tf = await teacherForced(engine, evalSet);
      row.nonPerceptualTop1 = tf.nonPerceptualTop1;
      row.perceptualTop1 = tf.perceptualTop1;
      log(`step ${step}: loss ${(lossSum / s.evalEvery).toFixed(4)}, teacher-forced top-1 non-perceptual ${pct(tf.nonPerceptualTop1)}, perceptual ${pct(tf.perceptualTop1)}`);
      lossSum = 0;
    } else if (step % s.evalEvery === 0) {
      acc = await evaluate();
      row.valAccuracy = acc.sampled;
      row.valGreedyAccuracy = acc.greedy;
      log(`step ${step}: loss ${(lossSum / s.evalEvery).toFixed(4)}, val accuracy ${pct(acc.sampled)} (greedy ${pct(acc.greedy)})`);
      lossSum = 0;
    }
    history.push(row);
    if (row.valAccuracy !== undefined && acc.sampled >= s.targetAccuracy) break;
    if (row.nonPerceptualTop1 !== undefined && row.nonPerceptualTop1 >= s.textTop1Target) break;
  }
  if (textRule) {
    acc = await evaluate();
    log(`stopped at step ${step}: val accuracy ${pct(acc.sampled)} (greedy ${pct(acc.greedy)})`);
  }
  return { engine, model, steps: step, valAccuracy: acc.sampled, valGreedyAccuracy: acc.greedy, history, ...(tf ? { teacherForced: tf } : {}) };
}

/**
 * What a warm start leaves RL (greedy on `examples`): accuracy per question type with the image and with
 * a black one (the text-only baseline), the share of wrong answers whose first error is at a perceptual
 * token, and the share of right answers reached through a wrong trace.
 */
export async function startMeasures(engine: PolicyEngine, task: ShapesTask, examples: ShapesExample[]) {
  const tokenizer = task.tokenizer;
  const maxNewTokens = task.maxResponseTokens;
  const withImage = await greedyAccuracyByType(engine, tokenizer, examples, { maxNewTokens });
  const blackImage = await greedyAccuracyByType(engine, tokenizer, examples, { maxNewTokens, blackImage: true });
  const res = await engine.sample({ images: examples.map((e) => e.image), prompts: examples.map((e) => e.prompt), maxNewTokens, temperature: 0, topP: 1, stopToken: tokenizer.eos, random: () => 0 });
  const sampled = res.tokens.map((tokens, i) => {
    const words = tokenizer.decode(tokens);
    const r = scoreResponse(words, examples[i].answer);
    return { example: examples[i], group: examples[i].id, tokens, words, logp: res.logp[i], reward: r.reward, correct: r.correct, formatOk: r.formatOk };
  });
  return { greedy: withImage, blackImage, ...traceDiagnostics(sampled), teacherForced: await teacherForced(engine, examples) };
}

/** Writes weights.safetensors and config.json into `dir`. */
export function writeModelFolder(dir: string, name: string, r: PretrainResult, s: PretrainSettings, extra: Record<string, unknown> = {}): void {
  mkdirSync(dir, { recursive: true });
  const { weights } = r.engine.saveState();
  writeFileSync(join(dir, 'weights.safetensors'), weights);
  const config: ModelFolderConfig = {
    name,
    model: r.model,
    task: s.task,
    vocab: [...VOCAB],
    pretrain: { ...s, task: undefined, stepsRun: r.steps, ...extra },
    valAccuracy: r.valAccuracy,
    valGreedyAccuracy: r.valGreedyAccuracy,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
}
