/**
 * §3 PGPO: threshold-gated, mass-conserving reshaping of the outcome advantage.
 * S_t = k3(logp_image, logp_blind);  Ã_{i,t} = A_i · ω̃_t.
 */
import type { AlgorithmConfig } from './config';
import { dependencyRow, memoised } from './dependency';
import { asFloat64, minmaxFloor } from './stats';
import type { Estimator, RolloutAdvantage, RolloutInput, Row } from './types';

/** ε of the gate's denominators. */
export const GATE_EPS = 1e-6;
/** Below this total weight, mass conservation gives every token weight 1. */
export const MASS_EPS = 1e-6;

/**
 * Log-compressed, per-response normalised dependency: I_t = minmax_f(log(1 + S_t)), with PRPO-R's floor f in
 * nats (PGPO: f = 0, the plain minmax).
 */
export function minmaxLog1p(S: Row, floor = 0): Float64Array {
  const logS = new Float64Array(S.length);
  for (let t = 0; t < S.length; t++) logS[t] = Math.log1p(S[t]);
  return minmaxFloor(logS, floor);
}

/**
 * The gate: ω_t = I_t / (τ + ε) if I_t < τ, else ω_t = 1 + β (I_t − τ)/(1 − τ + ε); ε = 1e-6.
 * Suppresses tokens below the threshold, boosts those above.
 */
export function pgpoGate(I: Row, tau: number, beta: number): Float64Array {
  const omega = new Float64Array(I.length);
  for (let t = 0; t < I.length; t++) {
    omega[t] = I[t] < tau ? I[t] / (tau + GATE_EPS) : 1 + (beta * (I[t] - tau)) / (1 - tau + GATE_EPS);
  }
  return omega;
}

/**
 * Mass conservation: ω̃_t = ω_t · L / Σ_j ω_j, so Σ_t ω̃_t = L; if Σ_j ω_j ≤ 1e-6, every ω̃_t = 1.
 * (Also PRPO-R's `massConserving` option.)
 */
export function conserveMass(omega: Row): Float64Array {
  const L = omega.length;
  let total = 0;
  for (let t = 0; t < L; t++) total += omega[t];
  const out = new Float64Array(L);
  if (total <= MASS_EPS) return out.fill(1);
  const scale = L / total;
  for (let t = 0; t < L; t++) out[t] = omega[t] * scale;
  return out;
}

/** Ã_t = A_i · w_t. */
export function scaleAdvantage(A_i: number, w: Row): Float64Array {
  const out = new Float64Array(w.length);
  for (let t = 0; t < w.length; t++) out[t] = A_i * w[t];
  return out;
}

/**
 * PGPO per rollout: S_t = k3(logp_image, logp_blind), I_t = minmax(log(1 + S_t)), ω_t = gate(I_t; τ, β),
 * ω̃_t = ω_t · L / Σ_j ω_j, Ã_{i,t} = A_i · ω̃_t.
 */
export function pgpoReshape(config: AlgorithmConfig, rollouts: readonly RolloutInput[], A: Float64Array): RolloutAdvantage[] {
  return rollouts.map((r, i) => {
    const S = dependencyRow(config, r, 'blind');
    const omegaTilde = conserveMass(pgpoGate(memoised(r, 'Î', () => minmaxLog1p(S)), config.tau, config.beta));
    return {
      id: r.id,
      advantage: A[i],
      tokenAdvantages: scaleAdvantage(A[i], omegaTilde),
      scores: { S: asFloat64(S) },
      weights: omegaTilde,
    };
  });
}

export const pgpoEstimator: Estimator = {
  description: 'PGPO: blind-probe dependency, threshold gate, mass conservation (ALGORITHMS.md §3)',
  views: () => ({ views: ['image', 'blind'], perturbedSamples: 0 }),
  reshape: pgpoReshape,
};
