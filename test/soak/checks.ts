/**
 * What a crash must never break (docs/reliability.md), checked on a run directory after a kill -9; shared by
 * the built-in and PyTorch soaks. Not a test file itself.
 */
import { CheckpointError, latestCheckpoint, listCheckpoints, readCheckpoint, readMetrics } from '../../src/core/run';

export interface SoakTally {
  backend: string;
  kills: number;
  /** Kills after which the killed writer's unfinished checkpoint folder was left behind. */
  midCheckpoint: number;
  /** Runs that read as 'interrupted' after the kill (the dead writer detected). */
  interrupted: number;
  /** Resumes that started at the latest complete checkpoint. */
  resumedAtLatest: number;
  /** Rounds in which the resumed writer got past its starting step before the kill. */
  progressed: number;
  secondWriterRefused: number;
  /** Checkpoints read back with every file matching its manifest (size and sha256), over all kills. */
  checkpointsVerified: number;
  finalSteps?: number;
  violations: string[];
}

export const newTally = (backend: string): SoakTally => ({
  backend,
  kills: 0,
  midCheckpoint: 0,
  interrupted: 0,
  resumedAtLatest: 0,
  progressed: 0,
  secondWriterRefused: 0,
  checkpointsVerified: 0,
  violations: [],
});

/**
 * After a kill: every checkpoint folder has a manifest that its files match; the latest complete checkpoint
 * is not older than before the kill; the metrics, as the reader shows them, have each step once, in order,
 * without a gap. Returns the problems found (empty: all held), the latest complete step (-1: none) and the
 * metrics' step range.
 */
export async function checkAfterKill(dir: string, latestBefore: number, where: string): Promise<{ violations: string[]; latest: number; metricsSteps: string; verified: number }> {
  const violations: string[] = [];
  let verified = 0;
  for (const ck of listCheckpoints(dir)) {
    try {
      readCheckpoint(ck.path);
      verified++;
    } catch (e) {
      violations.push(`${where}: ${e instanceof CheckpointError ? e.message : String(e)}`);
    }
  }
  const latestPath = latestCheckpoint(dir);
  const latest = latestPath ? Number(/step-(\d+)$/.exec(latestPath)![1]) : -1;
  if (latest < latestBefore) violations.push(`${where}: the latest complete checkpoint went back from step ${latestBefore} to ${latest}`);
  const steps = (await readMetrics(dir)).map((r) => r.step);
  for (let i = 1; i < steps.length; i++) {
    if (steps[i] !== steps[i - 1] + 1) {
      violations.push(`${where}: metrics steps ${steps[i - 1]} then ${steps[i]} (each step once, in order)`);
      break;
    }
  }
  return { violations, latest, metricsSteps: steps.length ? `${steps[0]}–${steps.at(-1)}` : 'none', verified };
}
