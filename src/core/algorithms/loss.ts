/**
 * §5 The policy loss (DAPO-style clipped surrogate) as reference math the engine's loss graph is checked
 * against, and DAPO's dynamic-sampling group filter.
 */
import type { AlgorithmConfig } from './config';
import { K3_LOG_RATIO_CLAMP, K3_MAX, k3 } from './kl';
import type { Row } from './types';

export interface PolicyLossInput {
  /** Per rollout, one log-prob per valid response token under the policy being trained. */
  logpNew: readonly Row[];
  /** The same tokens under π_old (the rollout's `logp.image`). */
  logpOld: readonly Row[];
  /** Ã_{i,t}, as computed by `computeAdvantages` (a VPPO-masked token has 0). */
  advantages: readonly Row[];
  /** Under the reference policy, for the KL term (omit when klCoef = 0). */
  logpRef?: readonly Row[];
  /**
   * Per token, the full-vocabulary entropy H(π_new(·|s_t)), for the value of the entropy bonus (omit when
   * entropyBonus = 0). Its gradient runs through the whole distribution, not logp_new, so gradLogpNew
   * does not include it; the engine's graph differentiates it.
   */
  entropy?: readonly Row[];
}

export type PolicyLossOptions = Pick<AlgorithmConfig, 'clipLow' | 'clipHigh' | 'dualClip' | 'sampledNllCoef' | 'entropyBonus' | 'klCoef'>;

export interface PolicyLossResult {
  /** pgLoss + sampledNllCoef · entropyLoss + klCoef · klLoss − entropyBonus · mean H (when entropy is given). */
  loss: number;
  pgLoss: number;
  /** mean(−logp_new) over valid tokens (the sampled entropy estimate). */
  entropyLoss: number;
  /** mean k3(logp_new, logp_ref) over valid tokens; 0 without a reference. */
  klLoss: number;
  /** Fraction of tokens where the clipped term was the larger (pg2 > pg1), as verl's pg_clipfrac. */
  clipFraction: number;
  /** Fraction of tokens where the dual clip bound (Ã < 0) was taken, as verl's pg_clipfrac_lower. */
  dualClipFraction: number;
  /** mean(logp_old − logp_new), as verl's ppo_kl. */
  approxKl: number;
  /** The number of valid tokens N the means run over. */
  tokens: number;
  /** ∂loss/∂logp_new per token (zero where a clip or clamp holds the term constant). */
  gradLogpNew: number[][];
}

/**
 * Per token, with r = exp(logp_new − logp_old):
 *   pg1 = −Ã r,  pg2 = −Ã clip(r, 1 − ε_low, 1 + ε_high),  pg = max(pg1, pg2),
 *   and for Ã < 0 the dual clip pg = min(pg, −C · Ã).
 * Token-mean over all N valid tokens of the batch (a masked token adds 0 but counts):
 *   loss = Σ pg / N + c_nll · Σ(−logp_new) / N + c_kl · Σ k3(logp_new, logp_ref) / N − c_H · Σ H / N.
 */
export function policyLossReference(input: PolicyLossInput, options: PolicyLossOptions): PolicyLossResult {
  const { clipLow, clipHigh, dualClip: C, sampledNllCoef, entropyBonus, klCoef } = options;
  const { logpNew, logpOld, advantages, logpRef, entropy } = input;
  let N = 0;
  for (let i = 0; i < logpNew.length; i++) {
    const L = logpNew[i].length;
    if (logpOld[i].length !== L || advantages[i].length !== L || (logpRef && logpRef[i].length !== L) || (entropy && entropy[i].length !== L)) {
      throw new RangeError(`policyLossReference: rollout ${i} has rows of different lengths`);
    }
    N += L;
  }
  let pgSum = 0;
  let entSum = 0;
  let klSum = 0;
  let hSum = 0;
  let clipped = 0;
  let dualClipped = 0;
  let logRatioSum = 0;
  const gradLogpNew: number[][] = [];
  const inv = N > 0 ? 1 / N : 0;
  for (let i = 0; i < logpNew.length; i++) {
    const grad = new Array<number>(logpNew[i].length);
    for (let t = 0; t < logpNew[i].length; t++) {
      const a = advantages[i][t];
      const lpNew = logpNew[i][t];
      const r = Math.exp(lpNew - logpOld[i][t]);
      const pg1 = -a * r;
      const pg2 = -a * Math.min(Math.max(r, 1 - clipLow), 1 + clipHigh);
      let pg = Math.max(pg1, pg2);
      let g = pg2 > pg1 ? 0 : -a * r; // ∂pg/∂logp_new
      if (pg2 > pg1) clipped++;
      if (a < 0 && pg > -C * a) {
        pg = -C * a;
        g = 0;
        dualClipped++;
      }
      pgSum += pg;
      entSum -= lpNew;
      logRatioSum += logpOld[i][t] - lpNew;
      g -= sampledNllCoef;
      if (entropy) hSum += entropy[i][t];
      if (logpRef) {
        const d = logpRef[i][t] - lpNew;
        const kl = k3(lpNew, logpRef[i][t]);
        klSum += kl;
        const inside = Math.abs(d) < K3_LOG_RATIO_CLAMP && kl < K3_MAX;
        if (inside) g += klCoef * (1 - Math.exp(d));
      }
      grad[t] = g * inv;
    }
    gradLogpNew.push(grad);
  }
  const pgLoss = pgSum * inv;
  const entropyLoss = entSum * inv;
  const klLoss = klSum * inv;
  return {
    loss: pgLoss + sampledNllCoef * entropyLoss + klCoef * klLoss - entropyBonus * hSum * inv,
    pgLoss,
    entropyLoss,
    klLoss,
    clipFraction: clipped * inv,
    dualClipFraction: dualClipped * inv,
    approxKl: logRatioSum * inv,
    tokens: N,
    gradLogpNew,
  };
}

export interface DynamicSamplingOptions<T> {
  /** Accuracy of one rollout in [0, 1]; default: `correct` (as 0/1), else `accuracy`, else `reward`. */
  accuracy?: (rollout: T) => number;
  accuracyLow?: number;
  accuracyHigh?: number;
}

export interface DynamicSamplingResult<T> {
  /** The rollouts of the kept groups, in their original order. */
  kept: T[];
  keptGroups: string[];
  droppedGroups: string[];
  /** Mean accuracy per group. */
  groupAccuracy: Map<string, number>;
}

function defaultAccuracy(r: unknown): number {
  const x = r as { correct?: boolean; accuracy?: number; reward?: number };
  if (typeof x.correct === 'boolean') return x.correct ? 1 : 0;
  if (typeof x.accuracy === 'number') return x.accuracy;
  return x.reward ?? NaN;
}

/**
 * DAPO dynamic sampling: keep only the groups whose mean accuracy lies strictly inside
 * (accuracyLow, accuracyHigh), default (0.01, 0.99) — the groups where every rollout was right, or every
 * one wrong, carry A_i = 0 and no gradient. (Regenerating up to `maxResampleTries` is the trainer's loop.)
 */
export function filterGroupsForDynamicSampling<T extends { group: string }>(
  rollouts: readonly T[],
  options: DynamicSamplingOptions<T> = {},
): DynamicSamplingResult<T> {
  const accuracy = options.accuracy ?? defaultAccuracy;
  const low = options.accuracyLow ?? 0.01;
  const high = options.accuracyHigh ?? 0.99;
  const sums = new Map<string, { sum: number; n: number }>();
  for (const r of rollouts) {
    const s = sums.get(r.group) ?? { sum: 0, n: 0 };
    s.sum += accuracy(r);
    s.n += 1;
    sums.set(r.group, s);
  }
  const groupAccuracy = new Map<string, number>();
  const keptGroups: string[] = [];
  const droppedGroups: string[] = [];
  for (const [g, { sum, n }] of sums) {
    const acc = sum / n;
    groupAccuracy.set(g, acc);
    (acc > low && acc < high ? keptGroups : droppedGroups).push(g);
  }
  const keep = new Set(keptGroups);
  return { kept: rollouts.filter((r) => keep.has(r.group)), keptGroups, droppedGroups, groupAccuracy };
}
