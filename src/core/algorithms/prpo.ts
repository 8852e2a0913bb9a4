/**
 * §4 PRPO-R — our reconstruction of PRPO (only its abstract is public): Robust Visual Dependency (RVD)
 * marks tokens that are visually grounded and perturbation-stable; Perceptual Advantage Reshaping (PAR)
 * amplifies them and leaves every other token's advantage as it was.
 *   G_t = k3(logp_image, logp_blind)   grounding
 *   U_t = k3(logp_image, logp_mild)    instability
 *   Ã_{i,t} = A_i · w_t
 */
import type { AlgorithmConfig } from './config';
import { dependencyRow, memoised, perturbedDependencyRows } from './dependency';
import { conserveMass, minmaxLog1p, scaleAdvantage } from './pgpo';
import { asFloat64, minmax, quantile, quantileSorted, sortedCopy } from './stats';
import type { Estimator, RolloutAdvantage, RolloutInput, Row } from './types';

/**
 * `soft`: RVD_t = ĝ_t · exp(−λ · û_t), ĝ = minmax_f(log1p G) with f = G₀ (groundingFloor), û = minmax_f(log1p U)
 * with f = U₀ (instabilityFloor). Floors of 0 give the plain minmax.
 */
export function rvdSoft(G: Row, U: Row, lambda: number, groundingFloor = 0, instabilityFloor = 0): Float64Array {
  return softFrom(minmaxLog1p(G, groundingFloor), minmaxLog1p(U, instabilityFloor), lambda);
}

/** RVD_t = ĝ_t · exp(−λ · û_t), into a new row (ĝ and û may come from the rollout's memo). */
function softFrom(g: Row, u: Row, lambda: number): Float64Array {
  const out = new Float64Array(g.length);
  for (let t = 0; t < g.length; t++) out[t] = g[t] * Math.exp(-lambda * u[t]);
  return out;
}

/**
 * `gate`: RVD_t = ĝ_t · [U_t ≤ quantile_q(U over the response)], linear interpolation; ĝ = minmax_f(log1p G)
 * with f = G₀ (groundingFloor). (The instability floor scales û, which the gate does not use.)
 */
export function rvdGate(G: Row, U: Row, q: number, groundingFloor = 0): Float64Array {
  return gateFrom(minmaxLog1p(G, groundingFloor), U, q);
}

/** RVD_t = ĝ_t · [U_t ≤ quantile_q(U)], into a new row; `sortedU` is U in ascending order. */
function gateFrom(ghat: Row, U: Row, q: number, sortedU: Row = sortedCopy(U)): Float64Array {
  const g = Float64Array.from(ghat);
  const uq = quantileSorted(sortedU, q);
  for (let t = 0; t < g.length; t++) if (!(U[t] <= uq)) g[t] = 0;
  return g;
}

/**
 * `multimask`: from the scores S^(m)_t of M perturbed masks, RVD = minmax(mean_M S − κ · std_M S),
 * std unbiased (M − 1). Returns the RVD and the mean score over masks.
 */
export function rvdMultimask(S: readonly Row[], kappa: number): { rvd: Float64Array; meanS: Float64Array } {
  const M = S.length;
  const L = S[0].length;
  const meanS = new Float64Array(L);
  const robust = new Float64Array(L);
  for (let t = 0; t < L; t++) {
    let mu = 0;
    for (let m = 0; m < M; m++) mu += S[m][t];
    mu /= M;
    let ss = 0;
    for (let m = 0; m < M; m++) ss += (S[m][t] - mu) ** 2;
    meanS[t] = mu;
    robust[t] = mu - kappa * Math.sqrt(ss / (M - 1));
  }
  return { rvd: minmax(robust), meanS };
}

/**
 * PAR: w_t = 1 + β · clip((RVD_t − τ)/(1 − τ), 0, 1) — weights in [1, 1 + β]; a token with RVD_t ≤ τ keeps
 * exactly w_t = 1 (no suppression).
 */
export function parWeights(rvd: Row, tau: number, beta: number): Float64Array {
  const w = new Float64Array(rvd.length);
  for (let t = 0; t < rvd.length; t++) {
    const x = rvd[t] > tau ? (rvd[t] - tau) / (1 - tau) : 0;
    w[t] = 1 + beta * (x > 1 ? 1 : x);
  }
  return w;
}

/**
 * PRPO-R per rollout: RVD_t by `config.rvd` (soft, gate or multimask; soft and gate with the grounding and
 * instability floors), τ = config.tau or the q-quantile of RVD, w_t = 1 + β · clip((RVD_t − τ)/(1 − τ), 0, 1)
 * (rescaled to Σ w = L when massConserving), Ã_{i,t} = A_i · w_t.
 */
export function prpoReshape(config: AlgorithmConfig, rollouts: readonly RolloutInput[], A: Float64Array): RolloutAdvantage[] {
  return rollouts.map((r, i) => {
    const scores: NonNullable<RolloutAdvantage['scores']> = {};
    let rvd: Float64Array;
    if (config.rvd === 'multimask') {
      const multi = rvdMultimask(perturbedDependencyRows(config, r), config.kappa);
      rvd = multi.rvd;
      scores.S = multi.meanS;
    } else {
      const G = dependencyRow(config, r, 'blind');
      const U = dependencyRow(config, r, 'mild');
      // ĝ, û and the sorted U depend on the input and the floors alone (memoised where the caller asks).
      const ghat = memoised(r, `ĝ|${config.groundingFloor}`, () => minmaxLog1p(G, config.groundingFloor));
      rvd =
        config.rvd === 'gate'
          ? gateFrom(ghat, U, config.quantile, memoised(r, 'sorted U', () => sortedCopy(U)))
          : softFrom(ghat, memoised(r, `û|${config.instabilityFloor}`, () => minmaxLog1p(U, config.instabilityFloor)), config.lambda);
      scores.G = asFloat64(G);
      scores.U = asFloat64(U);
    }
    scores.rvd = rvd;
    const tau = config.threshold ? quantile(rvd, config.threshold.quantile) : config.tau;
    let w = parWeights(rvd, tau, config.beta);
    if (config.massConserving) w = conserveMass(w);
    const out: RolloutAdvantage = { id: r.id, advantage: A[i], tokenAdvantages: scaleAdvantage(A[i], w), scores, weights: w };
    if (config.threshold) out.tau = tau;
    return out;
  });
}

export const prpoEstimator: Estimator = {
  description: 'PRPO-R (reconstruction): robust visual dependency and amplify-only advantage reshaping (ALGORITHMS.md §4)',
  views: (config) =>
    config.rvd === 'multimask'
      ? { views: ['image', 'perturbed'], perturbedSamples: config.masks }
      : { views: ['image', 'blind', 'mild'], perturbedSamples: 0 },
  reshape: prpoReshape,
};
