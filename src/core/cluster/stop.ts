/**
 * Stopping a cluster run with a checkpoint first (also what "pause" means on a cluster: checkpoint, then
 * stop the job; resuming resubmits from that checkpoint).
 *
 * How Ray stops a job (ray/dashboard/modules/job/job_supervisor.py): `POST /api/jobs/{id}/stop` makes the
 * job's supervisor send SIGTERM to the entrypoint's whole process tree, wait RAY_JOB_STOP_WAIT_TIME_S
 * (an environment variable of the cluster's processes, 3 s by default), then SIGKILL what is left. The Jobs
 * API has no other way to signal a job. Our trainer writes a checkpoint when it gets SIGTERM; a checkpoint
 * that takes longer than Ray's wait is cut by the SIGKILL (it is then incomplete, and the previous complete
 * checkpoint stays the latest: checkpoints are written atomically).
 *
 * So the stop goes in two steps:
 *  1. Where the trainer's process is visible from here (the run directory's events name its pid and host:
 *     the editor on the head node over Remote-SSH, the CLI on the driver's machine, a local test cluster),
 *     send it SIGTERM ourselves and give it `graceMs` to checkpoint and exit on its own.
 *  2. Then (or at once, when the trainer runs on another machine) Ray's stop, which also covers the rest of
 *     the process tree. On a remote driver the checkpoint must fit in the cluster's RAY_JOB_STOP_WAIT_TIME_S.
 */
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { readRun } from '../run/reader';
import { pidAlive } from '../run/pid';
import { isTerminal, sleep, type JobDetails, type RayJobsClient } from './client';
import { ClusterError } from './errors';

export interface StopOptions {
  /** The run directory the job writes, when readable from here (for the pid and the checkpoints). */
  runDir?: string;
  /** How long the trainer has to checkpoint after our SIGTERM before Ray's stop. */
  graceMs?: number;
  /** How long to wait for the job to end after Ray's stop. */
  stopTimeoutMs?: number;
  pollMs?: number;
  onNotice?: (text: string) => void;
}

export interface StopResult {
  final: JobDetails;
  /** 'trainer': our SIGTERM reached the trainer's process; 'ray': only Ray's stop; 'none': already ended. */
  signalled: 'trainer' | 'ray' | 'none';
  /** The latest complete checkpoint before and after (when the run directory is readable). */
  checkpointBefore?: number;
  checkpointAfter?: number;
}

/** The trainer process of a run, when it runs on this machine and is alive. */
async function localTrainerPid(runDir: string): Promise<number | undefined> {
  const info = await readRun(runDir);
  const writer = info.events.filter((e) => e.type === 'started' || e.type === 'resumed').at(-1);
  if (writer?.pid === undefined || (writer.host !== undefined && writer.host !== hostname())) return undefined;
  if (!pidAlive(writer.pid)) return undefined;
  // A pid can be reused by an unrelated process: signal it only if it is a trainer of ours.
  try {
    const cmd = readFileSync(`/proc/${writer.pid}/cmdline`, 'utf8');
    if (!/prpo[_-]studio|dist\/cli\.js/.test(cmd)) return undefined;
  } catch {
    return undefined; // no /proc (not Linux) or not ours to read: let Ray stop it
  }
  return writer.pid;
}

async function latestCheckpoint(runDir: string | undefined): Promise<number | undefined> {
  if (!runDir) return undefined;
  try {
    return (await readRun(runDir)).checkpoints.filter((c) => c.complete).at(-1)?.step;
  } catch {
    return undefined;
  }
}

/** Polls until the job is terminal (its details), `alsoDone` holds ('run-stopped'), or the time is up. */
async function waitTerminal(client: RayJobsClient, id: string, timeoutMs: number, pollMs: number, alsoDone?: () => Promise<boolean>): Promise<JobDetails | 'run-stopped' | undefined> {
  const t0 = Date.now();
  for (;;) {
    const d = await client.status(id);
    if (isTerminal(d.status)) return d;
    if (alsoDone && (await alsoDone())) return 'run-stopped';
    if (Date.now() - t0 >= timeoutMs) return undefined;
    await sleep(pollMs);
  }
}

/** The run directory says the trainer stopped (its checkpoint is written and its 'stopped' event is last). */
async function runStopped(runDir: string): Promise<boolean> {
  try {
    const info = await readRun(runDir);
    return info.status !== 'running' && info.status !== 'paused';
  } catch {
    return false;
  }
}

export async function stopWithCheckpoint(client: RayJobsClient, id: string, options: StopOptions = {}): Promise<StopResult> {
  const { runDir, graceMs = 120_000, stopTimeoutMs = 60_000, pollMs = 500, onNotice = () => {} } = options;
  const first = await client.status(id);
  const checkpointBefore = await latestCheckpoint(runDir);
  if (isTerminal(first.status)) return { final: first, signalled: 'none', checkpointBefore, checkpointAfter: checkpointBefore };

  let signalled: StopResult['signalled'] = 'ray';
  const pid = first.status === 'RUNNING' && runDir ? await localTrainerPid(runDir).catch(() => undefined) : undefined;
  if (pid !== undefined) {
    onNotice(`Asking the trainer (pid ${pid}) to write a checkpoint and stop; up to ${Math.round(graceMs / 1000)} s before Ray's stop.`);
    try {
      process.kill(pid, 'SIGTERM');
      signalled = 'trainer';
    } catch (e) {
      onNotice(`Could not signal pid ${pid} (${(e as NodeJS.ErrnoException).code}); using Ray's stop.`);
    }
  } else if (first.status === 'RUNNING') {
    onNotice("The trainer runs on another machine: Ray's stop sends it SIGTERM (it checkpoints then), and SIGKILL after the cluster's RAY_JOB_STOP_WAIT_TIME_S.");
  }
  let final: JobDetails | undefined;
  if (signalled === 'trainer') {
    // As soon as the run says it stopped, Ray's stop follows, so that Ray records the job STOPPED rather
    // than by the trainer's exit code (when the trainer has already exited, Ray keeps that status).
    const waited = await waitTerminal(client, id, graceMs, pollMs, () => runStopped(runDir!));
    if (waited === undefined) onNotice(`The trainer did not stop within ${Math.round(graceMs / 1000)} s; asking Ray to stop the job.`);
    if (waited !== undefined && waited !== 'run-stopped') final = waited;
  }
  if (!final) {
    await client.stop(id);
    const waited = await waitTerminal(client, id, stopTimeoutMs, pollMs);
    final = waited === 'run-stopped' ? undefined : waited;
    if (!final) {
      const now = await client.status(id);
      throw new ClusterError(
        'server',
        `Ray accepted the stop of "${id}", but the job is still ${now.status} after ${Math.round(stopTimeoutMs / 1000)} s${now.status === 'PENDING' ? ' (Ray cannot stop a job that has not started: issue #58353)' : ''}.`,
      );
    }
  }
  return { final, signalled, checkpointBefore, checkpointAfter: await latestCheckpoint(runDir) };
}
