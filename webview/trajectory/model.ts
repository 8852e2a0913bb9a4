/**
 * A step's rollouts as the trajectory view holds them: batches of packed columns (the step as read, then live
 * appends), rollout references into them, and the pure filter/sort/group logic (unit-tested; no DOM).
 */
import { packedValues, type PackedRollouts, type RolloutMeta, type TokenField } from '../../src/core/view/pack';
import { signalHi } from '../../src/core/view/signals';
import { SignalDef, aboveThreshold } from '../scales';

export interface RolloutRef {
  /** Position in arrival order (stable key). */
  index: number;
  batch: PackedRollouts;
  /** Index within the batch. */
  r: number;
  meta: RolloutMeta;
  /** Global token range within the batch's columns. */
  start: number;
  end: number;
}

export const tokenCount = (ro: RolloutRef): number => ro.end - ro.start;
export const tokenText = (ro: RolloutRef, k: number): string => {
  const t = ro.start + k;
  return ro.batch.text.slice(ro.batch.textStart[t], ro.batch.textStart[t + 1]);
};
export const field = (ro: RolloutRef, f: TokenField, k: number): number => {
  const col = ro.batch.fields[f];
  return col ? col[ro.start + k] : NaN;
};
/** The recorded top alternatives of token k: [text, log-prob] pairs. */
export function alternatives(ro: RolloutRef, k: number): Array<[string, number]> {
  const a = ro.batch.alternatives;
  if (!a) return [];
  const t = ro.start + k;
  const out: Array<[string, number]> = [];
  for (let e = a.tokenStart[t]; e < a.tokenStart[t + 1]; e++) out.push([a.text.slice(a.textStart[e], a.textStart[e + 1]), a.logp[e]]);
  return out;
}
export const rolloutText = (ro: RolloutRef): string => ro.batch.text.slice(ro.batch.textStart[ro.start], ro.batch.textStart[ro.end]);

/** The raw per-token value of a signal (per-rollout A for `advantage`). */
export function signalRaw(def: SignalDef, ro: RolloutRef, k: number): number {
  if (def.id === 'advantage') return ro.meta.advantage;
  return def.field ? field(ro, def.field, k) : NaN;
}

/**
 * A signal's range over some rollouts' batches: the same function the host uses for a whole step
 * (core/view/signals.ts), here over packed columns (live appends widen the step's ranges with it).
 */
export function signalHiOf(def: SignalDef, rollouts: readonly RolloutRef[]): number {
  return signalHiIn(def, rollouts) ?? 1;
}

/** `signalHiOf`, or undefined where none of the rollouts has the signal. */
export function signalHiIn(def: SignalDef, rollouts: readonly RolloutRef[]): number | undefined {
  return signalHi(def, packedValues(new Set(rollouts.map((r) => r.batch)), Float32Array.from(rollouts, (r) => r.meta.advantage)));
}

/**
 * Whether a rollout answered correctly, where the trainer recorded it. Not guessed from the reward: a
 * format-only reward (0.1) is not a correct answer, and another trainer's rewards may have any scale.
 */
export const isCorrect = (m: RolloutMeta): boolean | undefined => m.correct;

export class StepData {
  readonly rollouts: RolloutRef[] = [];
  readonly batches: PackedRollouts[] = [];
  /** The first batch came with the colour in view only; the rest of its columns are on their way (stepLoader). */
  awaitingDetails = false;
  private readonly ids = new Set<string>();

  constructor(readonly step: number) {}

  /** Adds a batch; rollouts already present (same id) are skipped. Returns the new rollouts. */
  add(batch: PackedRollouts): RolloutRef[] {
    const added: RolloutRef[] = [];
    this.batches.push(batch);
    for (let r = 0; r < batch.meta.length; r++) {
      const meta = batch.meta[r];
      if (this.ids.has(meta.id)) continue;
      this.ids.add(meta.id);
      const ref: RolloutRef = { index: this.rollouts.length, batch, r, meta, start: batch.tokenStart[r], end: batch.tokenStart[r + 1] };
      this.rollouts.push(ref);
      added.push(ref);
    }
    return added;
  }

  /** Which token fields any rollout has (to offer only the signals that exist). */
  fieldsPresent(): Set<TokenField> {
    const s = new Set<TokenField>();
    for (const b of this.batches) for (const [k, v] of Object.entries(b.fields)) if (v && v.some((x) => !Number.isNaN(x))) s.add(k as TokenField);
    return s;
  }

  get tokens(): number {
    let n = 0;
    for (const r of this.rollouts) n += r.end - r.start;
    return n;
  }
}

export type Correctness = 'all' | 'correct' | 'incorrect';
export type AdvantageSign = 'all' | 'positive' | 'negative' | 'zero';
export type SortKey = 'natural' | 'reward-desc' | 'reward-asc' | 'advantage-desc' | 'advantage-asc' | 'length-desc' | 'signal-desc';

export interface FilterState {
  correctness: Correctness;
  advantageSign: AdvantageSign;
  /** Keep rollouts with reward ≥ this (NaN: no bound). */
  minReward: number;
  /** Keep rollouts with at least one token whose signal passes this threshold (NaN: off). */
  threshold: number;
  /** Case-insensitive text in the response or the prompt. */
  text: string;
  sort: SortKey;
  grouped: boolean;
}

export const defaultFilter = (): FilterState => ({
  correctness: 'all',
  advantageSign: 'all',
  minReward: NaN,
  threshold: NaN,
  text: '',
  sort: 'natural',
  grouped: true,
});

const EPS = 1e-9;

/** Tokens (indices within the rollout) overlapped by a case-insensitive match of `query`. */
export function textMatches(ro: RolloutRef, query: string): number[] {
  if (!query) return [];
  const q = query.toLowerCase();
  const text = rolloutText(ro).toLowerCase();
  const base = ro.batch.textStart[ro.start];
  const out = new Set<number>();
  for (let i = text.indexOf(q); i >= 0; i = text.indexOf(q, i + 1)) {
    // Tokens whose [start, end) overlaps [i, i + q.length).
    let lo = 0;
    let hi = ro.end - ro.start - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ro.batch.textStart[ro.start + mid] - base <= i) lo = mid;
      else hi = mid - 1;
    }
    for (let k = lo; k < ro.end - ro.start && ro.batch.textStart[ro.start + k] - base < i + q.length; k++) out.add(k);
  }
  return [...out].sort((a, b) => a - b);
}

/** The largest signal value of a rollout (for "sort by signal"). */
export function maxSignal(def: SignalDef, ro: RolloutRef): number {
  let m = -Infinity;
  for (let k = 0; k < ro.end - ro.start; k++) {
    const v = signalRaw(def, ro, k);
    if (Number.isFinite(v)) m = Math.max(m, def.kind === 'diverging' ? Math.abs(v - (def.centre ?? 0)) : v);
  }
  return m;
}

export function passes(ro: RolloutRef, f: FilterState, def: SignalDef): boolean {
  const m = ro.meta;
  // A rollout that did not record correctness passes neither "correct" nor "incorrect".
  if (f.correctness !== 'all' && isCorrect(m) !== (f.correctness === 'correct')) return false;
  if (f.advantageSign === 'positive' && !(m.advantage > EPS)) return false;
  if (f.advantageSign === 'negative' && !(m.advantage < -EPS)) return false;
  if (f.advantageSign === 'zero' && !(Math.abs(m.advantage) <= EPS)) return false;
  if (Number.isFinite(f.minReward) && !(m.reward >= f.minReward)) return false;
  if (Number.isFinite(f.threshold)) {
    let any = false;
    for (let k = 0; k < ro.end - ro.start && !any; k++) any = aboveThreshold(def, signalRaw(def, ro, k), f.threshold);
    if (!any) return false;
  }
  if (f.text) {
    const q = f.text.toLowerCase();
    if (!rolloutText(ro).toLowerCase().includes(q) && !m.prompt.toLowerCase().includes(q)) return false;
  }
  return true;
}

function sortValue(ro: RolloutRef, key: SortKey, def: SignalDef): number {
  switch (key) {
    case 'reward-desc':
      return -ro.meta.reward;
    case 'reward-asc':
      return ro.meta.reward;
    case 'advantage-desc':
      return -ro.meta.advantage;
    case 'advantage-asc':
      return ro.meta.advantage;
    case 'length-desc':
      return -(ro.end - ro.start);
    case 'signal-desc':
      return -maxSignal(def, ro);
    default:
      return ro.index;
  }
}

export interface Group {
  key: string;
  prompt: string;
  image?: string;
  answer?: string;
  rollouts: RolloutRef[];
}

/**
 * Filters, sorts and groups. Grouped: groups by prompt (GRPO group), in order of their best member, members
 * sorted; ungrouped: one pseudo-group per rollout.
 */
export function arrange(rollouts: readonly RolloutRef[], f: FilterState, def: SignalDef): Group[] {
  const kept = rollouts.filter((ro) => passes(ro, f, def));
  const value = new Map<RolloutRef, number>();
  for (const ro of kept) value.set(ro, sortValue(ro, f.sort, def));
  const cmp = (a: RolloutRef, b: RolloutRef): number => value.get(a)! - value.get(b)! || a.index - b.index;
  kept.sort(cmp);
  if (!f.grouped) return kept.map((ro) => ({ key: ro.meta.id, prompt: ro.meta.prompt, image: ro.meta.image, answer: ro.meta.answer, rollouts: [ro] }));
  const groups = new Map<string, Group>();
  for (const ro of kept) {
    let g = groups.get(ro.meta.group);
    if (!g) groups.set(ro.meta.group, (g = { key: ro.meta.group, prompt: ro.meta.prompt, image: ro.meta.image, answer: ro.meta.answer, rollouts: [] }));
    g.rollouts.push(ro);
  }
  return [...groups.values()];
}
