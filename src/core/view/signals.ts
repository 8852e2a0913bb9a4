/**
 * The signals tokens can be coloured by, and the ranges of their scales. The webview draws them
 * (webview/scales.ts); the host computes a step's ranges over all its rollouts before the first ones are sent,
 * and the webview widens them over live appends with the same function (`signalHi`), so a colour means one
 * value wherever it is computed. Derived from the per-token field catalogue (run/tokenFields.ts).
 *
 * Pure: no Node, vscode or DOM imports (the webview bundles this file).
 */
import type { RolloutRecord } from '../run/schema';
import { TOKEN_FIELD_DEFS, fieldArray, type ScaleKind, type TokenField } from '../run/tokenFields';

type Colourable = Extract<(typeof TOKEN_FIELD_DEFS)[number], { scale: object }>;

/** A colour signal: a per-token field that has a scale, the per-rollout outcome advantage, or no colour. */
export type SignalId = Colourable['column'] | 'advantage' | 'none';

export interface SignalDef {
  id: SignalId;
  label: string;
  kind: ScaleKind;
  /** The per-token column; `advantage` is per rollout. */
  field?: TokenField;
  /** Diverging centre (0 for advantages, 1 for weights). */
  centre?: number;
  /** A range fixed by definition (RVD is min-max normalised to [0, 1]). */
  fixedHi?: number;
  /** The scale colours −value (surprise is −log p). */
  negate?: boolean;
  /** Legend text for the two ends (and for binary, the "on" meaning). */
  low: string;
  high: string;
}

/**
 * The diverging pair for signed values (advantages), colour-blind safe: orange for positive, blue for negative.
 * Shared by the webview's scales and the editor's token view, so a sign reads the same everywhere.
 */
export const DIVERGING = { positive: '#e66101', negative: '#2f7fc1' } as const;

const ADVANTAGE: SignalDef = { id: 'advantage', label: 'Aᵢ (outcome advantage, per rollout)', kind: 'diverging', centre: 0, low: 'below group mean', high: 'above group mean' };
const NONE: SignalDef = { id: 'none', label: 'No colour', kind: 'none', low: '', high: '' };

function fromField(d: Colourable): SignalDef {
  const s: NonNullable<Colourable['scale']> & { label?: string; centre?: number; fixedHi?: number; negate?: boolean } = d.scale;
  return { id: d.column, label: s.label ?? `${d.symbol} — ${d.label}`, kind: d.kind, field: d.column, centre: s.centre, fixedHi: s.fixedHi, negate: s.negate, low: s.low, high: s.high };
}

/** In the catalogue's order; the per-rollout Aᵢ sits right after the per-token Ã it is reshaped into. */
export const SIGNALS: readonly SignalDef[] = [
  ...TOKEN_FIELD_DEFS.filter((d): d is Colourable => 'scale' in d).flatMap((d) => (d.column === 'tokenAdvantage' ? [fromField(d), ADVANTAGE] : [fromField(d)])),
  NONE,
];

export const signalDef = (id: SignalId): SignalDef => SIGNALS.find((s) => s.id === id) ?? NONE;

/** The value a signal colours by, from a raw column value (surprise is −log p; others as recorded). */
export const signalValue = (def: SignalDef, raw: number): number => (def.negate ? -raw : raw);

/**
 * The half-width `hi` of a scale from the values in view: the 99.5th percentile of |v − centre| (of v for
 * sequential), so one outlier does not wash out every other token.
 */
export function scaleHi(def: SignalDef, columns: Iterable<ArrayLike<number>>): number {
  if (def.fixedHi !== undefined) return def.fixedHi;
  if (def.kind === 'binary' || def.kind === 'none') return 1;
  const c = def.centre ?? 0;
  const cols = [...columns];
  let total = 0;
  for (const col of cols) total += col.length;
  // A strided sample of at most ~40k values: the percentile is as good, and a step of 200k tokens × 10 signals
  // costs milliseconds instead of a second of sorting.
  const stride = Math.max(1, Math.ceil(total / 40_000));
  const vals = new Float64Array(Math.ceil(total / stride) + cols.length);
  let n = 0;
  let offset = 0;
  for (const col of cols) {
    for (let i = (stride - (offset % stride)) % stride; i < col.length; i += stride) {
      const v = col[i];
      if (Number.isFinite(v)) vals[n++] = def.kind === 'diverging' ? Math.abs(signalValue(def, v) - c) : Math.max(0, signalValue(def, v));
    }
    offset += col.length;
  }
  if (n === 0) return 1;
  const sorted = vals.subarray(0, n).sort();
  const q = sorted[Math.min(n - 1, Math.floor(0.995 * (n - 1)))];
  const max = sorted[n - 1];
  const hi = q > 0 ? q : max;
  return hi > 0 ? hi : 1;
}

/** The values a range is computed over: the rollouts' outcome advantages and, per field, its columns. */
export interface SignalValues {
  advantages: ArrayLike<number>;
  /** The columns of a field (one per rollout, or one per packed batch); none where no rollout has it. */
  columns(field: TokenField): Array<ArrayLike<number>>;
}

/** A signal's range over some rollouts, or undefined when none of them has the signal's field. */
export function signalHi(def: SignalDef, values: SignalValues): number | undefined {
  if (def.id === 'advantage') return scaleHi(def, [values.advantages]);
  if (!def.field) return undefined;
  const cols = values.columns(def.field);
  return cols.length ? scaleHi(def, cols) : undefined;
}

/** The values of records as read from a step file. */
export function recordValues(rollouts: readonly RolloutRecord[]): SignalValues {
  return {
    advantages: rollouts.map((r) => r.advantage),
    columns: (f) => rollouts.map((r) => fieldArray(r, f)).filter((c): c is number[] => !!c),
  };
}

/** Every signal's range over a whole step (so the first rollouts sent already use the step's fixed ranges). */
export function stepRanges(rollouts: readonly RolloutRecord[]): Partial<Record<SignalId, number>> {
  const values = recordValues(rollouts);
  const out: Partial<Record<SignalId, number>> = {};
  for (const def of SIGNALS) {
    if (def.kind === 'none') continue;
    const hi = signalHi(def, values);
    if (hi !== undefined) out[def.id] = hi;
  }
  return out;
}
