/**
 * §2 VPPO: Token-level Gradient Filtering (TGF) and Trajectory-level Advantage Shaping (TAS).
 * S_{i,t} = k3(logp_image, logp_perturbed);  Ã_{i,t} = α_i · A_i · m_{i,t}.
 */
import type { AlgorithmConfig } from './config';
import { dependencyRow, memoised } from './dependency';
import { asFloat64, sortedCopy } from './stats';
import type { Estimator, RolloutAdvantage, RolloutInput, Row } from './types';

/** TAS: below this spread of S̄ over the batch every α_i = 1. */
export const TAS_SPREAD_EPS = 1e-6;
/** TAS: ε in β_max = β_min + (1 − β_min)/(μ + 1e-8). */
export const TAS_MU_EPS = 1e-8;

/**
 * TGF: k_i = ceil(k · L_i), at most L_i. The product is taken as the real number it stands for, so
 * floating-point noise does not add a token (0.07 · 100 = 7.000000000000001 in doubles: 7 tokens, not 8).
 */
export function tgfCount(k: number, L: number): number {
  return Math.min(L, Math.max(1, Math.ceil(k * L - 1e-9)));
}

/**
 * TGF mask: m_t = 1 for the k_i = ceil(k · L) tokens with the largest S_t, else 0. Ties go to the
 * earlier token (a stable sort by S descending). `sorted` is S in ascending order (made here when not given).
 */
export function tgfMask(S: Row, k: number, sorted: Row = sortedCopy(S)): Float64Array {
  const L = S.length;
  const k_i = tgfCount(k, L);
  // The k_i-th largest score is the cut: every token above it is kept, then tokens equal to it in order.
  const cut = sorted[L - k_i];
  const m = new Float64Array(L);
  let ties = k_i;
  for (let t = 0; t < L; t++) {
    if (S[t] > cut) {
      m[t] = 1;
      ties--;
    }
  }
  for (let t = 0; t < L && ties > 0; t++) {
    if (S[t] === cut) {
      m[t] = 1;
      ties--;
    }
  }
  return m;
}

/**
 * TAS trajectory weights from the mean dependency S̄_i of each rollout of the batch:
 *   gmin = min S̄, gmax = max S̄; if gmax − gmin ≤ 1e-6 every α_i = 1; otherwise
 *   n_i = clamp((S̄_i − gmin)/(gmax − gmin), 0, 1), μ = mean_i n_i,
 *   β_max = β_min + (1 − β_min)/(μ + 1e-8),  α_i = β_min + n_i (β_max − β_min)   (so mean α ≈ 1).
 */
export function tasWeights(Sbar: Row, betaMin: number): Float64Array {
  const n = Sbar.length;
  const alpha = new Float64Array(n).fill(1);
  let gmin = Infinity;
  let gmax = -Infinity;
  for (let i = 0; i < n; i++) {
    gmin = Math.min(gmin, Sbar[i]);
    gmax = Math.max(gmax, Sbar[i]);
  }
  if (!(gmax - gmin > TAS_SPREAD_EPS)) return alpha;
  const norm = new Float64Array(n);
  let mu = 0;
  for (let i = 0; i < n; i++) {
    norm[i] = Math.min(1, Math.max(0, (Sbar[i] - gmin) / (gmax - gmin)));
    mu += norm[i];
  }
  mu /= n;
  const betaMax = betaMin + (1 - betaMin) / (mu + TAS_MU_EPS);
  for (let i = 0; i < n; i++) alpha[i] = betaMin + norm[i] * (betaMax - betaMin);
  return alpha;
}

/**
 * VPPO over a step batch: S_{i,t} = k3(logp_image, logp_perturbed), m = TGF(S_i, k), α = TAS(S̄, β_min),
 * Ã_{i,t} = α_i · A_i · m_{i,t}.
 */
export function vppoReshape(config: AlgorithmConfig, rollouts: readonly RolloutInput[], A: Float64Array): RolloutAdvantage[] {
  const S = rollouts.map((r) => dependencyRow(config, r, 'perturbed'));
  const Sbar = S.map((row) => {
    let s = 0;
    for (let t = 0; t < row.length; t++) s += row[t];
    return s / row.length;
  });
  const alpha = tasWeights(Sbar, config.betaMin);
  return rollouts.map((r, i) => {
    const m = tgfMask(S[i], config.topK, memoised(r, 'sorted S', () => sortedCopy(S[i])));
    const scale = alpha[i] * A[i];
    const tokenAdvantages = new Float64Array(m.length);
    for (let t = 0; t < m.length; t++) tokenAdvantages[t] = scale * m[t];
    return {
      id: r.id,
      advantage: A[i],
      tokenAdvantages,
      scores: { S: asFloat64(S[i]) },
      mask: m,
      alpha: alpha[i],
    };
  });
}

export const vppoEstimator: Estimator = {
  description: 'VPPO: top-k dependency token mask and batch-normalised trajectory weight (ALGORITHMS.md §2)',
  views: () => ({ views: ['image', 'perturbed'], perturbedSamples: 1 }),
  reshape: vppoReshape,
};
