/**
 * The stages of one training step (ALGORITHMS.md): P prompts × G rollouts sampled from the policy and
 * scored by the verifiable reward, with DAPO dynamic sampling where the preset says; the probe views the
 * preset needs, scored in ONE engine.score call; the advantages' inputs; one clipped-surrogate update
 * in `miniBatches` optimizer steps. Every random draw comes from the run's streams (open.ts), so a resumed
 * run draws what the straight run would have drawn.
 */
import { exactKlRows, filterGroupsForDynamicSampling, type PolicyLossOptions, viewsFor, type RolloutAdvantage, type RolloutInput, type ViewRequirements } from '../../core/algorithms';
import type { ViewName } from '../../core/run';
import { zeroStepStats, type PolicyEngine, type SequenceInput, type StepStats } from '../engine/types';
import { perceptualFlags, scoreResponse, type ShapesExample, type ShapesTask } from '../task/shapes';
import type { RunConfig } from './config';
import type { Position } from './open';
import type { Rng } from '../rng';
import { mildNoise, perturbPatches } from './views';

/** One sampled rollout before advantages. */
export interface Sampled {
  example: ShapesExample;
  group: string;
  tokens: number[];
  words: string[];
  logp: Float32Array;
  reward: number;
  correct: boolean;
  formatOk: boolean;
}

export interface SampledBatch {
  /** The rollouts trained on (whole groups). */
  batch: Sampled[];
  /** Every rollout sampled, the filtered-out groups of dynamic sampling included. */
  sampledAll: Sampled[];
  /** Resampling rounds of dynamic sampling. */
  tries: number;
}

/** Per rollout, the log-probs of its response under each probe view (several rows for repeated perturbed views). */
export type ProbeLogp = Partial<Record<ViewName, Float32Array[]>>;

/** Per rollout, the exact full-vocabulary KL(π_image ‖ π_view) of each probe view (ALGORITHMS.md, `exact`). */
export type ProbeKl = Partial<Record<Exclude<ViewName, 'image'>, Float64Array[]>>;

/** What the probe stage returns: the views' log-probs, and where asked the exact KL rows and the policy entropy. */
export interface Probes {
  logp: ProbeLogp[];
  /** Present when the config's kl is 'exact' or diagnostics are on. */
  exact?: ProbeKl[];
  /** Full-vocabulary entropy of the policy (image view) at each response position; with `exact`. */
  entropy?: Float32Array[];
}

/** Which views to score: the preset's, or (diagnostics) every view, with the exact KL where asked. */
export interface ProbePlan extends ViewRequirements {
  exact: boolean;
}

export class StepPipeline {
  readonly views: ViewRequirements;

  /** `position` is the run's, shared: drawing prompts advances its cursor and streams. */
  constructor(
    private readonly engine: PolicyEngine,
    private readonly config: RunConfig,
    private readonly task: ShapesTask,
    private readonly position: Position,
  ) {
    this.views = viewsFor(config.algorithm);
  }

  /** 1. Rollouts, with DAPO dynamic sampling where the preset says. */
  async sample(): Promise<SampledBatch> {
    const tr = this.config.trainer;
    const algo = this.config.algorithm;
    const first = await this.sampleGroups(this.drawExamples(tr.promptsPerStep, this.position.rng.data));
    const sampledAll = [...first];
    let batch = first;
    let tries = 0;
    if (algo.dynamicSampling) {
      const filter = (rs: Sampled[]) => filterGroupsForDynamicSampling(rs, { accuracyLow: algo.accuracyLow, accuracyHigh: algo.accuracyHigh }).kept;
      batch = filter(first);
      while (batch.length < tr.promptsPerStep * tr.groupSize && tries < algo.maxResampleTries) {
        tries++;
        const missing = tr.promptsPerStep - batch.length / tr.groupSize;
        const more = await this.sampleGroups(this.drawExamples(missing, this.position.rng.resample));
        sampledAll.push(...more);
        batch = batch.concat(filter(more));
      }
      // No group kept after the retries: train on the last sample's groups as they are. Their accuracy is all
      // right or all wrong, but the reward (0.9·accuracy + 0.1·format) can still differ in format within a
      // group, and such a group gets std-normalised advantages of about ±1: it trains on format only.
      if (batch.length === 0) batch = sampledAll.slice(-tr.promptsPerStep * tr.groupSize);
    }
    return { batch, sampledAll, tries };
  }

  /** The probe plan of the preset: its views, with the exact KL where its config asks. */
  get plan(): ProbePlan {
    return { ...this.views, exact: this.config.algorithm.kl === 'exact' };
  }

  /** The diagnostics' plan: every view, with the exact KL (diagnostics.ts). */
  get diagnosticsPlan(): ProbePlan {
    return { views: ['blind', 'mild', 'perturbed'], perturbedSamples: Math.max(1, this.views.perturbedSamples), exact: true };
  }

  /**
   * 2. Probe views, one engine.score call for all of them. With the exact KL, the image view is scored too
   * and every view with its full distribution, and the rows KL(π_image ‖ π_view) are computed per token.
   * The diagnostics pass their own `rng`, so the training stream draws the same masks with or without them.
   */
  async probe(batch: Sampled[], plan: ProbePlan = this.plan, rng: Rng = this.position.rng.perturbation): Promise<Probes> {
    const tr = this.config.trainer;
    const { imageSize, channels, patchSize, vocabSize } = this.engine.config;
    const probes: SequenceInput[] = [];
    const slots: Array<{ rollout: number; view: ViewName }> = [];
    const addProbe = (rollout: number, view: ViewName, seq: SequenceInput) => {
      probes.push(seq);
      slots.push({ rollout, view });
    };
    batch.forEach((s, i) => {
      if (plan.exact) addProbe(i, 'image', sequenceOf(s));
      for (const view of plan.views) {
        if (view === 'blind') addProbe(i, view, sequenceOf(s, s.example.image, true));
        else if (view === 'mild') addProbe(i, view, sequenceOf(s, mildNoise(s.example.image, tr.mildSigma, rng)));
        else if (view === 'perturbed') {
          for (let m = 0; m < Math.max(1, plan.perturbedSamples); m++) {
            addProbe(i, view, sequenceOf(s, perturbPatches(s.example.image, imageSize, channels, patchSize, tr.patchDropProb, rng)));
          }
        }
      }
    });
    const logp: ProbeLogp[] = batch.map(() => ({}));
    const out: Probes = { logp };
    if (probes.length === 0) return out;
    const scored = await this.engine.score(probes, plan.exact ? { fullDistribution: true } : {});
    const full: Array<Partial<Record<ViewName, Float32Array[]>>> = batch.map(() => ({}));
    slots.forEach((slot, k) => {
      if (slot.view !== 'image') (logp[slot.rollout][slot.view] ??= []).push(scored.logp[k]);
      if (plan.exact) (full[slot.rollout][slot.view] ??= []).push(scored.logProbs![k]);
    });
    if (plan.exact) {
      out.entropy = batch.map(() => new Float32Array(0));
      slots.forEach((slot, k) => {
        if (slot.view === 'image') out.entropy![slot.rollout] = scored.entropy[k];
      });
      out.exact = full.map((f) => {
        const kl: ProbeKl = {};
        const image = f.image![0];
        for (const view of ['blind', 'mild', 'perturbed'] as const) {
          if (f[view]) kl[view] = f[view]!.map((rows) => exactKlRows(image, rows, vocabSize));
        }
        return kl;
      });
    }
    return out;
  }

  /**
   * The reference policy's log-prob of each response token (§5 `klCoef`): the engine is switched to the
   * reference weights for one score call and back (its optimizer state is untouched).
   */
  async referenceLogp(batch: Sampled[], reference: Uint8Array): Promise<Float32Array[]> {
    const current = this.engine.saveState().weights;
    this.engine.loadState({ weights: reference });
    try {
      return (await this.engine.score(batch.map((s) => sequenceOf(s)))).logp;
    } finally {
      this.engine.loadState({ weights: current });
    }
  }

  /** 3a. What the advantage estimators read (§1–§4): reward, group, and the log-probs of each view. */
  advantageInputs(step: number, batch: Sampled[], probes: Probes, views: ViewRequirements = this.views): RolloutInput[] {
    const rows = <T>(r: T[] | undefined): T | T[] | undefined => (r ? (views.perturbedSamples > 1 ? r.slice(0, views.perturbedSamples) : r[0]) : undefined);
    return batch.map((s, i) => {
      const p = probes.logp[i];
      const logp: RolloutInput['logp'] = { image: s.logp };
      const want = (v: ViewName) => views.views.includes(v);
      if (p.blind && want('blind')) logp.blind = p.blind[0];
      if (p.mild && want('mild')) logp.mild = p.mild[0];
      if (p.perturbed && want('perturbed')) logp.perturbed = rows(p.perturbed)!;
      // The ground-truth flags ride along for the controls (oracle, random); the estimators ignore them.
      const input: RolloutInput = { id: `${step}-${i}`, group: s.group, reward: s.reward, logp, labels: perceptualFlags(s.example.type, s.words) };
      const kl = probes.exact?.[i];
      if (kl) {
        const dependency: NonNullable<RolloutInput['dependency']> = {};
        if (kl.blind && want('blind')) dependency.blind = kl.blind[0];
        if (kl.mild && want('mild')) dependency.mild = kl.mild[0];
        if (kl.perturbed && want('perturbed')) dependency.perturbed = rows(kl.perturbed)!;
        input.dependency = dependency;
      }
      return input;
    });
  }

  /**
   * 3b. The policy update (§5) of step `step`: `miniBatches` optimizer steps over consecutive slices of whole
   * groups (PPO-style; from the second one on the ratio departs from 1 and the clip matters). Statistics
   * are token-weighted means.
   */
  async update(step: number, batch: Sampled[], adv: RolloutAdvantage[], refLogp?: Float32Array[]): Promise<StepStats> {
    const algo = this.config.algorithm;
    const { lr, lrWarmupSteps, groupSize: G, miniBatches } = this.config.trainer;
    // Linear learning-rate warm-up: the optimizer starts without moment estimates, and its first steps
    // would otherwise move every weight by about lr at once. The rate is a function of the step only.
    this.engine.setLearningRate(lr * Math.min(1, step / Math.max(1, lrWarmupSteps)));
    const sequences = batch.map((s) => sequenceOf(s));
    const advantages = adv.map((a) => Float32Array.from(a.tokenAdvantages));
    const oldLogp = batch.map((s) => s.logp);
    const groups = Math.max(1, Math.round(sequences.length / G));
    const parts = Math.max(1, Math.min(miniBatches, groups));
    const total = zeroStepStats();
    let tokens = 0;
    for (let p = 0; p < parts; p++) {
      const from = Math.round((p * groups) / parts) * G;
      const to = p === parts - 1 ? sequences.length : Math.round(((p + 1) * groups) / parts) * G;
      const seqs = sequences.slice(from, to);
      const st = await this.engine.policyStep(
        { sequences: seqs, advantages: advantages.slice(from, to), oldLogp: oldLogp.slice(from, to), ...(refLogp ? { refLogp: refLogp.slice(from, to) } : {}) },
        lossOptions(algo),
      );
      const n = seqs.reduce((a, q) => a + q.response.length, 0);
      tokens += n;
      for (const k of Object.keys(total) as Array<keyof StepStats>) total[k] += (k === 'gradNorm' ? 1 / parts : n) * st[k];
    }
    for (const k of Object.keys(total) as Array<keyof StepStats>) if (k !== 'gradNorm') total[k] /= Math.max(1, tokens);
    return total;
  }

  /** Draws `n` training examples from `stream` (data for a step's prompts, resample for DAPO's retries). */
  private drawExamples(n: number, stream: Rng): ShapesExample[] {
    const out: ShapesExample[] = [];
    for (let i = 0; i < n; i++) {
      out.push(this.task.example('train', stream.nextU32() >>> 1));
      this.position.cursor++;
    }
    return out;
  }

  /** Samples G rollouts for each example and scores them with the verifiable reward. */
  private async sampleGroups(examples: ShapesExample[]): Promise<Sampled[]> {
    const tr = this.config.trainer;
    const G = tr.groupSize;
    const images: Float32Array[] = [];
    const prompts: number[][] = [];
    for (const ex of examples) {
      for (let k = 0; k < G; k++) {
        images.push(ex.image);
        prompts.push(ex.prompt);
      }
    }
    const tokenizer = this.task.tokenizer;
    const res = await this.engine.sample({
      images,
      prompts,
      maxNewTokens: tr.maxNewTokens,
      temperature: tr.temperature,
      topP: tr.topP,
      stopToken: tokenizer.eos,
      random: this.position.rng.sampling.uniform(),
    });
    return res.tokens.map((tokens, i) => {
      const example = examples[Math.floor(i / G)];
      const words = tokenizer.decode(tokens);
      const r = scoreResponse(words, example.answer);
      return { example, group: example.id, tokens, words, logp: res.logp[i], reward: r.reward, correct: r.correct, formatOk: r.formatOk };
    });
  }
}

/** §5's loss options of a configuration. */
export function lossOptions(algo: RunConfig['algorithm']): PolicyLossOptions {
  return { clipLow: algo.clipLow, clipHigh: algo.clipHigh, dualClip: algo.dualClip, sampledNllCoef: algo.sampledNllCoef, entropyBonus: algo.entropyBonus, klCoef: algo.klCoef };
}

/** The rollout as a sequence to score or train on; `image` replaced for a probe view, `blind` for the blind one. */
function sequenceOf(s: Sampled, image = s.example.image, blind = false): SequenceInput {
  return { image, prompt: s.example.prompt, response: s.tokens, ...(blind ? { blind: true } : {}) };
}
