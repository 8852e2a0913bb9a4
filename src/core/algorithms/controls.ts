/**
 * The study's controls (ALGORITHMS.md §6, docs/study.md): PAR (§4) on a token set that is not estimated.
 * - `oracle`: RVD := the ground-truth perceptual flags (`RolloutInput.labels`, the built-in task's), so
 *   w = 1 + β exactly on the perceptual tokens. If it does not beat dapo, the task cannot show the effect.
 * - `random`: PAR on a random set of the same size as the ground-truth set of the response (uniform,
 *   seeded by the rollout's id and group, so a rerun draws the same set): what amplifying "some tokens"
 *   does by itself.
 * Both read no probe view; both need labels, and say so when they are missing.
 */
import type { AlgorithmConfig } from './config';
import { conserveMass, scaleAdvantage } from './pgpo';
import { parWeights } from './prpo';
import { hashString, mulberry32 } from '../random';
import type { Estimator, RolloutAdvantage, RolloutInput, Row } from './types';
import { InputError } from './validate';

function labelsOf(name: string, r: RolloutInput): Row {
  const L = r.logp.image.length;
  if (!r.labels) throw new InputError(`rollout ${JSON.stringify(r.id)}: labels are missing; the ${name} control needs the ground-truth perceptual flags`);
  if (r.labels.length !== L) throw new InputError(`rollout ${JSON.stringify(r.id)}: labels has ${r.labels.length} entries, logp.image has ${L}`);
  return r.labels;
}

/** A random 0/1 row with as many ones as `labels`, drawn from `seed` (partial Fisher–Yates). */
export function randomSetLike(labels: Row, seed: number): Float64Array {
  const L = labels.length;
  let k = 0;
  for (let t = 0; t < L; t++) if (labels[t] > 0.5) k++;
  const order = Array.from({ length: L }, (_, t) => t);
  const u = mulberry32(seed);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(u() * (L - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const out = new Float64Array(L);
  for (let i = 0; i < k; i++) out[order[i]] = 1;
  return out;
}

function controlReshape(name: 'oracle' | 'random') {
  return (config: AlgorithmConfig, rollouts: readonly RolloutInput[], A: Float64Array): RolloutAdvantage[] =>
    rollouts.map((r, i) => {
      const labels = labelsOf(name, r);
      const rvd = name === 'oracle' ? Float64Array.from(labels, (x) => (x > 0.5 ? 1 : 0)) : randomSetLike(labels, hashString(`random|${r.group}|${r.id}`));
      let w = parWeights(rvd, config.tau, config.beta);
      if (config.massConserving) w = conserveMass(w);
      return { id: r.id, advantage: A[i], tokenAdvantages: scaleAdvantage(A[i], w), scores: { rvd }, weights: w };
    });
}

export const oracleEstimator: Estimator = {
  description: 'control: PAR with RVD := the ground-truth perceptual flags (needs labels)',
  views: () => ({ views: ['image'], perturbedSamples: 0 }),
  reshape: controlReshape('oracle'),
};

export const randomEstimator: Estimator = {
  description: 'control: PAR on a random token set of the ground-truth set\'s size (needs labels)',
  views: () => ({ views: ['image'], perturbedSamples: 0 }),
  reshape: controlReshape('random'),
};
