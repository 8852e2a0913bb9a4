/**
 * The per-token fields of a rollout (ALGORITHMS.md §7), catalogued once. Everything that lists them derives
 * from here: the record validator (run/validate.ts), the packed columns and colour scales the webview gets
 * (view/pack.ts, view/signals.ts), the editor's JSON locator and both hover cards (the editor's Markdown card
 * and the webview's). Adding a per-token field means: its type in schema.ts, one entry here, and whoever
 * computes it.
 *
 * Pure data: no Node, vscode or DOM imports (the webview bundles this file).
 */
import type { AlgorithmName, RolloutRecord, ViewName } from './schema';

/** How a value is coloured: 0 … hi (sequential), around a centre (diverging), on/off (binary), or not at all. */
export type ScaleKind = 'sequential' | 'diverging' | 'binary' | 'none';

/** Top-level keys of RolloutRecord that hold one number per token. */
type NumberArrayKey = { [K in keyof RolloutRecord]-?: NonNullable<RolloutRecord[K]> extends number[] ? K : never }[keyof RolloutRecord];
type ScoreName = keyof NonNullable<RolloutRecord['scores']>;

/** Where a field lives in a RolloutRecord: a top-level array, or an array inside `logp` or `scores`. */
export type TokenFieldPath = readonly [NumberArrayKey] | readonly ['logp', ViewName] | readonly ['scores', ScoreName];

export interface TokenFieldDef {
  /** The packed column's name (PackedRollouts.fields) and the colour signal's id. */
  readonly column: string;
  readonly path: TokenFieldPath;
  /** The paper's symbol, in Unicode (Ãᵢₜ, wₜ, …): the webview card's row label and the start of the editor's. */
  readonly symbol: string;
  /** What the value is, in words. */
  readonly label: string;
  readonly kind: ScaleKind;
  /** Every rollout has it (the validator requires it). */
  readonly required?: boolean;
  /** The symbol and label under a given algorithm, where they differ (the reshaping weight is ω̃ₜ in PGPO, wₜ in PRPO-R). */
  readonly byAlgorithm?: Partial<Record<AlgorithmName, { symbol: string; label: string }>>;
  /** A binary field's two values in words: [off, on]. */
  readonly states?: readonly [string, string];
  /** The editor card ranks the token's value among the rollout's tokens ("rank 3 of 48"). */
  readonly ranked?: boolean;
  /** A log-prob: cards also show p = exp(value). */
  readonly logProb?: boolean;
  /** The colour scale, for fields the trajectory view can colour tokens by. */
  readonly scale?: {
    /** The signal list's label (default: `symbol — label`). */
    readonly label?: string;
    /** Diverging centre (0 for advantages, 1 for weights). */
    readonly centre?: number;
    /** A range fixed by definition (RVD is min-max normalised to [0, 1]). */
    readonly fixedHi?: number;
    /** Colours −value (surprise is −log p). */
    readonly negate?: boolean;
    /** Legend text for the two ends (for binary, the "on" meaning is `high`). */
    readonly low: string;
    readonly high: string;
  };
}

/** In the order the trajectory view offers them as colour signals; the cards list them in this order too. */
export const TOKEN_FIELD_DEFS = [
  {
    column: 'rvd',
    path: ['scores', 'rvd'],
    symbol: 'RVD',
    label: 'robust visual dependency (PRPO-R)',
    kind: 'sequential',
    ranked: true,
    scale: { label: 'RVD (PRPO-R robust visual dependency)', fixedHi: 1, low: 'not visual', high: 'visually grounded & stable' },
  },
  {
    column: 'S',
    path: ['scores', 'S'],
    symbol: 'S',
    label: 'visual dependency, k3(image ‖ perturbed) in VPPO, k3(image ‖ blind) in PGPO',
    kind: 'sequential',
    ranked: true,
    scale: { label: 'S (dependency, VPPO/PGPO)', low: 'no dependency', high: 'depends on the image' },
  },
  {
    column: 'G',
    path: ['scores', 'G'],
    symbol: 'G',
    label: 'grounding, k3(image ‖ blind)',
    kind: 'sequential',
    ranked: true,
    scale: { label: 'G (grounding: image vs blind)', low: 'no grounding', high: 'grounded' },
  },
  {
    column: 'U',
    path: ['scores', 'U'],
    symbol: 'U',
    label: 'instability, k3(image ‖ mild)',
    kind: 'sequential',
    ranked: true,
    scale: { label: 'U (instability: image vs mild noise)', low: 'stable', high: 'unstable' },
  },
  {
    column: 'tokenAdvantage',
    path: ['tokenAdvantages'],
    symbol: 'Ãᵢₜ',
    label: 'token advantage, the factor of the ratio in the loss',
    kind: 'diverging',
    required: true,
    scale: { label: 'Ã (reshaped token advantage)', centre: 0, low: 'pushed down', high: 'pushed up' },
  },
  {
    column: 'weight',
    path: ['weights'],
    symbol: 'weight',
    label: 'reshaping weight (ω̃ₜ in PGPO, wₜ in PRPO-R)',
    kind: 'diverging',
    ranked: true,
    byAlgorithm: {
      pgpo: { symbol: 'ω̃ₜ', label: 'PGPO weight' },
      prpo: { symbol: 'wₜ', label: 'PAR weight' },
      // VPPO reshapes with its trajectory weight αᵢ; an importer that records it per token puts it here.
      vppo: { symbol: 'αᵢ', label: 'VPPO trajectory weight' },
    },
    scale: { label: 'Weight (ω̃ₜ / wₜ, around 1)', centre: 1, low: 'suppressed', high: 'amplified' },
  },
  {
    column: 'mask',
    path: ['mask'],
    symbol: 'mₜ',
    label: 'VPPO mask',
    kind: 'binary',
    states: ['0 (filtered out)', '1 (trained)'],
    scale: { label: 'VPPO mask mₜ', low: 'masked (no gradient)', high: 'kept (in the top k)' },
  },
  {
    column: 'perceptual',
    path: ['perceptual'],
    symbol: 'perceptual',
    label: 'ground truth: the token is determined by the image',
    kind: 'binary',
    states: ['no', 'yes'],
    scale: { label: 'Perceptual (ground truth)', low: 'not perceptual', high: 'determined by the image' },
  },
  {
    column: 'logpImage',
    path: ['logp', 'image'],
    symbol: 'log p (image)',
    label: 'image view, the old log-prob',
    kind: 'sequential',
    required: true,
    logProb: true,
    scale: { label: 'Surprise (−log p, image view)', negate: true, low: 'expected', high: 'surprising' },
  },
  { column: 'logpBlind', path: ['logp', 'blind'], symbol: 'log p (blind)', label: 'blind view, attention to the image masked', kind: 'none', logProb: true },
  { column: 'logpPerturbed', path: ['logp', 'perturbed'], symbol: 'log p (perturbed)', label: 'perturbed view, patches blackened', kind: 'none', logProb: true },
  { column: 'logpMild', path: ['logp', 'mild'], symbol: 'log p (mild)', label: 'mild view, pixel noise', kind: 'none', logProb: true },
] as const satisfies readonly TokenFieldDef[];

export type TokenField = (typeof TOKEN_FIELD_DEFS)[number]['column'];

export const TOKEN_FIELDS: readonly TokenField[] = TOKEN_FIELD_DEFS.map((d) => d.column);

const BY_COLUMN = new Map<string, TokenFieldDef>(TOKEN_FIELD_DEFS.map((d) => [d.column, d]));
export const tokenFieldDef = (f: TokenField): TokenFieldDef => BY_COLUMN.get(f)!;

/**
 * Per-token arrays that are not numbers to colour: the token texts, their ids, the top alternatives. With the
 * catalogue they are every key whose array has one entry per token.
 */
export const OTHER_PER_TOKEN_KEYS = ['tokens', 'tokenIds', 'topAlternatives'] as const;

/** The record keys that hold an object of per-token arrays (logp.<view>, scores.<name>). */
export const TOKEN_FIELD_GROUPS: ReadonlySet<string> = new Set(TOKEN_FIELD_DEFS.filter((d) => d.path.length === 2).map((d) => d.path[0]));

/** Top-level record keys that hold a per-token array. */
export const PER_TOKEN_KEYS: ReadonlySet<string> = new Set<string>([...OTHER_PER_TOKEN_KEYS, ...TOKEN_FIELD_DEFS.filter((d) => d.path.length === 1).map((d) => d.path[0])]);

/** The record's array for a field (undefined where the rollout does not have it). */
export function fieldArray(ro: RolloutRecord, f: TokenField | TokenFieldDef): number[] | undefined {
  const def = typeof f === 'string' ? tokenFieldDef(f) : f;
  const [key, sub] = def.path as readonly string[];
  const v = (ro as unknown as Record<string, unknown>)[key];
  if (sub === undefined) return v as number[] | undefined;
  return (v as Record<string, number[] | undefined> | undefined)?.[sub];
}

/** The symbol and label of a field under `algorithm`. */
export function fieldName(def: TokenFieldDef, algorithm: AlgorithmName | undefined): { symbol: string; label: string } {
  return (algorithm && def.byAlgorithm?.[algorithm]) || { symbol: def.symbol, label: def.label };
}

/** The per-rollout numbers both cards show beside the token's fields. */
export const ROLLOUT_NUMBERS = [
  { key: 'advantage', symbol: 'Aᵢ', label: 'outcome advantage, the group-normalised reward' },
  { key: 'alpha', symbol: 'αᵢ', label: 'VPPO trajectory weight' },
] as const satisfies ReadonlyArray<{ key: keyof RolloutRecord; symbol: string; label: string }>;

/** One row of a token's card: the same facts for the editor's Markdown card and the webview's. */
export interface FieldRow {
  def: TokenFieldDef;
  symbol: string;
  label: string;
  value: number;
  /** The value in words where it is not a plain number (binary fields), else undefined. */
  text?: string;
}

/**
 * The rows of a token's card, in catalogue order, for the fields the rollout has: `value(def)` reads the
 * token's value (NaN where missing), `has(def)` whether the rollout recorded the field at all.
 */
export function fieldRows(value: (def: TokenFieldDef) => number, has: (def: TokenFieldDef) => boolean, algorithm: AlgorithmName | undefined): FieldRow[] {
  const rows: FieldRow[] = [];
  for (const def of TOKEN_FIELD_DEFS as readonly TokenFieldDef[]) {
    if (!has(def)) continue;
    const v = value(def);
    const text = def.states && Number.isFinite(v) ? def.states[v >= 0.5 ? 1 : 0] : undefined;
    rows.push({ def, ...fieldName(def, algorithm), value: v, text });
  }
  return rows;
}
