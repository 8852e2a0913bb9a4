/**
 * Algorithm configuration: the presets of ALGORITHMS.md §6 with every constant of §1–§5 as a flat,
 * overridable key. `resolveConfig` merges a preset's defaults with user overrides and checks each key,
 * so a bad value is reported by name before any work starts.
 */
import type { AlgorithmName } from '../run/schema';
import { estimatorNames } from './registry';

export const ALGORITHM_NAMES: readonly AlgorithmName[] = ['grpo', 'dapo', 'vppo', 'pgpo', 'prpo'];

/** How PRPO-R computes Robust Visual Dependency (ALGORITHMS.md §4). */
export type RvdMode = 'soft' | 'gate' | 'multimask';
/** How a dependency score is computed: the sampled-token k3 estimate, or the exact full-vocabulary KL. */
export type KlMode = 'k3' | 'exact';

export interface AlgorithmConfig {
  preset: AlgorithmName;
  /** The registered estimator that reshapes advantages; defaults to the preset's own. */
  estimator: string;

  // §1 outcome advantage
  /** false gives Dr.GRPO's A_i = R_i − mean. */
  normalizeByStd: boolean;

  // dependency scores
  /** 'k3' scores from the views' log-probs; 'exact' reads per-token full-vocabulary KLs from `RolloutInput.dependency`. */
  kl: KlMode;

  // §2 VPPO
  /** TGF: fraction k of tokens kept (k_i = ceil(k · L_i)). */
  topK: number;
  /** TAS: β_min, the smallest trajectory weight. */
  betaMin: number;

  // §3 PGPO and §4 PRPO-R
  /** Threshold τ of PGPO's gate and of PRPO-R's PAR. */
  tau: number;
  /** Boost β: PGPO 2.0, PRPO-R 1.0. */
  beta: number;

  // §4 PRPO-R
  rvd: RvdMode;
  /** `soft`: λ, how strongly instability U damps grounding G. */
  lambda: number;
  /** Floor G₀ (nats) of ĝ = minmax_f(log1p G): a response whose G stays far below it gets no boost. 0: plain minmax. */
  groundingFloor: number;
  /** Floor U₀ (nats) of û = minmax_f(log1p U): instability far below it damps nothing. 0: plain minmax. */
  instabilityFloor: number;
  /** `gate`: tokens with U above this quantile of U (per response) get RVD = 0. */
  quantile: number;
  /** `multimask`: κ in mean_M S − κ · std_M S. */
  kappa: number;
  /** `multimask`: M, the number of perturbed masks the trainer scores. */
  masks: number;
  /** Rescale PAR's weights to sum to L_i (as PGPO does). */
  massConserving: boolean;
  /** When set, τ is the q-quantile of RVD per response ("dynamic" threshold). */
  threshold: { quantile: number } | null;

  // §5 loss
  clipLow: number;
  clipHigh: number;
  /** Dual-clip constant C (> 1), applied to tokens with Ã < 0. */
  dualClip: number;
  /**
   * c_nll of §5's sampled-token NLL term `+ c_nll · mean(−logp_new)`: VPPO-RL's `entropy_penalty` (0.06 for
   * vppo). Not an entropy regulariser (zero-mean on-policy). Read from the first version's `entropyCoef` too.
   */
  sampledNllCoef: number;
  /** c_H of §5's entropy bonus `− c_H · mean_t H(π_new(·|s_t))` over the full vocabulary (verl's entropy_coeff). */
  entropyBonus: number;
  /** Coefficient of the k3 KL to the reference policy. */
  klCoef: number;
  /** DAPO dynamic sampling: keep groups whose mean accuracy lies strictly in (accuracyLow, accuracyHigh). */
  dynamicSampling: boolean;
  maxResampleTries: number;
  accuracyLow: number;
  accuracyHigh: number;
}

/** A configuration key that names what was wrong, e.g. `config.tau: expected a number in [0, 1), got "x"`. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Key = Exclude<keyof AlgorithmConfig, 'preset'>;

interface KeySpec {
  /** What a valid value looks like, for the error message. */
  expected: string;
  ok: (v: unknown) => boolean;
  /** The default, which may depend on the preset and on the resolved estimator. */
  default: (preset: AlgorithmName, estimator: string) => AlgorithmConfig[Key];
  doc: string;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const inRange = (lo: number, hi: number, loOpen = false, hiOpen = false) => (v: unknown) =>
  isNum(v) && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
const isBool = (v: unknown) => typeof v === 'boolean';
const nonNegative = (v: unknown) => isNum(v) && v >= 0;
const constant =
  <T extends AlgorithmConfig[Key]>(x: T) =>
  () =>
    x;

/** Every key a configuration may set, its check, default and one line of documentation. */
export const CONFIG_KEYS: Record<Key, KeySpec> = {
  estimator: {
    expected: 'the name of a registered estimator',
    ok: (v) => typeof v === 'string' && estimatorNames().includes(v),
    default: (preset) => preset,
    doc: 'advantage estimator from the registry (default: the preset\'s own)',
  },
  normalizeByStd: { expected: 'true or false', ok: isBool, default: constant(true), doc: '§1: divide by the group std (false: Dr.GRPO)' },
  kl: {
    expected: '"k3" or "exact"',
    ok: (v) => v === 'k3' || v === 'exact',
    default: constant('k3'),
    doc: 'dependency scores from k3 of log-probs, or exact full-vocabulary KLs supplied per token',
  },
  topK: { expected: 'a number in (0, 1]', ok: inRange(0, 1, true), default: constant(0.4), doc: '§2 VPPO TGF: fraction of tokens kept' },
  betaMin: { expected: 'a number in [0, 1]', ok: inRange(0, 1), default: constant(0.9), doc: '§2 VPPO TAS: β_min' },
  tau: { expected: 'a number in [0, 1)', ok: inRange(0, 1, false, true), default: constant(0.4), doc: '§3/§4 threshold τ' },
  beta: {
    expected: 'a number ≥ 0',
    ok: nonNegative,
    default: (_p, estimator) => (estimator === 'pgpo' ? 2.0 : 1.0),
    doc: '§3/§4 boost β (PGPO 2.0, PRPO-R 1.0)',
  },
  rvd: {
    expected: '"soft", "gate" or "multimask"',
    ok: (v) => v === 'soft' || v === 'gate' || v === 'multimask',
    default: constant('soft'),
    doc: '§4 how RVD is computed',
  },
  lambda: { expected: 'a number ≥ 0', ok: nonNegative, default: constant(1.0), doc: '§4 soft RVD: λ' },
  groundingFloor: {
    expected: 'a number ≥ 0 (nats)',
    ok: nonNegative,
    default: constant(0.01),
    doc: '§4 soft/gate RVD: grounding floor G₀ of ĝ = minmax_f(log1p G) (0: plain minmax)',
  },
  instabilityFloor: {
    expected: 'a number ≥ 0 (nats)',
    ok: nonNegative,
    default: constant(0.05),
    doc: '§4 soft RVD: instability floor U₀ of û = minmax_f(log1p U) (0: plain minmax)',
  },
  quantile: { expected: 'a number in [0, 1]', ok: inRange(0, 1), default: constant(0.8), doc: '§4 gate RVD: quantile q of U' },
  kappa: { expected: 'a number ≥ 0', ok: nonNegative, default: constant(1.0), doc: '§4 multimask RVD: κ' },
  masks: {
    expected: 'an integer ≥ 2',
    ok: (v) => Number.isInteger(v) && (v as number) >= 2,
    default: constant(4),
    doc: '§4 multimask RVD: M perturbed masks to score',
  },
  massConserving: { expected: 'true or false', ok: isBool, default: constant(false), doc: '§4 PAR: rescale weights to sum to L' },
  threshold: {
    expected: 'null or {"quantile": a number in [0, 1]}',
    ok: (v) =>
      v === null ||
      (typeof v === 'object' &&
        !Array.isArray(v) &&
        Object.keys(v as object).length === 1 &&
        inRange(0, 1)((v as { quantile?: unknown }).quantile)),
    default: constant(null),
    doc: '§4 PAR: per-response τ as a quantile of RVD',
  },
  clipLow: { expected: 'a number in [0, 1)', ok: inRange(0, 1, false, true), default: constant(0.2), doc: '§5 ε_low' },
  clipHigh: { expected: 'a number ≥ 0', ok: nonNegative, default: (p) => (p === 'grpo' ? 0.2 : 0.28), doc: '§5 ε_high' },
  dualClip: { expected: 'a number > 1', ok: (v) => isNum(v) && v > 1, default: constant(3.0), doc: '§5 dual-clip C' },
  sampledNllCoef: {
    expected: 'a number ≥ 0',
    ok: nonNegative,
    default: (p) => (p === 'vppo' ? 0.06 : 0),
    doc: '§5 sampled-NLL term c·mean(−logp) (VPPO-RL entropy_penalty; old name entropyCoef)',
  },
  entropyBonus: { expected: 'a number ≥ 0', ok: nonNegative, default: constant(0), doc: '§5 full-vocabulary entropy bonus −c_H·mean H' },
  klCoef: { expected: 'a number ≥ 0', ok: nonNegative, default: constant(0), doc: '§5 k3 KL to the reference policy' },
  dynamicSampling: { expected: 'true or false', ok: isBool, default: (p) => p !== 'grpo', doc: '§5 DAPO dynamic sampling' },
  maxResampleTries: {
    expected: 'an integer ≥ 0',
    ok: (v) => Number.isInteger(v) && (v as number) >= 0,
    default: constant(3),
    doc: '§5 regeneration attempts before training on what is there',
  },
  accuracyLow: { expected: 'a number in [0, 1]', ok: inRange(0, 1), default: constant(0.01), doc: '§5 dynamic sampling lower bound (exclusive)' },
  accuracyHigh: { expected: 'a number in [0, 1]', ok: inRange(0, 1), default: constant(0.99), doc: '§5 dynamic sampling upper bound (exclusive)' },
};

/**
 * A bad config value for an error message: its JSON, at most 80 characters. Never throws: a 20,000-deep array
 * defeats JSON.stringify and String() alike (RangeError), so then only its kind is named.
 */
export function showValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  let s: string;
  try {
    s = JSON.stringify(v) ?? typeof v;
  } catch {
    s = Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v;
  }
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

const show = showValue;

export function isAlgorithmName(name: unknown): name is AlgorithmName {
  return typeof name === 'string' && (ALGORITHM_NAMES as readonly string[]).includes(name);
}

/** Keys of the first version that are still read, and their current names (ALGORITHMS.md §5). */
export const CONFIG_KEY_ALIASES: Readonly<Record<string, Key>> = { entropyCoef: 'sampledNllCoef' };

/**
 * `overrides` with the old key names read as the current ones; an old and a new name that disagree is an
 * error naming both (the same message as the Python side's).
 */
export function withCurrentNames(overrides: Record<string, unknown>): Record<string, unknown> {
  if (!Object.keys(overrides).some((k) => Object.hasOwn(CONFIG_KEY_ALIASES, k))) return overrides;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(overrides)) {
    const current = Object.hasOwn(CONFIG_KEY_ALIASES, key) ? CONFIG_KEY_ALIASES[key] : undefined;
    if (!current) {
      if (!(key in out)) out[key] = value;
      continue;
    }
    const given = overrides[current];
    if (given !== undefined && value !== undefined && given !== value) {
      throw new ConfigError(`config.${current}`, `config.${current}: ${show(given)} and its old name ${key} ${show(value)} disagree (give one of them)`);
    }
    out[current] = given ?? value;
  }
  return out;
}

/**
 * The full configuration of a preset with `overrides` applied. Throws ConfigError naming the first bad
 * key: an unknown preset or key, a value of the wrong type or out of range. `overrides` may be a resolved
 * configuration (as stored in run.json): its `preset` key must then match.
 */
export function resolveConfig(preset: string, overrides: Record<string, unknown> = {}): AlgorithmConfig {
  if (!isAlgorithmName(preset)) {
    throw new ConfigError('algorithm', `algorithm: expected one of ${ALGORITHM_NAMES.join(', ')}, got ${show(preset)}`);
  }
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new ConfigError('config', `config: expected an object, got ${show(overrides)}`);
  }
  overrides = withCurrentNames(overrides);
  for (const [key, value] of Object.entries(overrides)) {
    if (key === 'preset') {
      if (value !== preset) throw new ConfigError('config.preset', `config.preset: expected ${show(preset)}, got ${show(value)}`);
      continue;
    }
    const spec = (CONFIG_KEYS as Record<string, KeySpec>)[key];
    if (!Object.hasOwn(CONFIG_KEYS, key) || !spec) {
      throw new ConfigError(`config.${key}`, `config.${key}: unknown key (known: ${Object.keys(CONFIG_KEYS).join(', ')})`);
    }
    if (value !== undefined && !spec.ok(value)) {
      throw new ConfigError(`config.${key}`, `config.${key}: expected ${spec.expected}, got ${show(value)}`);
    }
  }
  const estimator = (overrides.estimator as string | undefined) ?? preset;
  const config = { preset, estimator } as AlgorithmConfig;
  const target = config as unknown as Record<string, unknown>;
  for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
    if (key === 'estimator') continue;
    const v = overrides[key];
    target[key] = v === undefined ? spec.default(preset, estimator) : key === 'threshold' && v ? { ...(v as object) } : v;
  }
  if (!(config.accuracyLow < config.accuracyHigh)) {
    throw new ConfigError(
      'config.accuracyLow',
      `config.accuracyLow: expected less than accuracyHigh (${config.accuracyHigh}), got ${config.accuracyLow}`,
    );
  }
  return config;
}
