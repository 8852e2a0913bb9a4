/**
 * §1 The outcome advantage (GRPO; Dr.GRPO with `normalizeByStd: false`).
 */
import type { Estimator, RolloutAdvantage, RolloutInput } from './types';

/** ε added to the group std. */
export const GRPO_EPS = 1e-6;

/**
 * A_i = (R_i − mean_{j∈g(i)} R_j) / (std_{j∈g(i)} R_j + 1e-6), std unbiased (N − 1);
 * `normalizeByStd = false` gives A_i = R_i − mean (Dr.GRPO). A group of one rollout uses mean 0 and
 * std 1 (verl's convention), so its A_i = R_i / (1 + 1e-6) (Dr.GRPO: R_i).
 */
export function outcomeAdvantages(
  rewards: ArrayLike<number>,
  groups: ArrayLike<string>,
  normalizeByStd = true,
): Float64Array {
  const members = new Map<string, number[]>();
  for (let i = 0; i < rewards.length; i++) {
    const g = members.get(groups[i]);
    if (g) g.push(i);
    else members.set(groups[i], [i]);
  }
  const A = new Float64Array(rewards.length);
  for (const idx of members.values()) {
    const N = idx.length;
    let mu = 0;
    let sigma = 1;
    if (N > 1) {
      for (const i of idx) mu += rewards[i];
      mu /= N;
      let ss = 0;
      for (const i of idx) ss += (rewards[i] - mu) ** 2;
      sigma = Math.sqrt(ss / (N - 1));
    }
    for (const i of idx) A[i] = normalizeByStd ? (rewards[i] - mu) / (sigma + GRPO_EPS) : rewards[i] - mu;
  }
  return A;
}

/** Every token carries A_i: Ã_{i,t} = A_i. */
export function constantTokenAdvantages(A_i: number, L: number): Float64Array {
  return new Float64Array(L).fill(A_i);
}

/** `grpo` and `dapo`: the outcome advantage on every token, no probe views. */
export const outcomeEstimator: Estimator = {
  description: 'outcome advantage on every token (ALGORITHMS.md §1)',
  views: () => ({ views: ['image'], perturbedSamples: 0 }),
  reshape: (_config, rollouts: readonly RolloutInput[], A: Float64Array): RolloutAdvantage[] =>
    rollouts.map((r, i) => ({ id: r.id, advantage: A[i], tokenAdvantages: constantTokenAdvantages(A[i], r.logp.image.length) })),
};
