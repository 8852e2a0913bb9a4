/**
 * The RLVR trainer loop (ALGORITHMS.md): per step, P prompts × G rollouts sampled from the policy, the
 * verifiable reward, DAPO dynamic sampling where the preset says, the probe views the preset needs scored
 * in ONE engine.score call, the advantages reshaped by src/core/algorithms, one clipped-surrogate update,
 * then rollouts, metrics and checkpoints written to the run directory.
 *
 * Control happens between steps (the safe point): pause holds the state in memory, a checkpoint request
 * writes one, stop checkpoints and ends the run. Every random draw comes from one of three serializable
 * streams (data, sampling, perturbation), so resuming from a checkpoint reproduces the straight run.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import {
  auroc,
  computeAdvantages,
  filterGroupsForDynamicSampling,
  minmax,
  viewsFor,
  type AlgorithmConfig,
  type RolloutAdvantage,
  type RolloutInput,
  type ViewRequirements,
} from '../../core/algorithms';
import type { BackendStatus, CheckpointInfo, ExecutionProvider, ResumeFromParams, StartParams } from '../../core/protocol/backend';
import {
  RunWriter,
  encodePng,
  formatIssue,
  latestCheckpoint,
  markInterruptedAsFailed,
  parseStepName,
  readCheckpoint,
  readRun,
  stepName,
  type MetricsRow,
  type RolloutRecord,
  type RunStatus,
  type ViewName,
} from '../../core/run';
import type { ModelConfig, PolicyEngine, SequenceInput, StepStats } from '../engine/types';
import { ShapesTask, Tokenizer, perceptualFlags, scoreResponse, type ShapesExample } from '../task/shapes';
import { flatConfig, resolveRunConfig, runConfigFromManifest, type RunConfig } from './config';
import { loadModel, BUILTIN_MODEL, type LoadedModel } from './model';
import { Rng, type RngState } from '../rng';
import { mildNoise, perturbPatches } from './views';
import { validationAccuracy, type ValidationResult } from './validate';

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

/** trainer.json in a checkpoint. */
export interface TrainerState {
  version: 1;
  step: number;
  /** How many training prompts have been drawn. */
  cursor: number;
  rng: { data: RngState; sampling: RngState; perturbation: RngState };
}

export const CHECKPOINT_FILES = { weights: 'weights.safetensors', optimizer: 'optimizer.safetensors', trainer: 'trainer.json' };

/** One sampled rollout before advantages. */
interface Sampled {
  example: ShapesExample;
  group: string;
  tokens: number[];
  words: string[];
  logp: Float32Array;
  reward: number;
  correct: boolean;
  formatOk: boolean;
}

export class Trainer {
  private state: RunStatus | 'idle' = 'idle';
  private pauseRequested = false;
  private stopRequested = false;
  private resumeWaiter: (() => void) | undefined;
  private pausedWaiters: Array<() => void> = [];
  private checkpointWaiters: Array<{ resolve: (c: CheckpointInfo) => void; reject: (e: Error) => void }> = [];
  private loop: Promise<RunStatus> | undefined;
  private lastCheckpointStep = -1;
  private lastReward: number | undefined;
  private writtenImages = new Set<string>();
  private readonly valExamples: ShapesExample[];
  readonly task: ShapesTask;
  readonly tokenizer: Tokenizer;
  private readonly views: ViewRequirements;

  private constructor(
    readonly writer: RunWriter,
    readonly config: RunConfig,
    readonly engine: PolicyEngine,
    private step: number,
    private cursor: number,
    private rng: { data: Rng; sampling: Rng; perturbation: Rng },
    public steps: number,
    readonly seed: number,
    private readonly hooks: TrainerHooks,
    private readonly fresh: boolean,
  ) {
    this.tokenizer = new Tokenizer();
    this.task = new ShapesTask(config.task, this.tokenizer);
    this.valExamples = Array.from({ length: config.trainer.valSize }, (_, i) => this.task.example('val', i));
    this.views = viewsFor(config.algorithm);
    for (const f of existsSync(join(writer.dir, 'images')) ? readdirSync(join(writer.dir, 'images')) : []) this.writtenImages.add(f);
  }

  get algorithm(): AlgorithmConfig {
    return this.config.algorithm;
  }
  get currentStep(): number {
    return this.step;
  }
  get dir(): string {
    return this.writer.dir;
  }

  /** Creates a run directory and a trainer at step 0 (call run() to train). */
  static async start(opts: StartOptions): Promise<Trainer> {
    const overrides = { ...(opts.config ?? {}) };
    if (opts.checkpointEvery !== undefined) overrides.checkpointEvery = opts.checkpointEvery;
    const modelSetting = typeof overrides.model === 'string' ? overrides.model : 'builtin';
    const model = loadModel(modelSetting);
    const config = resolveRunConfig(opts.preset, overrides, model.config.task);
    checkCompatible(model, config);
    const seed = opts.seed ?? 0;
    const onLog = opts.hooks?.onLog ? (message: string) => opts.hooks!.onLog!('warn', message) : undefined;
    const engine = await (opts.engineFactory ?? defaultEngineFactory)(model.config.model, { ep: opts.ep ?? 'cpu', seed, lr: config.trainer.lr, onLog });
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
    const trainer = new Trainer(writer, config, engine, 0, 0, initialStreams(seed), opts.steps, seed, opts.hooks ?? {}, true);
    writer.appendEvent({ type: 'started', step: 0 });
    return trainer;
  }

  /**
   * Opens a run directory and restores the trainer from a checkpoint (the latest complete one unless
   * named; from the initial weights when the run has none). A run left 'running' or 'paused' by a backend
   * that died is first marked failed in events.jsonl; one whose writer is alive is refused.
   */
  static async resume(opts: ResumeOptions): Promise<Trainer> {
    const info = await readRun(opts.runDir);
    if (!info.manifest) {
      throw new Error(`Cannot resume ${opts.runDir}: ${info.issues.map(formatIssue).join('; ') || 'run.json is missing'}`);
    }
    if (info.status === 'running' || info.status === 'paused') {
      const writerPid = [...info.events].reverse().find((e) => e.type === 'started' || e.type === 'resumed')?.pid;
      throw new Error(`Cannot resume ${info.dir}: it is ${info.status} in another process (pid ${writerPid ?? '?'}); stop that first.`);
    }
    if (info.status === 'interrupted') await markInterruptedAsFailed(opts.runDir);
    const writer = RunWriter.open(opts.runDir);
    const manifest = writer.manifest;
    const config = runConfigFromManifest(manifest.algorithm, manifest.config, manifest.task.config);
    let ckpt = opts.checkpoint ? (isAbsolute(opts.checkpoint) ? opts.checkpoint : join(writer.dir, opts.checkpoint)) : latestCheckpoint(writer.dir);
    const engineFactory = opts.engineFactory ?? defaultEngineFactory;
    const modelConfig = manifest.model.config as unknown as ModelConfig;
    const onLog = opts.hooks?.onLog ? (message: string) => opts.hooks!.onLog!('warn', message) : undefined;
    const engine = await engineFactory(modelConfig, { ep: opts.ep ?? 'cpu', seed: manifest.seed, lr: config.trainer.lr, onLog });
    let step = 0;
    let cursor = 0;
    let streams = initialStreams(manifest.seed);
    if (ckpt) {
      const { files } = readCheckpoint(ckpt);
      for (const name of Object.values(CHECKPOINT_FILES)) {
        if (!files[name]) throw new Error(`checkpoint ${ckpt}: ${name} is missing from its manifest`);
      }
      const st = parseTrainerState(files[CHECKPOINT_FILES.trainer], join(ckpt, CHECKPOINT_FILES.trainer));
      engine.loadState({ weights: files[CHECKPOINT_FILES.weights], optimizer: files[CHECKPOINT_FILES.optimizer] });
      step = st.step;
      cursor = st.cursor;
      streams = { data: Rng.fromState(st.rng.data), sampling: Rng.fromState(st.rng.sampling), perturbation: Rng.fromState(st.rng.perturbation) };
    } else {
      // No checkpoint yet: start over from the initial weights (same seed, so the same run).
      const model = loadModel(config.trainer.model);
      engine.loadState({ weights: model.weights });
      ckpt = undefined;
    }
    // Rollout files of steps after the checkpoint belong to the abandoned continuation: they are redone.
    for (const f of readdirSync(join(writer.dir, 'rollouts'))) {
      const s = parseStepName(f.replace(/\.jsonl$/, ''));
      if (s !== undefined && s > step) rmSync(join(writer.dir, 'rollouts', f), { force: true });
    }
    if (opts.steps > (manifest.steps ?? 0)) writer.updateManifest({ steps: opts.steps });
    const trainer = new Trainer(writer, config, engine, step, cursor, streams, opts.steps, manifest.seed, opts.hooks ?? {}, !ckpt);
    trainer.lastCheckpointStep = ckpt ? step : -1;
    writer.appendEvent({ type: 'resumed', step });
    return trainer;
  }

  status(): BackendStatus {
    return {
      state: this.state,
      runId: this.writer.manifest.id,
      runDir: this.writer.dir,
      step: this.step,
      steps: this.steps,
      ep: this.engine.ep,
      ...(this.lastReward !== undefined ? { lastReward: this.lastReward } : {}),
    };
  }

  /** Trains until `steps` or a stop; resolves with the final status ('completed' or 'stopped'). */
  run(): Promise<RunStatus> {
    if (!this.loop) this.loop = this.loopBody();
    return this.loop;
  }

  /** Asks the loop to pause at the next safe point; resolves once paused (or at once if not running). */
  pause(): Promise<BackendStatus> {
    if (this.state !== 'running') return Promise.resolve(this.status());
    this.pauseRequested = true;
    return new Promise((resolve) => this.pausedWaiters.push(() => resolve(this.status())));
  }

  /** Continues a paused loop. */
  resume(): BackendStatus {
    this.pauseRequested = false;
    if (this.state === 'paused') {
      this.setState('running');
      this.writer.appendEvent({ type: 'resumed', step: this.step });
      this.resumeWaiter?.();
      this.resumeWaiter = undefined;
    }
    return this.status();
  }

  /** A checkpoint at the next safe point (at once when paused or not running). */
  checkpointNow(): Promise<CheckpointInfo> {
    if (this.state !== 'running') {
      try {
        return Promise.resolve(this.writeCheckpoint());
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return new Promise((resolve, reject) => this.checkpointWaiters.push({ resolve, reject }));
  }

  /** Stop: the loop ends at the next safe point, writes a checkpoint and a 'stopped' event. */
  async stop(): Promise<BackendStatus> {
    this.stopRequested = true;
    if (this.state === 'idle') {
      // Never ran: still leave a checkpoint and a stopped event so the run is resumable.
      this.writeCheckpointIfNew();
      this.writer.appendEvent({ type: 'stopped', step: this.step });
      this.setState('stopped');
      return this.status();
    }
    this.resumeWaiter?.();
    if (this.loop) await this.loop;
    return this.status();
  }

  /** Marks the run failed (the caller reports `reason`); the last checkpoint stays resumable. */
  markFailed(reason: string): void {
    if (this.state === 'failed') return;
    this.writer.appendEvent({ type: 'failed', step: this.step, reason });
    this.setState('failed');
  }

  private setState(s: RunStatus): void {
    this.state = s;
    this.hooks.onState?.(this.status());
  }

  private log(level: 'info' | 'warn' | 'error', message: string): void {
    this.hooks.onLog?.(level, message);
  }

  private async loopBody(): Promise<RunStatus> {
    this.setState('running');
    try {
      if (this.fresh && this.step === 0 && this.config.trainer.valAtStart && this.config.trainer.valEvery > 0) {
        const val = await this.validate();
        const row: MetricsRow = { step: 0, time: Date.now() / 1000, valAccuracy: val.sampled, valGreedyAccuracy: val.greedy };
        this.writer.appendMetrics(row);
        this.hooks.onMetrics?.(row);
      }
      while (this.step < this.steps) {
        await this.safePoint();
        if (this.stopRequested) break;
        await this.trainStep();
        const every = this.config.trainer.checkpointEvery;
        if (every > 0 && this.step % every === 0) this.writeCheckpoint();
      }
      await this.safePoint();
      this.writeCheckpointIfNew();
      const final: RunStatus = this.stopRequested && this.step < this.steps ? 'stopped' : 'completed';
      this.writer.appendEvent({ type: final, step: this.step });
      this.setState(final);
      return final;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.markFailed(message);
      for (const w of this.checkpointWaiters.splice(0)) w.reject(e as Error);
      throw e;
    } finally {
      for (const w of this.pausedWaiters.splice(0)) w();
    }
  }

  /** Between steps: answer checkpoint requests, hold while paused. */
  private async safePoint(): Promise<void> {
    // Let pending I/O (control requests) in, even when the engine's calls resolve without waiting.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (;;) {
      for (const w of this.checkpointWaiters.splice(0)) {
        try {
          w.resolve(this.writeCheckpoint());
        } catch (e) {
          w.reject(e as Error);
        }
      }
      if (!this.pauseRequested || this.stopRequested) return;
      this.setState('paused');
      this.writer.appendEvent({ type: 'paused', step: this.step });
      for (const w of this.pausedWaiters.splice(0)) w();
      await new Promise<void>((resolve) => {
        this.resumeWaiter = resolve;
        // A checkpoint asked for while paused is written by checkpointNow directly.
      });
      if (this.stopRequested) {
        this.setState('running');
        return;
      }
    }
  }

  private writeCheckpointIfNew(): void {
    if (this.lastCheckpointStep !== this.step) this.writeCheckpoint();
  }

  private writeCheckpoint(): CheckpointInfo {
    const { weights, optimizer } = this.engine.saveState();
    const state: TrainerState = {
      version: 1,
      step: this.step,
      cursor: this.cursor,
      rng: { data: this.rng.data.state(), sampling: this.rng.sampling.state(), perturbation: this.rng.perturbation.state() },
    };
    const path = this.writer.writeCheckpoint(this.step, {
      [CHECKPOINT_FILES.weights]: weights,
      [CHECKPOINT_FILES.optimizer]: optimizer,
      [CHECKPOINT_FILES.trainer]: new TextEncoder().encode(JSON.stringify(state, null, 2) + '\n'),
    });
    this.lastCheckpointStep = this.step;
    this.writer.appendEvent({ type: 'checkpoint', step: this.step, checkpoint: `checkpoints/${stepName(this.step)}` });
    const info = { runId: this.writer.manifest.id, step: this.step, path };
    this.hooks.onCheckpoint?.(info);
    return info;
  }

  /** Draws `n` training examples from the data stream. */
  private drawExamples(n: number): ShapesExample[] {
    const out: ShapesExample[] = [];
    for (let i = 0; i < n; i++) {
      out.push(this.task.example('train', this.rng.data.nextU32() >>> 1));
      this.cursor++;
    }
    return out;
  }

  /** Samples G rollouts for each example and scores them with the verifiable reward. */
  private async sampleGroups(examples: ShapesExample[], temperature = this.config.trainer.temperature, random = this.rng.sampling): Promise<Sampled[]> {
    const G = this.config.trainer.groupSize;
    const images: Float32Array[] = [];
    const prompts: number[][] = [];
    for (const ex of examples) {
      for (let k = 0; k < G; k++) {
        images.push(ex.image);
        prompts.push(ex.prompt);
      }
    }
    const res = await this.engine.sample({
      images,
      prompts,
      maxNewTokens: this.config.trainer.maxNewTokens,
      temperature,
      topP: this.config.trainer.topP,
      stopToken: this.tokenizer.eos,
      random: random.uniform(),
    });
    return res.tokens.map((tokens, i) => {
      const example = examples[Math.floor(i / G)];
      const words = this.tokenizer.decode(tokens);
      const r = scoreResponse(words, example.answer);
      return { example, group: example.id, tokens, words, logp: res.logp[i], reward: r.reward, correct: r.correct, formatOk: r.formatOk };
    });
  }

  private async trainStep(): Promise<void> {
    const step = this.step + 1;
    const tr = this.config.trainer;
    const algo = this.config.algorithm;
    const t0 = performance.now();

    // 1. Rollouts, with DAPO dynamic sampling where the preset says.
    const first = await this.sampleGroups(this.drawExamples(tr.promptsPerStep));
    const sampledAll = [...first];
    let batch = first;
    let tries = 0;
    if (algo.dynamicSampling) {
      const filter = (rs: Sampled[]) => filterGroupsForDynamicSampling(rs, { accuracyLow: algo.accuracyLow, accuracyHigh: algo.accuracyHigh }).kept;
      batch = filter(first);
      while (batch.length < tr.promptsPerStep * tr.groupSize && tries < algo.maxResampleTries) {
        tries++;
        const missing = tr.promptsPerStep - batch.length / tr.groupSize;
        const more = await this.sampleGroups(this.drawExamples(missing));
        sampledAll.push(...more);
        batch = batch.concat(filter(more));
      }
      // Nothing informative after the retries: train on the last sample (its advantages are all 0).
      if (batch.length === 0) batch = sampledAll.slice(-tr.promptsPerStep * tr.groupSize);
    }
    const t1 = performance.now();

    // 2. Probe views, one engine.score call for all of them.
    const seqOf = (s: Sampled, image = s.example.image, blind = false): SequenceInput => ({
      image,
      prompt: s.example.prompt,
      response: s.tokens,
      ...(blind ? { blind: true } : {}),
    });
    const probes: SequenceInput[] = [];
    const slots: Array<{ rollout: number; view: ViewName }> = [];
    const { imageSize, channels, patchSize } = this.engine.config;
    const addProbe = (rollout: number, view: ViewName, seq: SequenceInput) => {
      probes.push(seq);
      slots.push({ rollout, view });
    };
    batch.forEach((s, i) => {
      for (const view of this.views.views) {
        if (view === 'blind') addProbe(i, view, seqOf(s, s.example.image, true));
        else if (view === 'mild') addProbe(i, view, seqOf(s, mildNoise(s.example.image, tr.mildSigma, this.rng.perturbation)));
        else if (view === 'perturbed') {
          for (let m = 0; m < Math.max(1, this.views.perturbedSamples); m++) {
            addProbe(i, view, seqOf(s, perturbPatches(s.example.image, imageSize, channels, patchSize, tr.patchDropProb, this.rng.perturbation)));
          }
        }
      }
    });
    const probeLogp: Array<Partial<Record<ViewName, Float32Array[]>>> = batch.map(() => ({}));
    if (probes.length > 0) {
      const scored = await this.engine.score(probes);
      slots.forEach((slot, k) => {
        const rows = (probeLogp[slot.rollout][slot.view] ??= []);
        rows.push(scored.logp[k]);
      });
    }
    const t2 = performance.now();

    // 3. Advantages (§1–§4), then the update (§5).
    const inputs: RolloutInput[] = batch.map((s, i) => {
      const p = probeLogp[i];
      const logp: RolloutInput['logp'] = { image: s.logp };
      if (p.blind) logp.blind = p.blind[0];
      if (p.mild) logp.mild = p.mild[0];
      if (p.perturbed) logp.perturbed = this.views.perturbedSamples > 1 ? p.perturbed : p.perturbed[0];
      return { id: `${step}-${i}`, group: s.group, reward: s.reward, logp };
    });
    const adv: RolloutAdvantage[] = computeAdvantages(algo, inputs);
    const stats = await this.update(batch.map((s) => seqOf(s)), adv.map((a) => Float32Array.from(a.tokenAdvantages)), batch.map((s) => s.logp));
    const t3 = performance.now();

    // 4. Records: rollouts (with images written once), metrics.
    this.step = step;
    const records = batch.map((s, i) => this.record(step, i, s, inputs[i], adv[i]));
    this.writer.appendRollouts(step, records);
    this.hooks.onRollouts?.(step, records);

    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    const row: MetricsRow = {
      step,
      time: Date.now() / 1000,
      reward: mean(sampledAll.map((s) => s.reward)),
      accuracy: mean(sampledAll.map((s) => (s.correct ? 1 : 0))),
      formatRate: mean(sampledAll.map((s) => (s.formatOk ? 1 : 0))),
      trainReward: mean(batch.map((s) => s.reward)),
      groupsTrained: batch.length / tr.groupSize,
      groupsSampled: sampledAll.length / tr.groupSize,
      resampleTries: tries,
      responseLength: mean(batch.map((s) => s.tokens.length)),
      loss: stats.loss,
      pgLoss: stats.pgLoss,
      entropyLoss: stats.entropyLoss,
      klLoss: stats.klLoss,
      clipFraction: stats.clipFraction,
      entropy: stats.entropy,
      approxKl: stats.approxKl,
      gradNorm: stats.gradNorm,
      ...this.dependencyMetrics(records),
      timeSampleMs: t1 - t0,
      timeProbeMs: t2 - t1,
      timeUpdateMs: t3 - t2,
    };
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

  /**
   * The policy update: `miniBatches` optimizer steps over consecutive slices of whole groups (PPO-style; from
   * the second one on the ratio departs from 1 and the clip matters). Statistics are token-weighted means.
   */
  private async update(sequences: SequenceInput[], advantages: Float32Array[], oldLogp: Float32Array[]): Promise<StepStats> {
    const algo = this.config.algorithm;
    // Linear learning-rate warm-up: the optimizer starts without moment estimates, and its first steps
    // would otherwise move every weight by about lr at once. The rate is a function of the step only.
    const { lr, lrWarmupSteps } = this.config.trainer;
    const engineLr = this.engine as PolicyEngine & { lr?: number };
    if (typeof engineLr.lr === 'number') engineLr.lr = lr * Math.min(1, (this.step + 1) / Math.max(1, lrWarmupSteps));
    const G = this.config.trainer.groupSize;
    const groups = Math.max(1, Math.round(sequences.length / G));
    const parts = Math.max(1, Math.min(this.config.trainer.miniBatches, groups));
    const total: StepStats = { loss: 0, pgLoss: 0, entropyLoss: 0, klLoss: 0, clipFraction: 0, entropy: 0, approxKl: 0, gradNorm: 0 };
    let tokens = 0;
    for (let p = 0; p < parts; p++) {
      const from = Math.round((p * groups) / parts) * G;
      const to = p === parts - 1 ? sequences.length : Math.round(((p + 1) * groups) / parts) * G;
      const seqs = sequences.slice(from, to);
      const st = await this.engine.policyStep(
        { sequences: seqs, advantages: advantages.slice(from, to), oldLogp: oldLogp.slice(from, to) },
        { clipLow: algo.clipLow, clipHigh: algo.clipHigh, dualClip: algo.dualClip, entropyCoef: algo.entropyCoef, klCoef: algo.klCoef },
      );
      const n = seqs.reduce((a, q) => a + q.response.length, 0);
      tokens += n;
      for (const k of Object.keys(total) as Array<keyof StepStats>) total[k] += (k === 'gradNorm' ? 1 / parts : n) * st[k];
    }
    for (const k of Object.keys(total) as Array<keyof StepStats>) if (k !== 'gradNorm') total[k] /= Math.max(1, tokens);
    return total;
  }

  private record(step: number, i: number, s: Sampled, input: RolloutInput, a: RolloutAdvantage): RolloutRecord {
    const imageName = `${s.example.id}.png`;
    if (!this.writtenImages.has(imageName)) {
      const S = this.task.config.imageSize;
      this.writer.writeImage(imageName, encodePng(s.example.image, S, S, 3));
      this.writtenImages.add(imageName);
    }
    const logp: RolloutRecord['logp'] = { image: Array.from(input.logp.image) };
    if (input.logp.blind) logp.blind = Array.from(input.logp.blind);
    if (input.logp.mild) logp.mild = Array.from(input.logp.mild);
    if (input.logp.perturbed) {
      const rows = Array.isArray(input.logp.perturbed) ? (input.logp.perturbed as ArrayLike<number>[]) : [input.logp.perturbed as ArrayLike<number>];
      logp.perturbed = Array.from(rows[0]);
    }
    // Token texts carry the space before them, so they concatenate to the response (schema.ts) and read as words.
    const tokens = s.words.map((w, t) => (t === 0 ? w : ` ${w}`));
    const rec: RolloutRecord = {
      id: `${stepName(step)}-${String(i).padStart(3, '0')}`,
      step,
      group: s.group,
      prompt: s.example.question.join(' '),
      image: `images/${imageName}`,
      answer: s.example.answer,
      response: tokens.join(''),
      reward: s.reward,
      correct: s.correct,
      advantage: a.advantage,
      tokens,
      tokenIds: s.tokens,
      logp,
      tokenAdvantages: a.tokenAdvantages,
      perceptual: perceptualFlags(s.example.type, s.words),
    };
    if (a.alpha !== undefined) rec.alpha = a.alpha;
    if (a.scores) rec.scores = a.scores;
    if (a.weights) rec.weights = a.weights;
    if (a.mask) rec.mask = a.mask;
    return rec;
  }

  /**
   * Dependency statistics of the step: AUROC of each score against the ground-truth perceptual flags, and
   * sparsity — the share of tokens the preset's dependency marks perceptual (PRPO-R: RVD above τ; PGPO and
   * VPPO: minmax(log1p S) above τ, the PGPO gate's "boost" side).
   */
  private dependencyMetrics(records: RolloutRecord[]): Partial<MetricsRow> {
    const out: Partial<MetricsRow> = {};
    const labels = records.flatMap((r) => r.perceptual ?? []);
    const keys = { S: 'aurocS', G: 'aurocG', U: 'aurocU', rvd: 'aurocRvd' } as const;
    for (const [k, metric] of Object.entries(keys) as Array<[keyof typeof keys, string]>) {
      if (!records.every((r) => r.scores?.[k])) continue;
      const v = auroc(records.flatMap((r) => r.scores![k]!), labels);
      if (Number.isFinite(v)) out[metric] = v;
    }
    const tau = this.config.algorithm.tau;
    let marked = 0;
    let total = 0;
    for (const r of records) {
      const primary = r.scores?.rvd ?? (r.scores?.S ? Array.from(minmax(r.scores.S.map((x) => Math.log1p(x)))) : r.scores?.G ? Array.from(minmax(r.scores.G.map((x) => Math.log1p(x)))) : undefined);
      if (!primary) continue;
      for (const x of primary) if (x > tau) marked++;
      total += primary.length;
    }
    if (total > 0) out.dependencySparsity = marked / total;
    out.perceptualShare = labels.length ? labels.reduce((a, b) => a + b, 0) / labels.length : undefined;
    return out;
  }

  /** Validation accuracy (validate.ts): avg@k sampled at the training temperature, and greedy. */
  async validate(): Promise<ValidationResult> {
    const tr = this.config.trainer;
    return validationAccuracy(this.engine, this.tokenizer, this.valExamples, {
      maxNewTokens: tr.maxNewTokens,
      temperature: tr.temperature,
      samples: tr.valSamples,
      seed: this.seed,
    });
  }
}

function initialStreams(seed: number): { data: Rng; sampling: Rng; perturbation: Rng } {
  return { data: new Rng(seed, 'data'), sampling: new Rng(seed, 'sampling'), perturbation: new Rng(seed, 'perturbation') };
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
