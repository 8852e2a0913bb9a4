/**
 * The stages of one training step (ALGORITHMS.md): P prompts × G rollouts sampled from the policy and
 * scored by the verifiable reward, with DAPO dynamic sampling where the preset says; the probe views the
 * preset needs, scored in ONE engine.score call; the advantages' inputs; one clipped-surrogate update
 * in `miniBatches` optimizer steps. Every random draw comes from the run's streams (open.ts), so a resumed
 * run draws what the straight run would have drawn.
 */
import { filterGroupsForDynamicSampling, viewsFor, type RolloutAdvantage, type RolloutInput, type ViewRequirements } from '../../core/algorithms';
import type { ViewName } from '../../core/run';
import { zeroStepStats, type PolicyEngine, type SequenceInput, type StepStats } from '../engine/types';
import { scoreResponse, type ShapesExample, type ShapesTask } from '../task/shapes';
import type { RunConfig } from './config';
import type { Position } from './open';
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
    return { batch, sampledAll, tries };
  }

  /** 2. Probe views, one engine.score call for all of them. */
  async probe(batch: Sampled[]): Promise<ProbeLogp[]> {
    const tr = this.config.trainer;
    const rng = this.position.rng.perturbation;
    const { imageSize, channels, patchSize } = this.engine.config;
    const probes: SequenceInput[] = [];
    const slots: Array<{ rollout: number; view: ViewName }> = [];
    const addProbe = (rollout: number, view: ViewName, seq: SequenceInput) => {
      probes.push(seq);
      slots.push({ rollout, view });
    };
    batch.forEach((s, i) => {
      for (const view of this.views.views) {
        if (view === 'blind') addProbe(i, view, sequenceOf(s, s.example.image, true));
        else if (view === 'mild') addProbe(i, view, sequenceOf(s, mildNoise(s.example.image, tr.mildSigma, rng)));
        else if (view === 'perturbed') {
          for (let m = 0; m < Math.max(1, this.views.perturbedSamples); m++) {
            addProbe(i, view, sequenceOf(s, perturbPatches(s.example.image, imageSize, channels, patchSize, tr.patchDropProb, rng)));
          }
        }
      }
    });
    const probeLogp: ProbeLogp[] = batch.map(() => ({}));
    if (probes.length > 0) {
      const scored = await this.engine.score(probes);
      slots.forEach((slot, k) => {
        const rows = (probeLogp[slot.rollout][slot.view] ??= []);
        rows.push(scored.logp[k]);
      });
    }
    return probeLogp;
  }

  /** 3a. What the advantage estimators read (§1–§4): reward, group, and the log-probs of each view. */
  advantageInputs(step: number, batch: Sampled[], probes: ProbeLogp[]): RolloutInput[] {
    return batch.map((s, i) => {
      const p = probes[i];
      const logp: RolloutInput['logp'] = { image: s.logp };
      if (p.blind) logp.blind = p.blind[0];
      if (p.mild) logp.mild = p.mild[0];
      if (p.perturbed) logp.perturbed = this.views.perturbedSamples > 1 ? p.perturbed : p.perturbed[0];
      return { id: `${step}-${i}`, group: s.group, reward: s.reward, logp };
    });
  }

  /**
   * 3b. The policy update (§5) of step `step`: `miniBatches` optimizer steps over consecutive slices of whole
   * groups (PPO-style; from the second one on the ratio departs from 1 and the clip matters). Statistics
   * are token-weighted means.
   */
  async update(step: number, batch: Sampled[], adv: RolloutAdvantage[]): Promise<StepStats> {
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

  /** Draws `n` training examples from the data stream. */
  private drawExamples(n: number): ShapesExample[] {
    const out: ShapesExample[] = [];
    for (let i = 0; i < n; i++) {
      out.push(this.task.example('train', this.position.rng.data.nextU32() >>> 1));
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

/** The rollout as a sequence to score or train on; `image` replaced for a probe view, `blind` for the blind one. */
function sequenceOf(s: Sampled, image = s.example.image, blind = false): SequenceInput {
  return { image, prompt: s.example.prompt, response: s.tokens, ...(blind ? { blind: true } : {}) };
}
