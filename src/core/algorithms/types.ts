/**
 * The shapes the estimators read and write: plain arrays, one entry per valid response token.
 */
import type { ViewName } from '../run/schema';
import type { AlgorithmConfig } from './config';

/** A per-token row: a plain array or a typed array. */
export type Row = ArrayLike<number>;

export interface RolloutInput {
  id: string;
  /** The GRPO group (the rollouts of one prompt). */
  group: string;
  reward: number;
  /**
   * Teacher-forced log-probs of the sampled response under each view, one per response token.
   * `perturbed` is one row, or M rows (one per random mask) for PRPO-R's `multimask` RVD.
   */
  logp: { image: Row; blind?: Row; perturbed?: Row | Row[]; mild?: Row };
  /**
   * Precomputed per-token KL(π_image ‖ π_view) for each view, read instead of k3 of `logp` when
   * `config.kl === 'exact'` (the full-vocabulary KL, see `exactKl`).
   */
  dependency?: { blind?: Row; perturbed?: Row | Row[]; mild?: Row };
  /**
   * Ground-truth perceptual flags per token (1: the image decides it), where the task knows them (the
   * built-in one): read only by the study's controls `oracle` and `random` (controls.ts).
   */
  labels?: Row;
}

export interface RolloutAdvantage {
  id: string;
  /** Outcome advantage A_i (§1). */
  advantage: number;
  /** Final per-token advantage Ã_{i,t} (VPPO's mask and α included). */
  tokenAdvantages: number[];
  /** Dependency scores: S (VPPO/PGPO, PRPO-R multimask: mean over masks), G and U (PRPO-R), rvd (PRPO-R). */
  scores?: { S?: number[]; G?: number[]; U?: number[]; rvd?: number[] };
  /** Reshaping weight per token: PGPO ω̃_t, PRPO-R w_t. */
  weights?: number[];
  /** VPPO's token mask m_{i,t} (0 or 1). */
  mask?: number[];
  /** VPPO's trajectory weight α_i. */
  alpha?: number;
  /** PRPO-R with a quantile threshold: the τ used for this response. */
  tau?: number;
}

/** Which probe views the trainer must score for a configuration (`image` is always first). */
export interface ViewRequirements {
  views: ViewName[];
  /** How many perturbed masks per rollout (0 when `perturbed` is not needed). */
  perturbedSamples: number;
}

/**
 * An advantage estimator, registered by name (like verl's `register_adv_est`). It receives the whole
 * step batch, already checked (every view it declared is present, every row has L_i ≥ 1 finite
 * entries), and the outcome advantages A_i of §1 in the same order.
 */
export interface Estimator {
  /** One line for help texts and the UI. */
  description: string;
  views(config: AlgorithmConfig): ViewRequirements;
  reshape(config: AlgorithmConfig, rollouts: readonly RolloutInput[], A: Float64Array): RolloutAdvantage[];
}
