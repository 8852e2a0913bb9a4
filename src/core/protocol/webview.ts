/**
 * Every message between the extension host and the PRPO Studio webviews, declared once (GitLens-style):
 *  - IpcCommand<P>:      webview → host, fire and forget;
 *  - IpcRequest<P, R>:   webview → host, the host answers with a typed reply (matched by `id`);
 *  - IpcNotification<P>: host → webview.
 * The host holds its notifications until the webview sends `ReadyCommand`.
 *
 * Per-token arrays cross postMessage as typed arrays (VS Code serialises ArrayBuffers and typed arrays without
 * going through JSON): a step's rollouts travel as columns (`PackedRollouts`), one Float32Array per field over
 * all tokens of the batch, with `NaN` where a rollout lacks the field.
 *
 * Pure types and pure functions: no Node, vscode or DOM imports.
 */
import type { MetricsRow, RolloutRecord, RunManifest, RunStatus } from '../run/schema';

export type IpcScope = 'trajectory' | 'charts';

export class IpcCommand<P = void> {
  readonly kind = 'command' as const;
  declare readonly _params: P;
  constructor(readonly scope: IpcScope | 'common', readonly method: string) {}
}

export class IpcRequest<P = void, R = void> {
  readonly kind = 'request' as const;
  declare readonly _params: P;
  declare readonly _response: R;
  constructor(readonly scope: IpcScope | 'common', readonly method: string) {}
}

export class IpcNotification<P = void> {
  readonly kind = 'notification' as const;
  declare readonly _params: P;
  constructor(readonly scope: IpcScope | 'common', readonly method: string) {}
}

export type IpcParams<T> = T extends IpcCommand<infer P> | IpcNotification<infer P> ? P : T extends IpcRequest<infer P, unknown> ? P : never;
export type IpcResponse<T> = T extends IpcRequest<unknown, infer R> ? R : never;

/** What actually crosses postMessage. `id` pairs a request with its reply. */
export interface IpcMessage {
  method: string;
  params?: unknown;
  /** Set on requests and on their replies. */
  id?: number;
  /** Set on a reply whose request failed. */
  error?: string;
  /** Host clock (ms since the epoch) when a notification was posted, for latency measurements. */
  sentAt?: number;
}

export const replyMethod = (method: string): string => `${method}/reply`;

// ---------------------------------------------------------------------------------------------- data shapes

/** Per-token numeric fields of ALGORITHMS.md §7 as packed columns. */
export const TOKEN_FIELDS = [
  'logpImage',
  'logpBlind',
  'logpPerturbed',
  'logpMild',
  'S',
  'G',
  'U',
  'rvd',
  'weight',
  'mask',
  'tokenAdvantage',
  'perceptual',
] as const;
export type TokenField = (typeof TOKEN_FIELDS)[number];

/** Per-rollout scalars and strings (everything that is not per token). */
export interface RolloutMeta {
  id: string;
  group: string;
  prompt: string;
  image?: string;
  answer?: string;
  reward: number;
  correct?: boolean;
  advantage: number;
  alpha?: number;
}

/**
 * Top alternatives of every token of a batch, where recorded, as columns: token t's alternatives are entries
 * `tokenStart[t] .. tokenStart[t + 1]`; entry e is `text.slice(textStart[e], textStart[e + 1])` with log-prob
 * `logp[e]`. (Thousands of small [text, logp] pairs would make postMessage's structured clone slow.)
 */
export interface PackedAlternatives {
  tokenStart: Uint32Array;
  text: string;
  textStart: Uint32Array;
  logp: Float32Array;
}

/**
 * A batch of rollouts as columns. Rollout r owns tokens `tokenStart[r] .. tokenStart[r + 1]`; token t's text is
 * `text.slice(textStart[t], textStart[t + 1])`.
 */
export interface PackedRollouts {
  step: number;
  meta: RolloutMeta[];
  tokenStart: Uint32Array;
  text: string;
  textStart: Uint32Array;
  tokenIds?: Int32Array;
  fields: Partial<Record<TokenField, Float32Array>>;
  alternatives?: PackedAlternatives;
}

export interface RunInfo {
  id: string;
  name: string;
  algorithm: RunManifest['algorithm'];
  source: RunManifest['source'];
  status: RunStatus;
  /** Patch size of the model's image embedding, when the manifest says (for the perturbed-view illustration). */
  patchSize?: number;
  /** Mild-view noise σ from the config, when given (ALGORITHMS.md: 0.1). */
  mildSigma?: number;
  /** Perturbed-view patch drop probability (0.5). */
  perturbProb?: number;
}

export interface ChartRun {
  id: string;
  name: string;
  algorithm: string;
  status: RunStatus;
  rows: MetricsRow[];
}

// ---------------------------------------------------------------------------------------------- messages

/** The webview has loaded and listens; the host flushes what it held. */
export const ReadyCommand = new IpcCommand<{ scope: IpcScope }>('common', 'ready');
/** Something the webview wants the user to see (errors of its own). */
export const ShowMessageCommand = new IpcCommand<{ level: 'info' | 'warning' | 'error'; message: string }>('common', 'showMessage');
/** Performance marks measured in the webview (benchmarks, and the output channel on request). */
export const PerfReportCommand = new IpcCommand<{ name: string; ms: number }>('common', 'perf');

/** Load a step's rollouts. */
export const GetStepRequest = new IpcRequest<
  { step: number },
  {
    /** The first rollouts of the step; the webview asks for the rest with GetStepPartRequest. */
    rollouts: PackedRollouts;
    /** How many rollouts the step has. */
    total: number;
    /** Every signal's range over the whole step. */
    ranges: Partial<Record<SignalId, number>>;
    issues: string[];
    /** Host-side milliseconds, for the benchmarks. */
    timing?: { readMs: number; packMs: number; sentAt: number };
  }
>('trajectory', 'getStep');
/**
 * The next part of a step being opened, from rollout `from` on. Pulled one at a time by the webview, so leaving
 * a step stops its transfer and a newly opened step never queues behind the rest of the old one.
 */
export const GetStepPartRequest = new IpcRequest<{ step: number; from: number }, { rollouts: PackedRollouts; last: boolean }>('trajectory', 'getStepPart');
/** A task image as a data: URL (so the webview may read its pixels for the blind/perturbed/mild views). */
export const GetImageRequest = new IpcRequest<{ image: string }, { dataUrl?: string; error?: string }>('trajectory', 'getImage');
/** Live follow on/off: while on, the host streams new rollouts of the current step and moves to new steps. */
export const SetFollowCommand = new IpcCommand<{ follow: boolean; step: number }>('trajectory', 'setFollow');

/** First message to a trajectory view: the run, its steps, and the step to show. */
export const TrajectoryInitNotification = new IpcNotification<{ run: RunInfo; steps: number[]; step?: number }>('trajectory', 'init');
/** Show another step (the host was asked to, e.g. from the run explorer). */
export const ShowStepNotification = new IpcNotification<{ step: number }>('trajectory', 'showStep');
/** The set of steps changed (a live run wrote a new step file). */
export const StepsChangedNotification = new IpcNotification<{ steps: number[] }>('trajectory', 'stepsChanged');
/** New rollouts of a step (live). */
export const RolloutsAppendedNotification = new IpcNotification<{ rollouts: PackedRollouts }>('trajectory', 'rolloutsAppended');
export const StatusChangedNotification = new IpcNotification<{ runId: string; status: RunStatus }>('common', 'status');

/** First message to a charts view: every run's metrics so far. */
export const ChartsInitNotification = new IpcNotification<{ runs: ChartRun[] }>('charts', 'init');
/** New metrics rows of one run (live). */
export const MetricsAppendedNotification = new IpcNotification<{ runId: string; rows: MetricsRow[] }>('charts', 'metricsAppended');

// ---------------------------------------------------------------------------------------------- signals

/**
 * The signals tokens can be coloured by, and their scales' ranges (the webview draws them: webview/scales.ts;
 * the host computes a step's ranges over all its rollouts before the first rollouts are sent).
 */
export type SignalId = 'rvd' | 'S' | 'G' | 'U' | 'tokenAdvantage' | 'advantage' | 'weight' | 'mask' | 'perceptual' | 'logpImage' | 'none';
export type ScaleKind = 'sequential' | 'diverging' | 'binary' | 'none';

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
  /** Legend text for the two ends (and for binary, the "on" meaning). */
  low: string;
  high: string;
}

/**
 * The diverging pair for signed values (advantages), colour-blind safe: orange for positive, blue for negative.
 * Shared by the webview's scales and the editor's token view, so a sign reads the same everywhere.
 */
export const DIVERGING = { positive: '#e66101', negative: '#2f7fc1' } as const;

export const SIGNALS: readonly SignalDef[] = [
  { id: 'rvd', label: 'RVD (PRPO-R robust visual dependency)', kind: 'sequential', field: 'rvd', fixedHi: 1, low: 'not visual', high: 'visually grounded & stable' },
  { id: 'S', label: 'S (dependency, VPPO/PGPO)', kind: 'sequential', field: 'S', low: 'no dependency', high: 'depends on the image' },
  { id: 'G', label: 'G (grounding: image vs blind)', kind: 'sequential', field: 'G', low: 'no grounding', high: 'grounded' },
  { id: 'U', label: 'U (instability: image vs mild noise)', kind: 'sequential', field: 'U', low: 'stable', high: 'unstable' },
  { id: 'tokenAdvantage', label: 'Ã (reshaped token advantage)', kind: 'diverging', field: 'tokenAdvantage', centre: 0, low: 'pushed down', high: 'pushed up' },
  { id: 'advantage', label: 'A (outcome advantage, per rollout)', kind: 'diverging', centre: 0, low: 'below group mean', high: 'above group mean' },
  { id: 'weight', label: 'Weight (ω̃ / w, around 1)', kind: 'diverging', field: 'weight', centre: 1, low: 'suppressed', high: 'amplified' },
  { id: 'mask', label: 'VPPO mask m', kind: 'binary', field: 'mask', low: 'masked (no gradient)', high: 'kept (in the top k)' },
  { id: 'perceptual', label: 'Perceptual (ground truth)', kind: 'binary', field: 'perceptual', low: 'not perceptual', high: 'determined by the image' },
  { id: 'logpImage', label: 'Surprise (−log p, image view)', kind: 'sequential', field: 'logpImage', low: 'expected', high: 'surprising' },
  { id: 'none', label: 'No colour', kind: 'none', low: '', high: '' },
];

export const signalDef = (id: SignalId): SignalDef => SIGNALS.find((s) => s.id === id) ?? SIGNALS[SIGNALS.length - 1];

/** The value a signal colours by, from a raw column value (surprise is −log p; others as recorded). */
export const signalValue = (def: SignalDef, raw: number): number => (def.id === 'logpImage' ? -raw : raw);

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

/** Every signal's range over a whole step (so the first rollouts sent already use the step's fixed ranges). */
export function stepRanges(rollouts: readonly RolloutRecord[]): Partial<Record<SignalId, number>> {
  const out: Partial<Record<SignalId, number>> = {};
  for (const def of SIGNALS) {
    if (def.kind === 'none') continue;
    if (def.id === 'advantage') {
      out.advantage = scaleHi(def, [rollouts.map((r) => r.advantage)]);
      continue;
    }
    const cols = rollouts.map((r) => (def.field ? fieldArray(r, def.field) : undefined)).filter((c): c is number[] => !!c);
    if (cols.length) out[def.id] = scaleHi(def, cols);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- packing

/** The record's array for a packed column. */
export function fieldArray(ro: RolloutRecord, f: TokenField): number[] | undefined {
  switch (f) {
    case 'logpImage':
      return ro.logp?.image;
    case 'logpBlind':
      return ro.logp?.blind;
    case 'logpPerturbed':
      return ro.logp?.perturbed;
    case 'logpMild':
      return ro.logp?.mild;
    case 'S':
    case 'G':
    case 'U':
    case 'rvd':
      return ro.scores?.[f];
    case 'weight':
      return ro.weights;
    case 'mask':
      return ro.mask;
    case 'tokenAdvantage':
      return ro.tokenAdvantages;
    case 'perceptual':
      return ro.perceptual;
  }
}

/** Packs rollouts into columns: per-token numbers into Float32Arrays, token texts into one string. */
export function packRollouts(step: number, rollouts: readonly RolloutRecord[]): PackedRollouts {
  let tokens = 0;
  for (const r of rollouts) tokens += r.tokens.length;
  const tokenStart = new Uint32Array(rollouts.length + 1);
  const textStart = new Uint32Array(tokens + 1);
  const fields: Partial<Record<TokenField, Float32Array>> = {};
  const column = (f: TokenField): Float32Array => (fields[f] ??= new Float32Array(tokens).fill(NaN));
  let tokenIds: Int32Array | undefined;
  const parts: string[] = [];
  const hasAlts = rollouts.some((r) => r.topAlternatives?.some((a) => a && a.length));
  const altTokenStart = hasAlts ? new Uint32Array(tokens + 1) : undefined;
  const altParts: string[] = [];
  const altTextStart: number[] = [];
  const altLogp: number[] = [];
  let altChars = 0;
  const meta: RolloutMeta[] = [];
  let t = 0;
  let chars = 0;
  for (let r = 0; r < rollouts.length; r++) {
    const ro = rollouts[r];
    const n = ro.tokens.length;
    tokenStart[r] = t;
    for (let k = 0; k < n; k++) {
      const s = String(ro.tokens[k] ?? '');
      textStart[t + k] = chars;
      chars += s.length;
      parts.push(s);
    }
    const put = (f: TokenField, arr: readonly number[] | undefined): void => {
      if (!arr) return;
      const col = column(f);
      const m = Math.min(n, arr.length);
      for (let k = 0; k < m; k++) {
        const v = arr[k];
        col[t + k] = typeof v === 'number' ? v : NaN;
      }
    };
    for (const f of TOKEN_FIELDS) put(f, fieldArray(ro, f));
    if (ro.tokenIds) {
      tokenIds ??= new Int32Array(tokens).fill(-1);
      for (let k = 0; k < Math.min(n, ro.tokenIds.length); k++) tokenIds[t + k] = ro.tokenIds[k];
    }
    if (altTokenStart) {
      for (let k = 0; k < n; k++) {
        altTokenStart[t + k] = altLogp.length;
        const alts = ro.topAlternatives?.[k];
        if (!alts) continue;
        for (const pair of alts) {
          const text = String(pair?.[0] ?? '');
          altTextStart.push(altChars);
          altChars += text.length;
          altParts.push(text);
          altLogp.push(typeof pair?.[1] === 'number' ? pair[1] : NaN);
        }
      }
    }
    meta.push({
      id: ro.id,
      group: ro.group,
      prompt: ro.prompt,
      image: ro.image,
      answer: ro.answer,
      reward: ro.reward,
      correct: ro.correct,
      advantage: ro.advantage,
      alpha: ro.alpha,
    });
    t += n;
  }
  tokenStart[rollouts.length] = t;
  textStart[tokens] = chars;
  let alternatives: PackedAlternatives | undefined;
  if (altTokenStart) {
    altTokenStart[tokens] = altLogp.length;
    altTextStart.push(altChars);
    alternatives = { tokenStart: altTokenStart, text: altParts.join(''), textStart: Uint32Array.from(altTextStart), logp: Float32Array.from(altLogp) };
  }
  return { step, meta, tokenStart, text: parts.join(''), textStart, tokenIds, fields, alternatives };
}
