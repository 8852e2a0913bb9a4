/**
 * What a training step leaves in the run directory: one record per rollout (with its image written once
 * per run), and the step's metrics row, dependency statistics included.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { advantageJson, auroc, minmaxLog1p, type RolloutAdvantage, type RolloutInput } from '../../core/algorithms';
import { encodePng, runFiles, stepName, type MetricsRow, type RolloutRecord, type RunWriter } from '../../core/run';
import type { StepStats } from '../engine/types';
import { perceptualFlags } from '../task/shapes';
import type { SampledBatch, Sampled } from './step';

/** A path inside the run directory as records and events spell it: relative, with '/'. */
export function runRelative(runDir: string, path: string): string {
  return relative(runDir, path).split(sep).join('/');
}

export class RolloutRecords {
  /** Image files already in the run's images/ folder. */
  private readonly written = new Set<string>();

  constructor(
    private readonly writer: RunWriter,
    private readonly imageSize: number,
  ) {
    const images = runFiles.images(writer.dir);
    for (const f of existsSync(images) ? readdirSync(images) : []) this.written.add(f);
  }

  /** The records of step `step`'s rollouts, appended to its rollouts file. */
  append(step: number, batch: Sampled[], inputs: RolloutInput[], adv: RolloutAdvantage[]): RolloutRecord[] {
    const records = batch.map((s, i) => this.record(step, i, s, inputs[i], adv[i]));
    this.writer.appendRollouts(step, records);
    return records;
  }

  private image(s: Sampled): string {
    const name = `${s.example.id}.png`;
    if (!this.written.has(name)) {
      this.writer.writeImage(name, encodePng(s.example.image, this.imageSize, this.imageSize, 3));
      this.written.add(name);
    }
    return runRelative(this.writer.dir, join(runFiles.images(this.writer.dir), name));
  }

  private record(step: number, i: number, s: Sampled, input: RolloutInput, a: RolloutAdvantage): RolloutRecord {
    const logp: RolloutRecord['logp'] = { image: Array.from(input.logp.image) };
    if (input.logp.blind) logp.blind = Array.from(input.logp.blind);
    if (input.logp.mild) logp.mild = Array.from(input.logp.mild);
    if (input.logp.perturbed) {
      const rows = Array.isArray(input.logp.perturbed) ? (input.logp.perturbed as ArrayLike<number>[]) : [input.logp.perturbed as ArrayLike<number>];
      logp.perturbed = Array.from(rows[0]);
      if (rows.length > 1) logp.perturbedMasks = rows.map((r) => Array.from(r));
    }
    // Token texts carry the space before them, so they concatenate to the response (schema.ts) and read as words.
    const tokens = s.words.map((w, t) => (t === 0 ? w : ` ${w}`));
    const json = advantageJson(a);
    const rec: RolloutRecord = {
      id: `${stepName(step)}-${String(i).padStart(3, '0')}`,
      step,
      group: s.group,
      prompt: s.example.question.join(' '),
      image: this.image(s),
      answer: s.example.answer,
      response: tokens.join(''),
      reward: s.reward,
      correct: s.correct,
      advantage: a.advantage,
      tokens,
      tokenIds: s.tokens,
      logp,
      tokenAdvantages: json.tokenAdvantages,
      perceptual: perceptualFlags(s.example.type, s.words),
    };
    if (a.alpha !== undefined) rec.alpha = a.alpha;
    if (json.scores) rec.scores = json.scores;
    if (json.weights) rec.weights = json.weights;
    if (json.mask) rec.mask = json.mask;
    return rec;
  }
}

/** Stage timings of a step, in ms. */
export interface StepTimes {
  sample: number;
  probe: number;
  update: number;
}

/** The metrics row of step `step` (validation and the step's total time are added by the caller). */
export function metricsRow(step: number, sampled: SampledBatch, groupSize: number, stats: StepStats, records: RolloutRecord[], tau: number, ms: StepTimes): MetricsRow {
  const { batch, sampledAll, tries } = sampled;
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return {
    step,
    time: Date.now() / 1000,
    reward: mean(sampledAll.map((s) => s.reward)),
    accuracy: mean(sampledAll.map((s) => (s.correct ? 1 : 0))),
    formatRate: mean(sampledAll.map((s) => (s.formatOk ? 1 : 0))),
    trainReward: mean(batch.map((s) => s.reward)),
    groupsTrained: batch.length / groupSize,
    groupsSampled: sampledAll.length / groupSize,
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
    ...dependencyMetrics(records, tau),
    timeSampleMs: ms.sample,
    timeProbeMs: ms.probe,
    timeUpdateMs: ms.update,
  };
}

/**
 * Dependency statistics of the step: AUROC of each score against the ground-truth perceptual flags, and
 * sparsity — the share of tokens the preset's dependency marks perceptual (PRPO-R: RVD above τ; PGPO and
 * VPPO: minmax(log1p S) above τ, the PGPO gate's "boost" side).
 */
export function dependencyMetrics(records: RolloutRecord[], tau: number): Partial<MetricsRow> {
  const out: Partial<MetricsRow> = {};
  const labels = records.flatMap((r) => r.perceptual ?? []);
  const keys = { S: 'aurocS', G: 'aurocG', U: 'aurocU', rvd: 'aurocRvd' } as const;
  for (const [k, metric] of Object.entries(keys) as Array<[keyof typeof keys, string]>) {
    if (!records.every((r) => r.scores?.[k])) continue;
    const v = auroc(records.flatMap((r) => r.scores![k]!), labels);
    if (Number.isFinite(v)) out[metric] = v;
  }
  let marked = 0;
  let total = 0;
  for (const r of records) {
    const s = r.scores;
    const primary = s?.rvd ?? (s?.S ? minmaxLog1p(s.S) : s?.G ? minmaxLog1p(s.G) : undefined);
    if (!primary) continue;
    for (const x of primary) if (x > tau) marked++;
    total += primary.length;
  }
  if (total > 0) out.dependencySparsity = marked / total;
  out.perceptualShare = labels.length ? labels.reduce((a, b) => a + b, 0) / labels.length : undefined;
  return out;
}
