/**
 * The shapes the estimators read and write, one entry per valid response token: they read plain or typed arrays
 * and write Float64Array rows (off the JS heap: a 1,000-rollout what-if allocates no garbage-collected arrays);
 * `toNumbers` makes the plain arrays JSON needs.
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
  /**
   * Where the caller reshapes the same, unchanging input many times (the what-if panel, on every change of a
   * control), a place for the estimators to keep what depends on the input alone (PRPO-R's ĝ and û per floor and
   * sorted U, PGPO's normalised score, VPPO's sorted scores).
   * Absent, nothing is kept.
   */
  memo?: Map<string, Float64Array>;
}

export interface RolloutAdvantage {
  id: string;
  /** Outcome advantage A_i (§1). */
  advantage: number;
  /** Final per-token advantage Ã_{i,t} (VPPO's mask and α included). */
  tokenAdvantages: Float64Array;
  /**
   * Dependency scores: S (VPPO/PGPO, PRPO-R multimask: mean over masks), G and U (PRPO-R), rvd (PRPO-R). A score
   * read from the input (config.kl "exact") may be the input's own row: read, never write.
   */
  scores?: { S?: Float64Array; G?: Float64Array; U?: Float64Array; rvd?: Float64Array };
  /** Reshaping weight per token: PGPO ω̃_t, PRPO-R w_t. */
  weights?: Float64Array;
  /** VPPO's token mask m_{i,t} (0 or 1). */
  mask?: Float64Array;
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
