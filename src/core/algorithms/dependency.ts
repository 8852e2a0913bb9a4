/**
 * Per-token dependency scores KL(π_image ‖ π_view): k3 of the log-probs, or the exact full-vocabulary
 * KL the trainer supplied (config.kl = "exact").
 */
import type { AlgorithmConfig } from './config';
import { k3Row } from './kl';
import type { RolloutInput, Row } from './types';
import { perturbedRows } from './validate';

/** The score row of a single-row view (blind, mild, or perturbed when one mask is read). */
export function dependencyRow(config: AlgorithmConfig, r: RolloutInput, view: 'blind' | 'perturbed' | 'mild'): Row {
  if (config.kl === 'exact') return perturbedRows(r.dependency![view]!)[0];
  return k3Row(r.logp.image, perturbedRows(r.logp[view]!)[0]);
}

/** One score row per perturbed mask (multimask RVD). */
export function perturbedDependencyRows(config: AlgorithmConfig, r: RolloutInput): Row[] {
  if (config.kl === 'exact') return perturbedRows(r.dependency!.perturbed!);
  return perturbedRows(r.logp.perturbed!).map((row) => k3Row(r.logp.image, row));
}

/**
 * `make()`, kept in the rollout's memo under `key` when it has one (RolloutInput.memo): for rows that depend on
 * the input alone (and the constants named in `key`), never on the outcome advantages.
 */
export function memoised(r: RolloutInput, key: string, make: () => Float64Array): Float64Array {
  let v = r.memo?.get(key);
  if (!v) {
    v = make();
    r.memo?.set(key, v);
  }
  return v;
}
