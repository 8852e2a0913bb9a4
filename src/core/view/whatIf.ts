/**
 * What-if reshaping of a logged step (issue 15): the step's logged log-probs, read from the packed columns the
 * trajectory view holds, run through the core estimators (`computeAdvantages`) under other settings, and what
 * moved compared with the Ã the run logged. The webview calls this on every change of a control.
 *
 * Pure: no Node, vscode or DOM imports (the webview bundles this file).
 */
import { CONFIG_KEYS, InputError, checkRollouts, k3Row, getEstimator, outcomeAdvantages, resolveConfig, viewsFor, type AlgorithmConfig, type RolloutAdvantage, type RolloutInput } from '../algorithms';
import type { AlgorithmName } from '../run/schema';
import type { PackedRollouts, RolloutMeta } from './pack';
import type { TokenField } from '../run/tokenFields';
import { fmt } from '../format';

/** A rollout inside a packed batch (the webview's RolloutRef has this shape). */
export interface PackedRolloutRef {
  batch: PackedRollouts;
  meta: RolloutMeta;
  /** Token range within the batch's columns. */
  start: number;
  end: number;
}

/** The settings the what-if panel offers, in its order. */
export const WHAT_IF_KEYS = ['tau', 'beta', 'lambda', 'groundingFloor', 'instabilityFloor', 'topK', 'betaMin', 'massConserving', 'rvd'] as const;
export type WhatIfKey = (typeof WHAT_IF_KEYS)[number];

/**
 * The run's configuration as the estimators read it: the algorithm keys of run.json's (flattened) config,
 * with the trainer's own keys (model, task, schedule) left out, resolved against the preset.
 */
export function runAlgorithmConfig(preset: AlgorithmName, runConfig: Record<string, unknown> | undefined): AlgorithmConfig {
  const overrides: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(runConfig ?? {})) if (Object.hasOwn(CONFIG_KEYS, k) && v !== undefined) overrides[k] = v;
  return resolveConfig(preset, overrides);
}

const VIEW_COLUMN = { blind: 'logpBlind', perturbed: 'logpPerturbed', mild: 'logpMild' } as const satisfies Record<string, TokenField>;

/** Whether rollout `ro` has every token of `f` (a column the trainer did not log is NaN, or absent). */
function hasColumn(ro: PackedRolloutRef, f: TokenField): boolean {
  const col = ro.batch.fields[f];
  if (!col || ro.end <= ro.start) return false;
  for (let t = ro.start; t < ro.end; t++) if (!Number.isFinite(col[t])) return false;
  return true;
}

/**
 * What the step lacks for `config`, in words, or undefined when it can be re-reshaped. The packed view carries
 * the image, blind, mild and one perturbed log-prob per token; multimask RVD needs M perturbed rows, `kl: exact`
 * full-vocabulary KLs, the study's controls the ground-truth labels.
 */
export function whatIfMissing(config: AlgorithmConfig, rollouts: readonly PackedRolloutRef[]): string | undefined {
  if (rollouts.length === 0) return 'The step has no rollouts.';
  if (config.kl === 'exact') return 'What-if needs k3 dependency scores: this run used exact full-vocabulary KLs (config.kl "exact"), which are not logged per token.';
  if (config.estimator === 'prpo' && config.rvd === 'multimask') {
    return `Multimask RVD needs the log-probs of ${config.masks} perturbed masks per token; a step's log keeps at most one perturbed view. Choose soft or gate.`;
  }
  const needs: Array<[TokenField, string]> = [['logpImage', 'log p (image)']];
  for (const v of viewsFor(config).views) if (v !== 'image') needs.push([VIEW_COLUMN[v], `log p (${v})`]);
  if (config.estimator === 'oracle' || config.estimator === 'random') needs.push(['perceptual', 'the ground-truth perceptual labels']);
  for (const [f, name] of needs) {
    const lacking = lackingColumn(rollouts, f);
    if (lacking.length) {
      const which = lacking.length === rollouts.length ? 'no rollout of this step has' : `${lacking.length} of ${rollouts.length} rollouts (first: ${lacking[0].meta.id}) lack`;
      return `${config.estimator} needs ${name}, and ${which} it.`;
    }
  }
  if (rollouts.some((ro) => typeof ro.meta.reward !== 'number' || !Number.isFinite(ro.meta.reward))) return 'Some rollouts have no reward, so the outcome advantages cannot be recomputed.';
  return undefined;
}

/**
 * What every change of a control re-reads, computed once per step: the estimators' inputs as views into the
 * packed columns, with each logged view's k3 dependency row KL(π_image ‖ π_view) — the controls never change
 * those, only what the estimators make of them — and the view sets whose inputs already passed the core's
 * checks. Keyed by the view's rollout list; a list that grew (live rollouts) is prepared again.
 */
interface PreparedStep {
  count: number;
  /** Made on the first computation (a step `whatIfMissing` refuses never needs them). */
  inputs?: RolloutInput[];
  checked: Set<string>;
  lacking: Map<TokenField, PackedRolloutRef[]>;
}
const preparedSteps = new WeakMap<readonly PackedRolloutRef[], PreparedStep>();

function prepared(rollouts: readonly PackedRolloutRef[]): PreparedStep {
  let p = preparedSteps.get(rollouts);
  if (!p || p.count !== rollouts.length) {
    p = { count: rollouts.length, checked: new Set(), lacking: new Map() };
    preparedSteps.set(rollouts, p);
  }
  return p;
}

/** The rollouts of the step that lack some token of `f`, once per step and field. */
function lackingColumn(rollouts: readonly PackedRolloutRef[], f: TokenField): PackedRolloutRef[] {
  const p = prepared(rollouts);
  let lacking = p.lacking.get(f);
  if (!lacking) p.lacking.set(f, (lacking = rollouts.filter((ro) => !hasColumn(ro, f))));
  return lacking;
}

/**
 * The estimators' input for a step, as views into the packed columns (no copies), with the k3 dependency row of
 * every logged view precomputed (read through `config.kl = "exact"`, see `reshapeLogged`).
 */
export function whatIfInputs(rollouts: readonly PackedRolloutRef[]): RolloutInput[] {
  return rollouts.map((ro) => {
    const row = (f: TokenField): Float32Array | undefined => {
      const col = ro.batch.fields[f];
      return col && Number.isFinite(col[ro.start]) ? col.subarray(ro.start, ro.end) : undefined;
    };
    const image = row('logpImage')!;
    const logp: RolloutInput['logp'] = { image };
    const dependency: NonNullable<RolloutInput['dependency']> = {};
    for (const [view, f] of Object.entries(VIEW_COLUMN) as Array<[keyof typeof VIEW_COLUMN, TokenField]>) {
      const r = row(f);
      if (!r) continue;
      logp[view] = r;
      if (image) dependency[view] = k3Row(image, r);
    }
    const input: RolloutInput = { id: ro.meta.id, group: ro.meta.group, reward: ro.meta.reward, logp, dependency, memo: new Map() };
    const labels = row('perceptual');
    if (labels) input.labels = labels;
    return input;
  });
}

export interface WhatIfSummary {
  rollouts: number;
  tokens: number;
  /** Aᵢ as logged, or recomputed from the rewards where some rollout had none. */
  outcome: 'logged' | 'recomputed';
  /** Tokens whose |Ã| exceeds |Aᵢ| (amplified). */
  boosted: number;
  /** Tokens with Ã = 0 although Aᵢ ≠ 0 (no gradient: VPPO's mask, a zero weight). */
  masked: number;
  /** Mass per rollout, Σₜ Ãᵢₜ / (Aᵢ · Lᵢ) over rollouts with Aᵢ ≠ 0: mean, min, max (NaN when none). */
  mass: { mean: number; min: number; max: number };
  /** Against the logged Ã: tokens whose sign flipped, and whose value moved by more than 50 %. */
  signChanged: number;
  changedOver50: number;
}

/** The per-token fields the estimators produce, which the what-if replaces while it is shown. */
export const WHAT_IF_COLUMNS = ['tokenAdvantage', 'weight', 'mask', 'rvd'] as const satisfies readonly TokenField[];
export type WhatIfColumn = (typeof WHAT_IF_COLUMNS)[number];

export interface WhatIfResult {
  config: AlgorithmConfig;
  /**
   * The what-if columns of every batch, aligned with its own (NaN for rollouts not re-reshaped, and where the
   * estimator does not produce the field: GRPO has no weights).
   */
  columns: Map<PackedRollouts, Record<WhatIfColumn, Float32Array>>;
  /** The what-if Ã per rollout, in the order given. */
  tokenAdvantages: Float64Array[];
  /** Whether the outcome advantages Aᵢ were the logged ones or recomputed from the rewards. */
  outcome: 'logged' | 'recomputed';
  summary: WhatIfSummary;
}

/**
 * The configured estimator's per-token advantages of `inputs` (computeAdvantages' second half), on the outcome
 * advantages the run logged: the settings offered here reshape, they do not change Aᵢ (and a logged Aᵢ may come
 * from a batch the step file does not hold whole, e.g. after dynamic sampling). Where a rollout has no logged Aᵢ,
 * all are recomputed from the rewards (§1), as computeAdvantages does.
 */
export function reshapeLogged(
  config: AlgorithmConfig,
  inputs: readonly RolloutInput[],
  logged: ArrayLike<number | undefined>,
  checked?: Set<string>,
): { out: RolloutAdvantage[]; outcome: 'logged' | 'recomputed' } {
  const estimator = getEstimator(config.estimator);
  const needs = estimator.views(config);
  const key = `${config.kl} ${needs.views.join(',')} ${needs.perturbedSamples}`;
  if (!checked?.has(key)) {
    checkRollouts(config, inputs, needs);
    checked?.add(key);
  }
  const useLogged = inputs.every((_, i) => Number.isFinite(logged[i]));
  const A = useLogged
    ? Float64Array.from(inputs, (_, i) => logged[i] as number)
    : outcomeAdvantages(
        inputs.map((r) => r.reward),
        inputs.map((r) => r.group),
        config.normalizeByStd,
      );
  const out = estimator.reshape(config, inputs, A);
  if (out.length !== inputs.length) throw new InputError(`estimator ${config.estimator} returned ${out.length} results for ${inputs.length} rollouts`);
  return { out, outcome: useLogged ? 'logged' : 'recomputed' };
}

/**
 * Re-reshapes `rollouts` under `config` (on their logged Aᵢ, see reshapeLogged) and compares with `logged` (the Ã
 * the run logged, per rollout's token range in its batch). Throws InputError/ConfigError from the core as they
 * are; check `whatIfMissing` first.
 */
export function runWhatIf(config: AlgorithmConfig, rollouts: readonly PackedRolloutRef[], logged: (ro: PackedRolloutRef) => ArrayLike<number> | undefined): WhatIfResult {
  const step = prepared(rollouts);
  // k3 configurations read the step's precomputed k3 rows as if supplied (same numbers, computed once).
  const { out, outcome } = reshapeLogged(
    config.kl === 'k3' ? { ...config, kl: 'exact' } : config,
    (step.inputs ??= whatIfInputs(rollouts)),
    rollouts.map((ro) => ro.meta.advantage),
    step.checked,
  );
  const columns = new Map<PackedRollouts, Record<WhatIfColumn, Float32Array>>();
  let tokens = 0,
    boosted = 0,
    masked = 0,
    signChanged = 0,
    changedOver50 = 0,
    massSum = 0,
    massN = 0,
    massMin = Infinity,
    massMax = -Infinity;
  rollouts.forEach((ro, i) => {
    let cols = columns.get(ro.batch);
    if (!cols) {
      const n = ro.batch.textStart.length - 1;
      const nan = () => new Float32Array(n).fill(NaN);
      columns.set(ro.batch, (cols = { tokenAdvantage: nan(), weight: nan(), mask: nan(), rvd: nan() }));
    }
    const { advantage: A, tokenAdvantages: adv, weights, mask, scores } = out[i];
    if (weights) cols.weight.set(weights, ro.start);
    if (mask) cols.mask.set(mask, ro.start);
    if (scores?.rvd) cols.rvd.set(scores.rvd, ro.start);
    const col = cols.tokenAdvantage;
    const old = logged(ro);
    const absA = Math.abs(A);
    let sum = 0;
    for (let k = 0; k < adv.length; k++) {
      const x = adv[k];
      col[ro.start + k] = x;
      sum += x;
      if (absA > 0) {
        if (Math.abs(x) > absA * (1 + 1e-9)) boosted++;
        else if (x === 0) masked++;
      }
      const o = old ? old[k] : NaN;
      if (Number.isFinite(o)) {
        if (o * x < 0) signChanged++;
        if (Math.abs(x - o) > 0.5 * Math.abs(o)) changedOver50++;
      }
    }
    tokens += adv.length;
    if (absA > 0 && adv.length) {
      const m = sum / (A * adv.length);
      massSum += m;
      massN++;
      if (m < massMin) massMin = m;
      if (m > massMax) massMax = m;
    }
  });
  return {
    config,
    columns,
    tokenAdvantages: out.map((o) => o.tokenAdvantages),
    outcome,
    summary: {
      rollouts: rollouts.length,
      tokens,
      outcome,
      boosted,
      masked,
      mass: massN ? { mean: massSum / massN, min: massMin, max: massMax } : { mean: NaN, min: NaN, max: NaN },
      signChanged,
      changedOver50,
    },
  };
}

/** The summary as the panel shows it: one fact per entry (its class, label, value and what it means). */
export function whatIfFacts(s: WhatIfSummary): Array<{ id: string; label: string; value: string; title: string }> {
  const pct = (n: number): string => (s.tokens ? `${fmt((100 * n) / s.tokens, 1)} %` : '—');
  return [
    { id: 'boosted', label: 'Boosted', value: `${s.boosted} (${pct(s.boosted)})`, title: 'Tokens whose |Ã| exceeds |Aᵢ|' },
    { id: 'masked', label: 'Masked', value: `${s.masked} (${pct(s.masked)})`, title: 'Tokens with Ã = 0 although Aᵢ ≠ 0 (no gradient)' },
    {
      id: 'mass',
      label: 'Mass per rollout',
      value: Number.isFinite(s.mass.mean) ? `${fmt(s.mass.mean)} (${fmt(s.mass.min)} … ${fmt(s.mass.max)})` : 'no rollout with Aᵢ ≠ 0',
      title: 'Σₜ Ãᵢₜ / (Aᵢ · Lᵢ): mean (min … max) over rollouts',
    },
    { id: 'sign', label: 'Sign changed', value: String(s.signChanged), title: 'Tokens whose Ã has the opposite sign of the logged Ã' },
    { id: 'over50', label: 'Moved > 50 %', value: String(s.changedOver50), title: 'Tokens whose Ã moved by more than half the logged value' },
    {
      id: 'size',
      label: 'Of',
      value: `${s.tokens} tokens, ${s.rollouts} rollouts${s.outcome === 'recomputed' ? ', Aᵢ recomputed' : ''}`,
      title: s.outcome === 'logged' ? 'What was re-reshaped (the rollouts of the step that have arrived), on their logged outcome advantages Aᵢ' : 'Some rollouts had no logged Aᵢ: all were recomputed from the rewards (§1)',
    },
  ];
}

/**
 * A run config file (the format *Start Run from Config File…* reads, commands/startRun.ts readStartConfig) with
 * the what-if settings: the preset and every setting that differs from the preset's default.
 */
export function whatIfRunConfig(config: AlgorithmConfig, name: string): { preset: AlgorithmName; name: string; config: Record<string, unknown> } {
  const defaults = resolveConfig(config.preset) as unknown as Record<string, unknown>;
  const current = config as unknown as Record<string, unknown>;
  const overrides: Record<string, unknown> = {};
  for (const k of Object.keys(CONFIG_KEYS)) if (JSON.stringify(current[k]) !== JSON.stringify(defaults[k])) overrides[k] = current[k];
  return { preset: config.preset, name, config: overrides };
}

/**
 * What a run config needs, besides the settings, to train on the backend and data of the run it came from: for a
 * run the PyTorch backend wrote, its model (the reference it was started with, or the folder it loaded), dataset
 * folder and dtype (run.json's model and task); nothing for a built-in run.
 */
export function runSourceOf(manifest: { model?: { config?: Record<string, unknown> }; task?: { config?: Record<string, unknown> } } | undefined): { model?: string; data?: string; dtype?: string } {
  const model = manifest?.model?.config ?? {};
  if (model.backend !== 'pytorch') return {};
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
  const out: { model?: string; data?: string; dtype?: string } = {};
  const ref = str(model.ref) ?? str(model.path);
  const data = str(manifest?.task?.config?.data);
  const dtype = str(model.dtype);
  if (ref) out.model = ref;
  if (data) out.data = data;
  if (dtype === 'bf16' || dtype === 'fp32') out.dtype = dtype;
  return out;
}
