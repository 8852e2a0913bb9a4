/**
 * TRL's GRPOTrainer logs: with `log_completions=True` it writes `<output_dir>/completions/
 * completions_<step:05d>.parquet` (columns "step", "prompt", "completion"; newer versions add one column
 * per reward function and "advantage"), and every checkpoint's `trainer_state.json` holds `log_history`,
 * the logged metrics per step ("reward", "loss", "kl", "entropy", "rewards/<func>/mean", …).
 * Parquet is read with hyparquet (pure JavaScript). Rollouts are response-level like verl's (see
 * common.ts: whitespace tokens, NaN log-probs, A_i by GRPO within prompts unless "advantage" is there);
 * the reward is the "reward" column, else the sum of the reward-function columns (TRL's default weights
 * of 1; marked synthetic, since the run may have weighted them).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema, type FileMetaData, type SchemaTree } from 'hyparquet';
import type { MetricsRow, RolloutRecord } from '../schema';
import { lineIssue, type LineIssue } from '../lines';
import { listSteps } from '../reader';
import {
  completeRollouts,
  flattenNumbers,
  importedInfo,
  importedManifest,
  metricsRowFrom,
  type ImportOptions,
  type PartialRollout,
  type RunHandle,
} from './common';

const COMPLETIONS = /^completions_(\d+)\.parquet$/;

/** The folder holding completions_*.parquet for a TRL output_dir (or that folder itself). */
export function trlCompletionsDir(path: string): string | undefined {
  for (const dir of [join(path, 'completions'), join(path, 'completions', 'train'), path]) {
    if (existsSync(dir) && statSync(dir).isDirectory() && readdirSync(dir).some((n) => COMPLETIONS.test(n))) return dir;
  }
  return undefined;
}

/** The newest trainer_state.json: in output_dir (end of training) or its latest checkpoint-N. */
export function trlTrainerState(path: string): string | undefined {
  const candidates: Array<{ file: string; step: number }> = [];
  const top = join(path, 'trainer_state.json');
  if (existsSync(top)) candidates.push({ file: top, step: Infinity });
  if (existsSync(path) && statSync(path).isDirectory()) {
    for (const n of readdirSync(path)) {
      const m = /^checkpoint-(\d+)$/.exec(n);
      const file = join(path, n, 'trainer_state.json');
      if (m && existsSync(file)) candidates.push({ file, step: Number(m[1]) });
    }
  }
  candidates.sort((a, b) => b.step - a.step);
  return candidates[0]?.file;
}

export function isTrlOutput(path: string): boolean {
  return !existsSync(join(path, 'run.json')) && trlCompletionsDir(path) !== undefined;
}

function trlSteps(dir: string): number[] {
  return listSteps(dir, COMPLETIONS);
}

const toNumber = (v: unknown): number | undefined =>
  typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : undefined;

/** Prompt or completion text: a string, or a conversation (list of {role, content}) joined. */
function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    return v
      .map((m) => (m && typeof m === 'object' && 'content' in m ? String((m as { content: unknown }).content) : JSON.stringify(m)))
      .join('\n');
  }
  return undefined;
}

const BASE_COLUMNS = new Set(['step', 'prompt', 'completion', 'advantage', 'reward', 'mode', 'image']);

/**
 * The first column chunk whose path is not in the file's schema (a damaged footer), or undefined. hyparquet
 * (1.31–1.33) starts reading a row group's columns one by one and throws at such a chunk, leaving the reads
 * it started to reject later unobserved (an unhandledRejection in the extension host, found by `npm run fuzz`),
 * so the file is refused before any column is read.
 */
function columnOutsideSchema(metadata: FileMetaData): string | undefined {
  const root = parquetSchema(metadata);
  for (const group of metadata.row_groups) {
    for (const chunk of group.columns) {
      const path = chunk.meta_data?.path_in_schema ?? [];
      let node: SchemaTree | undefined = root;
      for (const part of path) node = node?.children.find((c) => c.element.name === part);
      if (!node) return path.join('.');
    }
  }
  return undefined;
}

/** Reads one completions parquet file; a bad row is reported as `file:<row>: reason` (rows from 1). */
export async function readTrlStep(file: string, step: number, onIssue: (i: LineIssue) => void = () => {}): Promise<RolloutRecord[]> {
  if (!existsSync(file)) return [];
  let rows: Record<string, unknown>[];
  try {
    const buffer = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buffer);
    const stray = columnOutsideSchema(metadata);
    if (stray) throw new Error(`its column ${JSON.stringify(stray.slice(0, 80))} is not in its schema`);
    rows = await parquetReadObjects({ file: buffer, metadata });
  } catch (e) {
    onIssue(lineIssue(file, 0, `cannot be read as parquet (${(e as Error).message})`));
    return [];
  }
  const partials: PartialRollout[] = [];
  const rewardLogged: boolean[] = [];
  rows.forEach((row, i) => {
    const prompt = text(row.prompt);
    const response = text(row.completion);
    if (prompt === undefined || response === undefined) {
      onIssue(lineIssue(file, i + 1, `row needs text "prompt" and "completion" columns, got ${typeof row.prompt} and ${typeof row.completion}`));
      return;
    }
    const extra: Record<string, unknown> = {};
    let rewardSum = 0;
    let rewardColumns = 0;
    for (const [k, v] of Object.entries(row)) {
      if (BASE_COLUMNS.has(k)) continue;
      const n = toNumber(v);
      extra[k] = n ?? v;
      if (n !== undefined && /reward/i.test(k)) {
        rewardSum += n;
        rewardColumns++;
      }
    }
    const given = toNumber(row.reward);
    const p: PartialRollout = {
      id: `${step}-${i}`,
      step: toNumber(row.step) ?? step,
      group: prompt,
      prompt,
      response,
      reward: given ?? (rewardColumns ? rewardSum : NaN),
      extra,
    };
    const advantage = toNumber(row.advantage);
    if (advantage !== undefined) p.advantage = advantage;
    partials.push(p);
    rewardLogged.push(given !== undefined);
  });
  const records = completeRollouts(partials);
  records.forEach((r, i) => {
    if (!rewardLogged[i]) r.synthetic!.push('reward');
  });
  return records;
}

/** Metrics from trainer_state.json's log_history, one row per step (train and eval entries merged). */
export function readTrlMetrics(stateFile: string | undefined, onIssue: (i: LineIssue) => void = () => {}): MetricsRow[] {
  if (!stateFile) return [];
  let history: unknown;
  try {
    history = (JSON.parse(readFileSync(stateFile, 'utf8')) as { log_history?: unknown }).log_history;
  } catch (e) {
    onIssue(lineIssue(stateFile, 0, `cannot be read (${(e as Error).message})`));
    return [];
  }
  if (!Array.isArray(history)) {
    onIssue(lineIssue(stateFile, 0, 'has no log_history list'));
    return [];
  }
  const bySteps = new Map<number, Record<string, number>>();
  history.forEach((entry, i) => {
    if (!entry || typeof entry !== 'object') return;
    const step = (entry as { step?: unknown }).step;
    if (typeof step !== 'number' || !Number.isInteger(step)) {
      onIssue(lineIssue(stateFile, 0, `log_history[${i}] has no integer step`));
      return;
    }
    bySteps.set(step, { ...bySteps.get(step), ...flattenNumbers(entry as Record<string, unknown>) });
  });
  return [...bySteps.entries()].sort((a, b) => a[0] - b[0]).map(([step, flat]) => metricsRowFrom(step, flat));
}

/** Opens a TRL output_dir (or its completions folder) as a run. */
export function importTrl(path: string, opts: ImportOptions = {}): RunHandle {
  const dir = trlCompletionsDir(path);
  if (!dir) throw new Error(`${path} holds no TRL completions_<step>.parquet (GRPOConfig log_completions=True writes them)`);
  const state = trlTrainerState(path);
  return {
    info: importedInfo(path, importedManifest('trl', path, opts), trlSteps(dir)),
    readMetrics: async (onIssue) => readTrlMetrics(state, onIssue),
    readRolloutStep: (step, onIssue) => readTrlStep(join(dir, `completions_${String(step).padStart(5, '0')}.parquet`), step, onIssue),
  };
}
