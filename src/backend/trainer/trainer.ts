/**
 * The RLVR trainer (ALGORITHMS.md): per step, P prompts × G rollouts sampled from the policy, the
 * verifiable reward, DAPO dynamic sampling where the preset says, the probe views the preset needs scored
 * in ONE engine.score call, the advantages reshaped by src/core/algorithms, one clipped-surrogate update,
 * then rollouts, metrics and checkpoints written to the run directory.
 *
 * The parts: open.ts opens a run (start, resume, compatibility checks, trainer.json); control.ts runs the
 * loop and answers pause, checkpoint and stop between steps; step.ts holds the stages of a step;
 * records.ts turns a step into rollout records and a metrics row; diagnostics.ts scores every view for
 * every preset when asked. Every random draw comes from one of four serializable streams (data,
 * resample, sampling, perturbation), so resuming from a checkpoint reproduces the straight run.
 */
import { computeAdvantages, type AlgorithmConfig } from '../../core/algorithms';
import type { BackendStatus } from '../../core/protocol/backend';
import type { MetricsRow } from '../../core/run';
import type { PolicyEngine } from '../engine/types';
import { ShapesTask, Tokenizer, type ShapesExample } from '../task/shapes';
import type { RunConfig } from './config';
import { RunControl } from './control';
import {
  CHECKPOINT_FILES,
  REFERENCE_FILE,
  openExistingRun,
  openNewRun,
  trainerStateBytes,
  type OpenedRun,
  type Position,
  type ResumeOptions,
  type StartOptions,
  type TrainerHooks,
} from './open';
import { Rng } from '../rng';
import { diagnosticsMetrics } from './diagnostics';
import { RolloutRecords, metricsRow } from './records';
import { StepPipeline } from './step';
import { validationAccuracy, type ValidationResult } from './validate';

export { CHECKPOINT_FILES, defaultEngineFactory } from './open';
export type { EngineFactory, ResumeOptions, StartOptions, TrainerHooks, TrainerState } from './open';

export class Trainer extends RunControl {
  readonly config: RunConfig;
  readonly engine: PolicyEngine;
  readonly seed: number;
  readonly task: ShapesTask;
  readonly tokenizer: Tokenizer;
  steps: number;
  private readonly position: Position;
  private readonly fresh: boolean;
  private readonly pipeline: StepPipeline;
  private readonly records: RolloutRecords;
  private readonly valExamples: ShapesExample[];
  private readonly greedyExamples: ShapesExample[];
  /** The frozen reference policy (klCoef > 0): the run's initial weights. */
  private readonly reference: Uint8Array | undefined;
  private lastReward: number | undefined;

  private constructor(run: OpenedRun, hooks: TrainerHooks) {
    super(run.writer, hooks, run.checkpointStep);
    this.config = run.config;
    this.engine = run.engine;
    this.seed = run.seed;
    this.steps = run.steps;
    this.position = run.position;
    this.fresh = run.checkpointStep < 0;
    this.tokenizer = new Tokenizer();
    this.task = new ShapesTask(this.config.task, this.tokenizer);
    this.valExamples = Array.from({ length: this.config.trainer.valSize }, (_, i) => this.task.example('val', i));
    const greedySize = this.config.trainer.valGreedySize || this.config.trainer.valSize;
    this.greedyExamples = greedySize === this.valExamples.length ? this.valExamples : Array.from({ length: greedySize }, (_, i) => this.task.example('val', i));
    this.reference = run.reference;
    this.pipeline = new StepPipeline(this.engine, this.config, this.task, this.position);
    this.records = new RolloutRecords(this.writer, this.task.config.imageSize);
  }

  /** Creates a run directory and a trainer at step 0 (call run() to train). */
  static async start(opts: StartOptions): Promise<Trainer> {
    return new Trainer(await openNewRun(opts), opts.hooks ?? {});
  }

  /**
   * Opens a run directory and restores the trainer from a checkpoint (the latest complete one unless
   * named; from the initial weights when the run has none). A run left 'running' or 'paused' by a backend
   * that died is first marked failed in events.jsonl; one whose writer is alive is refused.
   */
  static async resume(opts: ResumeOptions): Promise<Trainer> {
    return new Trainer(await openExistingRun(opts), opts.hooks ?? {});
  }

  get algorithm(): AlgorithmConfig {
    return this.config.algorithm;
  }
  get currentStep(): number {
    return this.position.step;
  }
  get dir(): string {
    return this.writer.dir;
  }
  protected get checkpointEvery(): number {
    return this.config.trainer.checkpointEvery;
  }

  status(): BackendStatus {
    return {
      state: this.runState,
      runId: this.writer.manifest.id,
      runDir: this.writer.dir,
      step: this.position.step,
      steps: this.steps,
      ep: this.engine.ep,
      ...(this.lastReward !== undefined ? { lastReward: this.lastReward } : {}),
    };
  }

  /** Validation accuracy (validate.ts): avg@k sampled at the training temperature, and greedy. */
  async validate(): Promise<ValidationResult> {
    const tr = this.config.trainer;
    return validationAccuracy(this.engine, this.tokenizer, this.valExamples, {
      maxNewTokens: tr.maxNewTokens,
      temperature: tr.temperature,
      samples: tr.valSamples,
      seed: this.seed,
      greedyExamples: this.greedyExamples,
    });
  }

  /** The step-0 validation row of a run that starts from the initial weights. */
  protected async beforeFirstStep(): Promise<void> {
    const tr = this.config.trainer;
    if (!this.fresh || this.position.step !== 0 || !tr.valAtStart || tr.valEvery <= 0) return;
    const val = await this.validate();
    const row: MetricsRow = { step: 0, time: Date.now() / 1000, valAccuracy: val.sampled, valGreedyAccuracy: val.greedy };
    this.writer.appendMetrics(row);
    this.hooks.onMetrics?.(row);
  }

  protected async trainStep(): Promise<void> {
    const step = this.position.step + 1;
    const tr = this.config.trainer;
    const t0 = performance.now();

    // 1. Rollouts, with DAPO dynamic sampling where the preset says.
    const sampled = await this.pipeline.sample();
    const t1 = performance.now();

    // 2. Probe views, one engine.score call for all of them.
    const probes = await this.pipeline.probe(sampled.batch);
    const t2 = performance.now();

    // 3. Advantages (§1–§4), then the update (§5), with the reference policy's log-probs when klCoef > 0.
    const inputs = this.pipeline.advantageInputs(step, sampled.batch, probes);
    const adv = computeAdvantages(this.config.algorithm, inputs);
    // Diagnostics: every view scored again under the policy that sampled the batch (so before the update),
    // with a random stream of their own (the training draws stay the same); timed apart.
    const td = performance.now();
    const diagProbes = tr.diagnostics ? await this.pipeline.probe(sampled.batch, this.pipeline.diagnosticsPlan, new Rng(this.seed, `diagnostics:${step}`)) : undefined;
    const diagnostics = diagProbes
      ? { ...diagnosticsMetrics(this.config.algorithm, sampled.batch, diagProbes, (views) => this.pipeline.advantageInputs(step, sampled.batch, diagProbes, views)), timeDiagnosticsMs: performance.now() - td }
      : undefined;
    const tu = performance.now();
    const refLogp = this.reference ? await this.pipeline.referenceLogp(sampled.batch, this.reference) : undefined;
    const stats = await this.pipeline.update(step, sampled.batch, adv, refLogp);
    const t3 = performance.now();

    // 4. Records: rollouts (with images written once), metrics.
    this.position.step = step;
    const records = this.records.append(step, sampled.batch, inputs, adv);
    this.hooks.onRollouts?.(step, records);
    const row = metricsRow(step, sampled, tr.groupSize, stats, records, this.config.algorithm.tau, { sample: t1 - t0, probe: t2 - t1, update: t3 - tu });
    if (diagnostics) Object.assign(row, diagnostics);
    this.lastReward = row.reward;
    if (tr.valEvery > 0 && (step % tr.valEvery === 0 || step === this.steps)) {
      const val = await this.validate();
      row.valAccuracy = val.sampled;
      row.valGreedyAccuracy = val.greedy;
    }
    row.timeStepMs = performance.now() - t0;
    const clean = Object.fromEntries(Object.entries(row).filter(([, v]) => v !== undefined && Number.isFinite(v))) as MetricsRow;
    this.writer.appendMetrics(clean);
    this.hooks.onMetrics?.(clean);
    this.hooks.onState?.(this.status());
  }

  protected saveCheckpoint(): string {
    const { weights, optimizer } = this.engine.saveState();
    const files = {
      [CHECKPOINT_FILES.weights]: weights,
      [CHECKPOINT_FILES.optimizer]: optimizer,
      [CHECKPOINT_FILES.trainer]: trainerStateBytes(this.position),
      ...(this.reference ? { [REFERENCE_FILE]: this.reference } : {}),
    };
    return this.writer.writeCheckpoint(this.position.step, stalledForTests(files));
  }
}

/**
 * A test hook: with PRPO_STUDIO_TEST_CHECKPOINT_STALL_MS set, the first checkpoint file's bytes are
 * handed over that much later (the process blocks). RunWriter.writeCheckpoint reads them after creating
 * its temporary folder, so the unfinished folder stays on disk meanwhile and a test can kill the process
 * mid-checkpoint for sure (test/unit/trainer/server.test.ts). Unset, `files` is returned as it is.
 */
function stalledForTests(files: Record<string, Uint8Array>): Record<string, Uint8Array> {
  const ms = Number(process.env.PRPO_STUDIO_TEST_CHECKPOINT_STALL_MS);
  if (!(ms > 0)) return files;
  const [name] = Object.keys(files);
  const data = files[name];
  const get = () => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    return data;
  };
  return Object.defineProperty({ ...files }, name, { enumerable: true, get });
}
