/**
 * verl's rollout dumps: with `trainer.rollout_data_dir` set, verl's RayPPOTrainer._dump_generations writes
 * `<dir>/<step>.jsonl` each step, one line per rollout:
 *   {"input": <decoded prompt>, "output": <decoded response>, "gts": <ground truth>, "score": <sum of
 *    token-level scores>, "step": <global step>, ...reward_extra_info (e.g. "acc", "pred", "reward")}
 * (`trainer.validation_data_dir` dumps validation samples the same way; older versions lack "gts".)
 * The dump is response-level: no tokens, log-probs, groups or advantages. The importer therefore
 * - groups rollouts of one step by a "uid" field when there is one, else by identical "input" text;
 * - computes A_i by GRPO (ALGORITHMS.md §1) from "score" within those groups;
 * - splits the response on whitespace for tokens; log-probs are NaN; Ã is A_i repeated
 * and lists each filled-in field in the record's `synthetic`. A dump that does carry token-level data
 * (from a patched trainer: "tokens", "old_log_probs"/"log_probs", "advantages", "response_ids") is used as
 * is where its lengths agree with "tokens".
 * Metrics: verl does not write them next to the dump; readMetrics() derives per step the mean score
 * (reward), the mean "acc" (accuracy, when present) and the rollout count.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { MetricsRow, RolloutRecord } from '../schema';
import { RunFormatError } from '../validate';
import { listSteps, readJsonl } from '../reader';
import type { LineIssue } from '../schema';
import {
  answerText,
  completeRollouts,
  importedInfo,
  importedManifest,
  isNumberArray,
  isStringArray,
  type ImportOptions,
  type PartialRollout,
  type RunHandle,
} from './common';

/** The keys this importer reads; every other key of a line is kept in `extra`. */
const KNOWN = new Set([
  'input', 'output', 'gts', 'score', 'reward', 'step', 'uid', 'acc',
  'tokens', 'response_ids', 'old_log_probs', 'log_probs', 'advantages', 'advantage', 'image',
]);

/** The step files of a verl dump folder: `<step>.jsonl`, ascending. */
export function verlSteps(dir: string): number[] {
  return listSteps(dir, /^(\d+)\.jsonl$/);
}

/** Whether a folder looks like a verl rollout dump (`<step>.jsonl` files, no run.json). */
export function isVerlDump(dir: string): boolean {
  return existsSync(dir) && statSync(dir).isDirectory() && !existsSync(join(dir, 'run.json')) && verlSteps(dir).length > 0;
}

/** One line of a verl dump, read into a PartialRollout (group and A_i are settled per step later). */
function verlLine(fileStep: number) {
  let index = 0;
  return (v: unknown, where: string): PartialRollout => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new RunFormatError(where, 'expected a JSON object');
    const o = v as Record<string, unknown>;
    if (typeof o.output !== 'string') throw new RunFormatError(where, `output must be a string, got ${typeof o.output}`);
    if (o.input !== undefined && typeof o.input !== 'string') throw new RunFormatError(where, `input must be a string, got ${typeof o.input}`);
    const scoreKey = typeof o.score === 'number' ? 'score' : typeof o.reward === 'number' ? 'reward' : undefined;
    if (scoreKey === undefined) throw new RunFormatError(where, 'has neither a numeric score nor a numeric reward');
    const step = typeof o.step === 'number' && Number.isInteger(o.step) ? o.step : fileStep;
    const prompt = (o.input as string | undefined) ?? '';
    const p: PartialRollout = {
      id: `${step}-${index++}`,
      step,
      group: typeof o.uid === 'string' ? o.uid : prompt,
      prompt,
      response: o.output,
      reward: o[scoreKey] as number,
      answer: answerText(o.gts),
    };
    if (typeof o.acc === 'boolean') p.correct = o.acc;
    else if (o.acc === 0 || o.acc === 1) p.correct = o.acc === 1;
    if (typeof o.image === 'string') p.image = o.image;
    if (isStringArray(o.tokens)) {
      p.tokens = o.tokens;
      if (isNumberArray(o.response_ids)) p.tokenIds = o.response_ids;
      const logp = isNumberArray(o.old_log_probs) ? o.old_log_probs : isNumberArray(o.log_probs) ? o.log_probs : undefined;
      if (logp) p.logp = logp;
      if (isNumberArray(o.advantages)) p.tokenAdvantages = o.advantages;
    }
    if (typeof o.advantage === 'number') p.advantage = o.advantage;
    else if (isNumberArray(o.advantages) && o.advantages.length > 0 && p.tokenAdvantages) {
      // GRPO puts A_i on every token; the first token's value is A_i for the estimators verl ships.
      p.advantage = o.advantages[0];
    }
    const extra: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(o)) if (!KNOWN.has(k)) extra[k] = val;
    // Per-token lists that could not be aligned with tokens are kept rather than lost.
    if (!p.tokens) for (const k of ['advantages', 'old_log_probs', 'log_probs', 'response_ids']) if (o[k] !== undefined) extra[k] = o[k];
    if (scoreKey === 'score' && o.reward !== undefined) extra.reward = o.reward;
    p.extra = extra;
    return p;
  };
}

/** Reads one step file of a verl dump into RolloutRecords (groups named p0, p1, … in order of appearance). */
export async function readVerlStep(file: string, step: number, onIssue?: (i: LineIssue) => void): Promise<RolloutRecord[]> {
  const partials: PartialRollout[] = [];
  for await (const p of readJsonl(file, verlLine(step), onIssue)) partials.push(p);
  return completeRollouts(partials);
}

/** Per-step metrics derived from a dump file, streamed (no record kept). */
async function verlStepMetrics(file: string, step: number, onIssue?: (i: LineIssue) => void): Promise<MetricsRow | undefined> {
  let n = 0;
  let reward = 0;
  let acc = 0;
  let accN = 0;
  let words = 0;
  for await (const p of readJsonl(file, verlLine(step), onIssue)) {
    n++;
    reward += p.reward;
    words += p.response.split(/\s+/).filter(Boolean).length;
    if (p.correct !== undefined) {
      acc += p.correct ? 1 : 0;
      accN++;
    }
  }
  if (n === 0) return undefined;
  const row: MetricsRow = { step, reward: reward / n, rollouts: n, responseWords: words / n };
  if (accN) row.accuracy = acc / accN;
  return row;
}

/** Opens a verl `rollout_data_dir` (or `validation_data_dir`) as a run. */
export function importVerl(dir: string, opts: ImportOptions = {}): RunHandle {
  if (!isVerlDump(dir)) throw new Error(`${dir} is not a verl rollout dump: it holds no <step>.jsonl files`);
  const manifest = importedManifest('verl', dir, opts);
  const stepFile = (step: number) => join(dir, `${step}.jsonl`);
  return {
    info: importedInfo(dir, manifest, verlSteps(dir)),
    async readMetrics(onIssue) {
      const rows: MetricsRow[] = [];
      for (const step of verlSteps(dir)) {
        const row = await verlStepMetrics(stepFile(step), step, onIssue);
        if (row) rows.push(row);
      }
      return rows;
    },
    readRolloutStep: (step, onIssue) => readVerlStep(stepFile(step), step, onIssue),
  };
}
