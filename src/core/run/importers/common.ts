/**
 * What importers of other trainers' logs share: the handle every run is read through (native or imported),
 * the manifest an import gets, response-level rollouts, and metric names mapped to ours.
 */
import { existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { outcomeAdvantages } from '../../algorithms/outcome';
import {
  RUN_SCHEMA,
  type AlgorithmName,
  type MetricsRow,
  type RolloutRecord,
  type RunInfo,
  type RunManifest,
  type RunSource,
} from '../schema';
import { validateManifest } from '../validate';
import type { LineIssue } from '../schema';

/** One run, on disk in our format or imported: what the viewer reads. */
export interface RunHandle {
  info: RunInfo;
  readMetrics(onIssue?: (i: LineIssue) => void): Promise<MetricsRow[]>;
  readRolloutStep(step: number, onIssue?: (i: LineIssue) => void): Promise<RolloutRecord[]>;
  /** The same records as they are read, where the format allows (our JSONL); otherwise readRolloutStep is used. */
  streamRolloutStep?(step: number, onIssue?: (i: LineIssue) => void): AsyncIterable<RolloutRecord>;
}

export interface ImportOptions {
  /** Shown in the explorer; the folder name by default. */
  name?: string;
  /** The other trainer's logs do not say which estimator ran: 'grpo' unless given. */
  algorithm?: AlgorithmName;
}

/** The manifest of an imported run: id and name from the folder, created from its modification time. */
export function importedManifest(source: RunSource, path: string, opts: ImportOptions, config: Record<string, unknown> = {}): RunManifest {
  const folder = basename(path);
  return validateManifest(
    {
      schema: RUN_SCHEMA,
      id: `${source}-${folder}`,
      name: opts.name ?? folder,
      created: existsSync(path) ? statSync(path).mtime.toISOString() : new Date(0).toISOString(),
      source,
      algorithm: opts.algorithm ?? 'grpo',
      config: { importedFrom: path, algorithmKnown: opts.algorithm !== undefined, ...config },
      model: { name: 'unknown', config: {} },
      task: { name: 'unknown', config: {} },
      seed: 0,
    },
    path,
  );
}

/** RunInfo of an import: no events (status 'stopped': the logs do not say whether the run goes on), no checkpoints. */
export function importedInfo(dir: string, manifest: RunManifest, rolloutSteps: number[], issues: LineIssue[] = []): RunInfo {
  return { dir, id: manifest.id, name: manifest.name, manifest, status: 'stopped', events: [], checkpoints: [], rolloutSteps, issues };
}

/**
 * Whitespace "tokens" for a response that was logged as text only: each piece is a run of whitespace and
 * the word after it (the last piece keeps trailing whitespace), so the pieces join back to the response.
 */
export function whitespaceTokens(text: string): string[] {
  const pieces = text.match(/\s*\S+/g) ?? [];
  const tail = text.slice(pieces.join('').length);
  if (pieces.length === 0) return tail ? [tail] : [];
  pieces[pieces.length - 1] += tail;
  return pieces;
}

/** A rollout as an importer read it, before the group-level advantage is known. */
export interface PartialRollout {
  id: string;
  step: number;
  group: string;
  prompt: string;
  response: string;
  reward: number;
  answer?: string;
  correct?: boolean;
  image?: string;
  /** A_i when the log recorded it. */
  advantage?: number;
  /** Per-token data when the log recorded it, aligned with `tokens`. */
  tokens?: string[];
  tokenIds?: number[];
  logp?: number[];
  tokenAdvantages?: number[];
  extra?: Record<string, unknown>;
}

/**
 * Completes one step's rollouts into RolloutRecords. What the log lacks is filled in and named in
 * `synthetic`: tokens by whitespace, log-probs NaN, A_i by GRPO (ALGORITHMS.md §1) over the step's groups,
 * token advantages as A_i repeated. Groups are renamed p0, p1, … in order of appearance (the logs' group keys
 * are whole prompts or uids).
 */
export function completeRollouts(partials: PartialRollout[]): RolloutRecord[] {
  const names = new Map<string, string>();
  for (const p of partials) {
    if (!names.has(p.group)) names.set(p.group, `p${names.size}`);
    p.group = names.get(p.group)!;
  }
  const A = outcomeAdvantages(
    partials.map((p) => p.reward),
    partials.map((p) => p.group),
  );
  return partials.map((p, i) => {
    const synthetic: string[] = [];
    let tokens = p.tokens;
    if (!tokens) {
      tokens = whitespaceTokens(p.response);
      synthetic.push('tokens');
    }
    const L = tokens.length;
    let advantage = p.advantage;
    if (advantage === undefined) {
      advantage = A[i];
      synthetic.push('advantage');
    }
    let logp = p.logp;
    if (!logp || logp.length !== L) {
      logp = new Array<number>(L).fill(NaN);
      synthetic.push('logp.image');
    }
    let tokenAdvantages = p.tokenAdvantages;
    if (!tokenAdvantages || tokenAdvantages.length !== L) {
      tokenAdvantages = new Array<number>(L).fill(advantage);
      synthetic.push('tokenAdvantages');
    }
    const r: RolloutRecord = {
      id: p.id,
      step: p.step,
      group: p.group,
      prompt: p.prompt,
      response: p.response,
      reward: p.reward,
      advantage,
      tokens,
      logp: { image: logp },
      tokenAdvantages,
      synthetic,
    };
    if (p.image !== undefined) r.image = p.image;
    if (p.answer !== undefined) r.answer = p.answer;
    if (p.correct !== undefined) r.correct = p.correct;
    if (p.tokenIds && p.tokenIds.length === L) r.tokenIds = p.tokenIds;
    if (p.extra && Object.keys(p.extra).length) r.extra = p.extra;
    return r;
  });
}

/** How deep metric names nest ("val-core/task/acc/mean@4" is 4); deeper objects are not metrics and are skipped. */
const MAX_METRIC_DEPTH = 16;

/**
 * Nested metric objects flattened to "a/b/c" keys (EasyR1 logs unflattened dicts); numbers only. Objects
 * nested deeper than MAX_METRIC_DEPTH are skipped, so a hostile 20,000-deep log line cannot overflow the stack.
 */
export function flattenNumbers(o: Record<string, unknown>, prefix = '', out: Record<string, number> = {}, depth = 1): Record<string, number> {
  for (const [k, v] of Object.entries(o)) {
    const key = prefix ? `${prefix}/${k}` : k;
    if (typeof v === 'number') out[key] = v;
    else if (typeof v === 'boolean') out[key] = v ? 1 : 0;
    else if (v !== null && typeof v === 'object' && !Array.isArray(v) && depth < MAX_METRIC_DEPTH) flattenNumbers(v as Record<string, unknown>, key, out, depth + 1);
  }
  return out;
}

/** Our metric names ← the first of their names found (verl, EasyR1, TRL); `scale` turns seconds into ms. */
const WELL_KNOWN: Array<{ ours: string; theirs: string[]; scale?: number; pattern?: RegExp }> = [
  { ours: 'reward', theirs: ['reward/overall', 'critic/score/mean', 'critic/rewards/mean', 'reward', 'rewards/mean'] },
  { ours: 'accuracy', theirs: ['reward/accuracy', 'critic/accuracy/mean', 'accuracy', 'acc'], pattern: /^rewards\/[^/]*acc[^/]*\/mean$/ },
  {
    ours: 'valAccuracy',
    theirs: ['val/accuracy_reward', 'val/accuracy', 'val/reward_score'],
    pattern: /^val(-core)?\/.*\/acc\/mean@\d+$/,
  },
  { ours: 'loss', theirs: ['actor/loss', 'loss'] },
  { ours: 'pgLoss', theirs: ['actor/pg_loss'] },
  { ours: 'entropyLoss', theirs: ['actor/entropy_loss'] },
  { ours: 'klLoss', theirs: ['actor/kl_loss'] },
  { ours: 'clipFraction', theirs: ['actor/pg_clipfrac', 'clip_ratio/region_mean', 'clip_ratio'] },
  { ours: 'approxKl', theirs: ['actor/ppo_kl'] },
  { ours: 'gradNorm', theirs: ['actor/grad_norm', 'grad_norm'] },
  { ours: 'entropy', theirs: ['actor/entropy', 'entropy'] },
  { ours: 'timeSampleMs', theirs: ['timing_s/gen'], scale: 1000 },
  { ours: 'timeUpdateMs', theirs: ['timing_s/update_actor'], scale: 1000 },
  { ours: 'timeStepMs', theirs: ['timing_s/step'], scale: 1000 },
];

/** A metrics row from a flat map of another trainer's metrics: their keys kept, ours added where known. */
export function metricsRowFrom(step: number, flat: Record<string, number>): MetricsRow {
  const row: MetricsRow = { step };
  for (const [k, v] of Object.entries(flat)) if (k !== 'step') row[k] = v;
  for (const { ours, theirs, scale, pattern } of WELL_KNOWN) {
    if (flat[ours] !== undefined && !theirs.includes(ours)) continue;
    const key = theirs.find((t) => flat[t] !== undefined) ?? (pattern && Object.keys(flat).find((k) => pattern.test(k)));
    if (key !== undefined) row[ours] = flat[key] * (scale ?? 1);
  }
  return row;
}

/** Text for a logged ground truth of any JSON type. */
export function answerText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export const isNumberArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');
export const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
