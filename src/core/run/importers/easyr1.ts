/**
 * EasyR1's experiment log: with `trainer.logger` including "file", EasyR1 appends one JSON object per step
 * to `experiment_log.jsonl` in its checkpoint folder (`trainer.save_checkpoint_path`): {"step": N, ...}
 * with the step's metrics nested by their "/"-separated names ({"actor": {"pg_loss": …}, "reward":
 * {"overall": …}, "timing_s": {"step": …}}). Flat keys ("actor/pg_loss") are read the same way. Every
 * numeric metric is kept under its "/" name, and the well-known ones are also given our names (reward,
 * accuracy, pgLoss, …; see common.ts). A line without a step (a config dump) is skipped silently.
 * EasyR1 does not dump rollouts; a folder of verl-style `<step>.jsonl` dumps can be given beside the log.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MetricsRow } from '../schema';
import { RunFormatError } from '../validate';
import { readJsonl } from '../reader';
import { flattenNumbers, importedInfo, importedManifest, metricsRowFrom, type ImportOptions, type RunHandle } from './common';
import { readVerlStep, verlSteps } from './verl';

export const EASYR1_LOG = 'experiment_log.jsonl';

/** The experiment log for a path that is the log itself (a .jsonl file) or the folder holding it; undefined if neither. */
export function easyR1Log(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  if (statSync(path).isFile()) return path.endsWith('.jsonl') ? path : undefined;
  const file = join(path, EASYR1_LOG);
  return existsSync(file) ? file : undefined;
}

/** One line of the log as a metrics row, or null for a line that is not a step's metrics. */
export function easyR1Row(v: unknown, where: string): MetricsRow | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new RunFormatError(where, 'expected a JSON object');
  const o = v as Record<string, unknown>;
  const step = o.step ?? o.global_step ?? o._step;
  if (step === undefined) return null;
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0) throw new RunFormatError(where, `step must be an integer ≥ 0, got ${JSON.stringify(step)}`);
  const { step: _s, global_step: _g, _step: _u, ...rest } = o;
  return metricsRowFrom(step, flattenNumbers(rest));
}

export interface EasyR1Options extends ImportOptions {
  /** A folder of verl-style `<step>.jsonl` rollout dumps to show with the log. */
  rolloutsDir?: string;
}

/** Opens an EasyR1 experiment log (the file, or the checkpoint folder holding it) as a run. */
export function importEasyR1(path: string, opts: EasyR1Options = {}): RunHandle {
  const file = easyR1Log(path);
  if (!file) throw new Error(`${path} has no EasyR1 ${EASYR1_LOG} (set trainer.logger to include "file")`);
  const dir = file === path ? dirname(path) : path;
  const rollouts = opts.rolloutsDir;
  return {
    info: importedInfo(dir, importedManifest('easyr1', dir, opts), rollouts ? verlSteps(rollouts) : []),
    async readMetrics(onIssue) {
      const rows: MetricsRow[] = [];
      for await (const row of readJsonl(file, easyR1Row, onIssue)) if (row) rows.push(row);
      return rows;
    },
    readRolloutStep: async (step, onIssue) => (rollouts ? readVerlStep(join(rollouts, `${step}.jsonl`), step, onIssue) : []),
  };
}
