/**
 * Compare a prompt across steps and runs (issue 15): one prompt's (GRPO group's) rollouts at several steps of a
 * run, or at one step of several runs, side by side. Each row holds the r-th rollout of the prompt in every
 * column; a row's responses are aligned token by token on the prefix they share with the row's first response
 * (beyond it they diverge and are shown unaligned); the colour scales are computed once over every column, so a
 * colour means one value wherever it appears; and per aligned token position a strip records how RVD, Ã and the
 * log-prob moved from column to column. A column where the prompt was not sampled says so, with the reason.
 *
 * Pure: no Node, vscode or DOM imports (the host reads the steps with run/reader.ts through its RunSource).
 */
import type { AlgorithmName, RolloutRecord } from '../run/schema';
import { fieldArray, type TokenField } from '../run/tokenFields';
import { packRollouts, type PackedRollouts } from './pack';
import { stepRanges, type SignalId } from './signals';

/**
 * Validation prompts are the natural ones to follow (the same images at every validation step, and never
 * trained on): the built-in shapes task names its examples `<split>-<index>` (`val-000012`), and a run's group
 * is the example's id. Other trainers' group ids carry no split, so none of theirs counts as validation.
 */
export const isValidationGroup = (group: string): boolean => /^val[-_]/.test(group);

/** One prompt of a run as the picker lists it. */
export interface PromptEntry {
  group: string;
  /** The prompt text (as first met). */
  prompt: string;
  /** Steps that sampled it, ascending. */
  steps: number[];
  /** Its rollouts over all those steps. */
  rollouts: number;
  validation: boolean;
}

/**
 * The prompts of a run, gathered step by step (the host reads one step at a time and keeps only this, not the
 * rollouts). Adding a step again replaces what it said before (the last step of a live run grows), so a host
 * may keep a catalogue and add only the steps that are new or may have changed. `entries()` lists validation
 * prompts first, then the prompts sampled at the most steps.
 */
export class PromptCatalogue {
  /** Per group: its prompt and its rollouts per step. */
  private readonly byGroup = new Map<string, { prompt: string; perStep: Map<number, number> }>();
  private readonly stepsAdded = new Set<number>();

  add(step: number, rollouts: readonly Pick<RolloutRecord, 'group' | 'prompt'>[]): void {
    if (this.stepsAdded.has(step)) for (const g of this.byGroup.values()) g.perStep.delete(step);
    this.stepsAdded.add(step);
    for (const r of rollouts) {
      let g = this.byGroup.get(r.group);
      if (!g) this.byGroup.set(r.group, (g = { prompt: r.prompt, perStep: new Map() }));
      g.perStep.set(step, (g.perStep.get(step) ?? 0) + 1);
    }
  }

  /** Whether `step` has been added. */
  has(step: number): boolean {
    return this.stepsAdded.has(step);
  }

  entries(): PromptEntry[] {
    const out: PromptEntry[] = [];
    for (const [group, g] of this.byGroup) {
      if (g.perStep.size === 0) continue;
      let rollouts = 0;
      for (const n of g.perStep.values()) rollouts += n;
      out.push({ group, prompt: g.prompt, steps: [...g.perStep.keys()].sort((a, b) => a - b), rollouts, validation: isValidationGroup(group) });
    }
    return out.sort((a, b) => Number(b.validation) - Number(a.validation) || b.steps.length - a.steps.length || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  }
}

/** Most columns a comparison shows by default (the steps that sampled the prompt, evenly spread, last one kept). */
export const DEFAULT_MAX_COLUMNS = 8;

/** `max` of `steps` spread evenly from the first to the last (all of them when there are no more than `max`). */
export function spreadSteps(steps: readonly number[], max = DEFAULT_MAX_COLUMNS): number[] {
  if (steps.length <= max) return [...steps];
  if (max <= 1) return steps.slice(-1);
  const picked = new Set<number>();
  for (let i = 0; i < max; i++) picked.add(steps[Math.round((i * (steps.length - 1)) / (max - 1))]);
  return [...picked].sort((a, b) => a - b);
}

/** One column as the host read it: a step of a run. */
export interface CompareColumnInput {
  step: number;
  /** The run's name (several runs are compared at one step; one run's columns may leave it out). */
  run?: string;
  /**
   * The step's rollouts (all groups; the comparison keeps the prompt's). Undefined when the step could not be
   * read, with `unreadable` saying why (the run has no such step, the file is unreadable).
   */
  rollouts: readonly RolloutRecord[] | undefined;
  unreadable?: string;
}

export interface CompareColumn {
  step: number;
  run?: string;
  /** "step 12", or "<run> · step 12" across runs. */
  label: string;
  /** The prompt's rollouts at this step, in file order. */
  rollouts: RolloutRecord[];
  /** Why the column has no rollouts ("not sampled at step 7"); undefined when it has some. */
  missing?: string;
}

/** The per-position strip's fields: how dependency, the reshaped advantage and the log-prob moved. */
export const STRIP_FIELDS = ['rvd', 'tokenAdvantage', 'logpImage'] as const satisfies readonly TokenField[];
export type StripField = (typeof STRIP_FIELDS)[number];

export interface CompareRow {
  /** The r-th rollout of the prompt in each column. */
  index: number;
  /** The column whose response the others are aligned to: the first column that has an r-th rollout. */
  reference: number;
  /**
   * Per column, how many leading tokens its response shares with the reference response (the reference: all of
   * its tokens); undefined where the column has no r-th rollout.
   */
  shared: Array<number | undefined>;
  /** Positions aligned across at least two columns: the longest prefix the reference shares with another column. */
  aligned: number;
  /**
   * strip[field][p][c]: the field's value at aligned position p in column c; NaN where column c's response has
   * diverged before p, has no r-th rollout, or did not record the field.
   */
  strip: Record<StripField, number[][]>;
}

export interface PromptComparison {
  group: string;
  /** The prompt's text (from the first column that sampled it; empty when none did). */
  prompt: string;
  answer?: string;
  validation: boolean;
  columns: CompareColumn[];
  rows: CompareRow[];
  /** Every signal's range over every column's rollouts of the prompt: one fixed scale for the whole view. */
  ranges: Partial<Record<SignalId, number>>;
}

/** Columns label their step, and their run where several runs are compared. */
const columnLabel = (c: Pick<CompareColumnInput, 'step' | 'run'>): string => (c.run !== undefined ? `${c.run} · step ${c.step}` : `step ${c.step}`);

/** How many leading tokens two responses share (by token text: what the view shows). */
export function sharedPrefix(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  let k = 0;
  while (k < n && a[k] === b[k]) k++;
  return k;
}

/** The comparison of prompt `group` over `inputs` (one column each, in the order given). */
export function comparePrompt(group: string, inputs: readonly CompareColumnInput[]): PromptComparison {
  const columns: CompareColumn[] = inputs.map((c) => {
    const label = columnLabel(c);
    if (!c.rollouts) return { step: c.step, run: c.run, label, rollouts: [], missing: c.unreadable ?? `step ${c.step} could not be read` };
    const rollouts = c.rollouts.filter((r) => r.group === group);
    const where = c.run !== undefined ? `step ${c.step} of ${c.run}` : `step ${c.step}`;
    return rollouts.length ? { step: c.step, run: c.run, label, rollouts } : { step: c.step, run: c.run, label, rollouts, missing: `not sampled at ${where}` };
  });
  const first = columns.find((c) => c.rollouts.length)?.rollouts[0];
  const all = columns.flatMap((c) => c.rollouts);
  const nRows = Math.max(0, ...columns.map((c) => c.rollouts.length));
  const rows: CompareRow[] = [];
  for (let r = 0; r < nRows; r++) {
    const reference = columns.findIndex((c) => c.rollouts.length > r);
    const ref = columns[reference].rollouts[r];
    const shared = columns.map((c, i) => (c.rollouts.length > r ? (i === reference ? ref.tokens.length : sharedPrefix(ref.tokens, c.rollouts[r].tokens)) : undefined));
    const aligned = Math.max(0, ...shared.filter((s, i): s is number => s !== undefined && i !== reference));
    const strip = {} as Record<StripField, number[][]>;
    for (const f of STRIP_FIELDS) {
      const arrays = columns.map((c) => (c.rollouts.length > r ? fieldArray(c.rollouts[r], f) : undefined));
      strip[f] = Array.from({ length: aligned }, (_, p) => arrays.map((a, i) => (a && p < (shared[i] ?? 0) && typeof a[p] === 'number' ? a[p] : NaN)));
    }
    rows.push({ index: r, reference, shared, aligned, strip });
  }
  return {
    group,
    prompt: first?.prompt ?? '',
    answer: first?.answer,
    validation: isValidationGroup(group),
    columns,
    rows,
    ranges: stepRanges(all),
  };
}

/** A column as it crosses to the webview: its rollouts of the prompt packed into columns (view/pack.ts). */
export interface CompareViewColumn {
  step: number;
  run?: string;
  label: string;
  missing?: string;
  /** The run's algorithm (the hover card names the weight by it). */
  algorithm?: AlgorithmName;
  rollouts: PackedRollouts;
}

/** What the compare webview draws: the comparison with each column's rollouts packed. */
export interface CompareView extends Omit<PromptComparison, 'columns'> {
  columns: CompareViewColumn[];
}

export function packComparison(cmp: PromptComparison, algorithmOf: (column: CompareColumn) => AlgorithmName | undefined = () => undefined): CompareView {
  return {
    ...cmp,
    columns: cmp.columns.map((c) => ({ step: c.step, run: c.run, label: c.label, missing: c.missing, algorithm: algorithmOf(c), rollouts: packRollouts(c.step, c.rollouts) })),
  };
}
