/**
 * The entry points the trainer and the CLI call: which views to score, and the per-token advantages of
 * a step batch.
 */
import type { AlgorithmConfig } from './config';
import { outcomeAdvantages } from './outcome';
import { getEstimator } from './registry';
import { toNumbers } from './stats';
import type { RolloutAdvantage, RolloutInput, ViewRequirements } from './types';
import { InputError, checkRollouts } from './validate';

/** The probe views the trainer must score for `config` (`image` first) and how many perturbed masks. */
export function viewsFor(config: AlgorithmConfig): ViewRequirements {
  return getEstimator(config.estimator).views(config);
}

/**
 * Outcome advantages A_i (§1) over the groups of the batch, then the configured estimator's per-token
 * advantages Ã_{i,t}. The batch is checked first (InputError names the rollout and field). Results are
 * in the order of `rollouts`; statistics that span the batch (VPPO's TAS) use all of it.
 */
export function computeAdvantages(config: AlgorithmConfig, rollouts: readonly RolloutInput[]): RolloutAdvantage[] {
  const estimator = getEstimator(config.estimator);
  checkRollouts(config, rollouts, estimator.views(config));
  const A = outcomeAdvantages(
    rollouts.map((r) => r.reward),
    rollouts.map((r) => r.group),
    config.normalizeByStd,
  );
  const out = estimator.reshape(config, rollouts, A);
  if (out.length !== rollouts.length) {
    throw new InputError(`estimator ${config.estimator} returned ${out.length} results for ${rollouts.length} rollouts`);
  }
  return out;
}

/** A result with plain arrays, as JSON holds it (the `advantages` CLI's output, the run files' records). */
export interface RolloutAdvantageJson extends Omit<RolloutAdvantage, 'tokenAdvantages' | 'scores' | 'weights' | 'mask'> {
  tokenAdvantages: number[];
  scores?: { S?: number[]; G?: number[]; U?: number[]; rvd?: number[] };
  weights?: number[];
  mask?: number[];
}

/** `a` with its rows as plain arrays (JSON.stringify writes a Float64Array as an object of indices). */
export function advantageJson(a: RolloutAdvantage): RolloutAdvantageJson {
  const out: Record<string, unknown> = {};
  // The keys in the estimator's order: the CLI's output is a contract (test/vectors), order included.
  for (const [k, v] of Object.entries(a)) {
    if (k === 'tokenAdvantages' || k === 'weights' || k === 'mask') out[k] = toNumbers(v as Float64Array);
    else if (k === 'scores') out[k] = Object.fromEntries(Object.entries(v as Record<string, Float64Array>).map(([s, row]) => [s, toNumbers(row)]));
    else out[k] = v;
  }
  return out as unknown as RolloutAdvantageJson;
}
