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
  { rollouts: PackedRollouts; issues: string[]; /** Host-side milliseconds, for the benchmarks. */ timing?: { readMs: number; packMs: number; sentAt: number } }
>('trajectory', 'getStep');
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

// ---------------------------------------------------------------------------------------------- packing

const VIEW_FIELD: Record<string, TokenField> = { image: 'logpImage', blind: 'logpBlind', perturbed: 'logpPerturbed', mild: 'logpMild' };

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
    for (const [view, f] of Object.entries(VIEW_FIELD)) put(f, ro.logp?.[view as keyof RolloutRecord['logp']]);
    put('S', ro.scores?.S);
    put('G', ro.scores?.G);
    put('U', ro.scores?.U);
    put('rvd', ro.scores?.rvd);
    put('weight', ro.weights);
    put('mask', ro.mask);
    put('tokenAdvantage', ro.tokenAdvantages);
    put('perceptual', ro.perceptual);
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
