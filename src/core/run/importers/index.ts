/**
 * One entry for any run folder: our own run directory, or another trainer's logs read by an importer into
 * the same model (RunInfo, MetricsRow, RolloutRecord), so the viewer has one data model.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readMetrics, readRolloutStep, readRun, streamRolloutStep } from '../reader';
import type { RunHandle, ImportOptions } from './common';
import type { RunInfo, RunSource } from '../schema';
import { easyR1Log, importEasyR1 } from './easyr1';
import { importVerl, isVerlDump } from './verl';
import { importTrl, isTrlOutput } from './trl';

export type { RunHandle, ImportOptions } from './common';
export { importVerl } from './verl';
export { importEasyR1 } from './easyr1';
export { importTrl } from './trl';
export { whitespaceTokens } from './common';

/** What a folder holds: our run directory (run.json), a verl dump (<step>.jsonl), an EasyR1 log, a TRL output_dir; or undefined. */
export function detectRunKind(path: string): RunSource | undefined {
  if (existsSync(join(path, 'run.json'))) return 'prpo-studio';
  if (isVerlDump(path)) return 'verl';
  if (easyR1Log(path)) return 'easyr1';
  if (isTrlOutput(path)) return 'trl';
  return undefined;
}

/** Our run directory (read already into `info`) through the same handle as an import. */
export function ownRunHandle(info: RunInfo): RunHandle {
  return {
    info,
    readMetrics: (onIssue) => readMetrics(info.dir, onIssue),
    readRolloutStep: (step, onIssue) => readRolloutStep(info.dir, step, onIssue),
    streamRolloutStep: (step, onIssue) => streamRolloutStep(info.dir, step, onIssue),
  };
}

/** Opens any run folder through one handle; throws when the folder is none of the known kinds. */
export async function openRun(path: string, opts: ImportOptions = {}): Promise<RunHandle> {
  switch (detectRunKind(path)) {
    case 'prpo-studio':
      return ownRunHandle(await readRun(path));
    case 'verl':
      return importVerl(path, opts);
    case 'easyr1':
      return importEasyR1(path, opts);
    case 'trl':
      return importTrl(path, opts);
    default:
      throw new Error(
        `${path} is not a run: it has no run.json (PRPO Studio), no <step>.jsonl files (verl rollout_data_dir) and no experiment_log.jsonl (EasyR1) and no completions/completions_<step>.parquet (TRL)`,
      );
  }
}
