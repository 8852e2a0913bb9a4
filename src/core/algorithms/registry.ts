/**
 * Advantage estimators keyed by name (verl's `register_adv_est`). The five presets' estimators and the
 * study's two controls (oracle, random) are built in; `registerEstimator` adds a user's own, which a configuration then selects with
 * `estimator: "<name>"`.
 */
import { oracleEstimator, randomEstimator } from './controls';
import { outcomeEstimator } from './outcome';
import { pgpoEstimator } from './pgpo';
import { prpoEstimator } from './prpo';
import type { Estimator } from './types';
import { vppoEstimator } from './vppo';

const builtIn: Record<string, Estimator> = {
  grpo: outcomeEstimator,
  dapo: outcomeEstimator,
  vppo: vppoEstimator,
  pgpo: pgpoEstimator,
  prpo: prpoEstimator,
  // The study's controls (controls.ts), selected with `estimator` on the prpo preset.
  oracle: oracleEstimator,
  random: randomEstimator,
};

const registry = new Map<string, Estimator>(Object.entries(builtIn));

/**
 * Registers `estimator` under `name`. Replacing an existing name (a built-in included) needs
 * `{ replace: true }`, so a typo cannot silently shadow a preset.
 */
export function registerEstimator(name: string, estimator: Estimator, options: { replace?: boolean } = {}): void {
  if (!/^[A-Za-z][\w.-]*$/.test(name)) throw new Error(`registerEstimator: invalid name ${JSON.stringify(name)}`);
  if (typeof estimator?.reshape !== 'function' || typeof estimator.views !== 'function') {
    throw new Error(`registerEstimator: ${name} must have views(config) and reshape(config, rollouts, A)`);
  }
  if (registry.has(name) && !options.replace) {
    throw new Error(`registerEstimator: ${name} is already registered (pass { replace: true } to replace it)`);
  }
  registry.set(name, estimator);
}

/** Removes a user estimator (built-ins are restored rather than removed). */
export function unregisterEstimator(name: string): void {
  if (builtIn[name]) registry.set(name, builtIn[name]);
  else registry.delete(name);
}

export function getEstimator(name: string): Estimator {
  const e = registry.get(name);
  if (!e) throw new Error(`unknown estimator ${JSON.stringify(name)} (registered: ${estimatorNames().join(', ')})`);
  return e;
}

export function estimatorNames(): string[] {
  return [...registry.keys()];
}
