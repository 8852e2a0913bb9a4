/**
 * A batch of rollouts as columns, the shape a step's rollouts cross postMessage in: VS Code serialises typed
 * arrays without going through JSON, so each per-token field (run/tokenFields.ts) travels as one Float32Array
 * over all tokens of the batch, with `NaN` where a rollout lacks the field.
 *
 * Pure: no Node, vscode or DOM imports (the webview bundles this file).
 */
import type { RolloutRecord } from '../run/schema';
import { TOKEN_FIELDS, fieldArray, type TokenField } from '../run/tokenFields';

export { TOKEN_FIELDS, type TokenField } from '../run/tokenFields';

/** The per-rollout scalars and strings a view needs (everything of a record that is not per token). */
export const ROLLOUT_META_KEYS = ['id', 'group', 'prompt', 'image', 'answer', 'reward', 'correct', 'advantage', 'alpha'] as const;
export type RolloutMeta = Pick<RolloutRecord, (typeof ROLLOUT_META_KEYS)[number]>;

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

/**
 * Longest token text, and longest prompt, answer, id or group, that reaches the view. A record may hold a
 * megabyte in one token or prompt (a runaway generation, a hostile file); the view gets the start and a note
 * of what was cut, so it stays responsive. The rollout file itself still has it all.
 */
export const MAX_TOKEN_CHARS = 2_000;
export const MAX_TEXT_CHARS = 20_000;

/** `s`, or its first `max` characters (not splitting a surrogate pair) and "… [N more characters not shown]". */
export function clipText(s: string, max: number): string {
  if (s.length <= max) return s;
  const end = /[\ud800-\udbff]/.test(s[max - 1]) ? max - 1 : max;
  return `${s.slice(0, end)}… [${(s.length - end).toLocaleString('en-US')} more characters not shown]`;
}

function metaOf(ro: RolloutRecord): RolloutMeta {
  const meta: Record<string, unknown> = {};
  for (const k of ROLLOUT_META_KEYS) {
    const v = ro[k];
    if (v !== undefined) meta[k] = typeof v === 'string' ? clipText(v, MAX_TEXT_CHARS) : v;
  }
  return meta as RolloutMeta;
}

/** What a batch's first message may leave out, for packDetails to bring once the view has painted. */
export interface PackedDetails {
  fields: Partial<Record<TokenField, Float32Array>>;
  tokenIds?: Int32Array;
  alternatives?: PackedAlternatives;
}

/**
 * Packs rollouts into columns: per-token numbers into Float32Arrays, token texts into one string. With `only`,
 * just those per-token columns (the colour in view), no token ids and no top alternatives: a view opening a
 * step paints from that and asks for the rest after (packDetails over the same rollouts) — the other columns
 * and the alternatives are four fifths of a long rollout's bytes.
 */
export function packRollouts(step: number, rollouts: readonly RolloutRecord[], opts: { only?: readonly TokenField[] } = {}): PackedRollouts {
  const tokens = tokenCount(rollouts);
  const tokenStart = new Uint32Array(rollouts.length + 1);
  const textStart = new Uint32Array(tokens + 1);
  const parts: string[] = [];
  const meta: RolloutMeta[] = [];
  let t = 0;
  let chars = 0;
  for (let r = 0; r < rollouts.length; r++) {
    const ro = rollouts[r];
    const n = ro.tokens.length;
    tokenStart[r] = t;
    for (let k = 0; k < n; k++) {
      const s = clipText(String(ro.tokens[k] ?? ''), MAX_TOKEN_CHARS);
      textStart[t + k] = chars;
      chars += s.length;
      parts.push(s);
    }
    meta.push(metaOf(ro));
    t += n;
  }
  tokenStart[rollouts.length] = t;
  textStart[tokens] = chars;
  if (opts.only) return { step, meta, tokenStart, text: parts.join(''), textStart, fields: packColumns(rollouts, tokens, opts.only) };
  return { step, meta, tokenStart, text: parts.join(''), textStart, ...packDetails(rollouts) };
}

/** The per-token columns (all but `except`), token ids and top alternatives of `rollouts`, numbered as packRollouts numbers them. */
export function packDetails(rollouts: readonly RolloutRecord[], except: readonly TokenField[] = []): PackedDetails {
  const tokens = tokenCount(rollouts);
  let tokenIds: Int32Array | undefined;
  let t = 0;
  for (const ro of rollouts) {
    const n = ro.tokens.length;
    if (ro.tokenIds) {
      tokenIds ??= new Int32Array(tokens).fill(-1);
      for (let k = 0; k < Math.min(n, ro.tokenIds.length); k++) tokenIds[t + k] = ro.tokenIds[k];
    }
    t += n;
  }
  const fields = packColumns(rollouts, tokens, TOKEN_FIELDS.filter((f) => !except.includes(f)));
  return { fields, tokenIds, alternatives: packAlternatives(rollouts, tokens) };
}

/** The columns `which` over all tokens of `rollouts` (`NaN` where a rollout lacks the field); absent when no rollout has it. */
function packColumns(rollouts: readonly RolloutRecord[], tokens: number, which: readonly TokenField[]): Partial<Record<TokenField, Float32Array>> {
  const fields: Partial<Record<TokenField, Float32Array>> = {};
  let t = 0;
  for (const ro of rollouts) {
    const n = ro.tokens.length;
    for (const f of which) {
      const arr = fieldArray(ro, f);
      if (!arr) continue;
      const col = (fields[f] ??= new Float32Array(tokens).fill(NaN));
      const m = Math.min(n, arr.length);
      for (let k = 0; k < m; k++) col[t + k] = arr[k];
    }
    t += n;
  }
  return fields;
}

/** All tokens of `rollouts`. */
function tokenCount(rollouts: readonly RolloutRecord[]): number {
  let n = 0;
  for (const r of rollouts) n += r.tokens.length;
  return n;
}

/** The top alternatives of the `tokens` tokens of `rollouts` (numbered as packRollouts numbers them), where recorded. */
function packAlternatives(rollouts: readonly RolloutRecord[], tokens: number): PackedAlternatives | undefined {
  if (!rollouts.some((r) => r.topAlternatives?.some((a) => a && a.length))) return undefined;
  const tokenStart = new Uint32Array(tokens + 1);
  const parts: string[] = [];
  const textStart: number[] = [];
  const logp: number[] = [];
  let chars = 0;
  let t = 0;
  for (const ro of rollouts) {
    for (let k = 0; k < ro.tokens.length; k++, t++) {
      tokenStart[t] = logp.length;
      for (const [full, lp] of ro.topAlternatives?.[k] ?? []) {
        const text = clipText(full, MAX_TOKEN_CHARS);
        textStart.push(chars);
        chars += text.length;
        parts.push(text);
        logp.push(lp);
      }
    }
  }
  tokenStart[tokens] = logp.length;
  textStart.push(chars);
  return { tokenStart, text: parts.join(''), textStart: Uint32Array.from(textStart), logp: Float32Array.from(logp) };
}

/** The values a range is computed over, from packed batches (the webview's side of view/signals.ts signalHi). */
export function packedValues(batches: Iterable<PackedRollouts>, advantages: ArrayLike<number>): { advantages: ArrayLike<number>; columns(f: TokenField): Float32Array[] } {
  const list = [...batches];
  return { advantages, columns: (f) => list.map((b) => b.fields[f]).filter((c): c is Float32Array => !!c) };
}
