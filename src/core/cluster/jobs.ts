/**
 * PRPO Studio's jobs on a Ray cluster: the submit request for a training run or a resume (entrypoint,
 * runtime_env, metadata), and the wait until its trainer has started.
 *
 * The job runs the PyTorch trainer (`python -m prpo_studio train|resume`) in the cluster's Python, where the
 * `prpo_studio` package must be installed (or shipped through runtime_env). It writes its run directory into
 * the runs directory, a path the editor reads too (a shared filesystem, or the head node over Remote-SSH).
 * The trainer prints the run directory as its first line: that line ties the Ray job to the run.
 */
import { randomBytes } from 'node:crypto';
import { isAbsolute, posix } from 'node:path';
import { ClusterError, lastLines } from './errors';
import { sleep, type JobDetails, type JobStatus, type RayJobsClient, type SubmitRequest } from './client';

/** The metadata key every job of ours carries (Ray metadata is string → string). */
export const STUDIO_KEY = 'prpo_studio';

export interface TrainJob {
  kind: 'train';
  backend: 'pytorch';
  /** Paths as the cluster sees them. */
  model: string;
  data: string;
  preset: string;
  steps: number;
  runsDir: string;
  /** The trainer's configuration overrides (a run config file without its runtime_env). */
  config?: Record<string, unknown>;
  seed?: number;
  checkpointEvery?: number;
  name?: string;
}

export interface ResumeJob {
  kind: 'resume';
  runDir: string;
  steps: number;
  /** A checkpoint folder of the run (default: its latest complete one). */
  checkpoint?: string;
}

export type StudioJob = TrainJob | ResumeJob;

export interface JobPlacement {
  /** The Python on the cluster that has prpo_studio (default `python`). */
  python?: string;
  /** Ray's runtime_env (working_dir, pip, env_vars…), the user's from the run config. */
  runtimeEnv?: Record<string, unknown>;
  numCpus?: number;
  numGpus?: number;
}

/** POSIX shell quoting: the entrypoint is run by `/bin/sh -c` on the cluster. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A submission id that sorts by time and cannot collide (two submits with one id both fail: Ray #31356). */
export function newSubmissionId(kind: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `prpo-${kind}-${stamp}-${randomBytes(3).toString('hex')}`;
}

/**
 * Splits a run config file's object into the trainer's keys and Ray's `runtime_env` (the only key the studio
 * takes for itself; the trainer checks the rest).
 */
export function splitRunConfig(value: unknown, where: string): { config: Record<string, unknown>; runtimeEnv?: Record<string, unknown> } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ClusterError('bad-request', `${where}: a run config is a JSON object`);
  const { runtime_env: runtimeEnv, ...config } = value as Record<string, unknown>;
  if (runtimeEnv === undefined) return { config };
  if (typeof runtimeEnv !== 'object' || runtimeEnv === null || Array.isArray(runtimeEnv)) {
    throw new ClusterError('bad-request', `${where}: runtime_env: expected an object (Ray's runtime_env: working_dir, pip, env_vars…)`);
  }
  const env = (runtimeEnv as Record<string, unknown>).env_vars;
  if (env !== undefined && (typeof env !== 'object' || env === null || Object.values(env).some((v) => typeof v !== 'string'))) {
    throw new ClusterError('bad-request', `${where}: runtime_env.env_vars: expected an object of strings`);
  }
  return { config, runtimeEnv: runtimeEnv as Record<string, unknown> };
}

function requireAbsolute(p: string, what: string): string {
  if (!isAbsolute(p)) throw new ClusterError('bad-request', `${what} must be an absolute path as the cluster sees it, got "${p}"`);
  return p;
}

/** The trainer's command line, as the cluster's shell runs it. */
export function entrypointFor(job: StudioJob, submissionId: string, python = 'python'): string {
  const py = shellQuote(python);
  if (job.kind === 'resume') {
    const args = ['resume', requireAbsolute(job.runDir, 'The run directory'), '--steps', String(job.steps)];
    if (job.checkpoint) args.push('--checkpoint', job.checkpoint);
    return `exec ${py} -m prpo_studio ${args.map(shellQuote).join(' ')}`;
  }
  const runsDir = requireAbsolute(job.runsDir, 'The runs directory');
  const args = ['train', '--model', requireAbsolute(job.model, 'The model folder'), '--data', requireAbsolute(job.data, 'The data folder'), '--preset', job.preset, '--steps', String(job.steps), '--runs-dir', runsDir];
  if (job.seed !== undefined) args.push('--seed', String(job.seed));
  if (job.checkpointEvery !== undefined) args.push('--checkpoint-every', String(job.checkpointEvery));
  if (job.name) args.push('--name', job.name);
  let prelude = '';
  if (job.config && Object.keys(job.config).length) {
    // The config file lives on the editor's machine; its content travels inside the entrypoint and is
    // written next to the runs on the cluster, where the trainer reads it.
    const file = posix.join(runsDir, '.cluster', `${submissionId}.config.json`);
    prelude = `mkdir -p ${shellQuote(posix.dirname(file))} && printf '%s' ${shellQuote(JSON.stringify(job.config))} > ${shellQuote(file)} && `;
    args.push('--config', file);
  }
  return `${prelude}exec ${py} -m prpo_studio ${args.map(shellQuote).join(' ')}`;
}

/** The whole submit request for one of our jobs. */
export function submitRequestFor(job: StudioJob, placement: JobPlacement = {}, submissionId = newSubmissionId(job.kind)): SubmitRequest {
  if (!Number.isInteger(job.steps) || job.steps < 1) throw new ClusterError('bad-request', `steps: expected an integer ≥ 1, got ${job.steps}`);
  const runtimeEnv = { ...(placement.runtimeEnv ?? {}) };
  // Unbuffered output, so the run directory line and the progress reach the log (and the tail) as printed.
  const envVars = { PYTHONUNBUFFERED: '1', ...((runtimeEnv.env_vars as Record<string, string> | undefined) ?? {}) };
  runtimeEnv.env_vars = envVars;
  const metadata: Record<string, string> = { [STUDIO_KEY]: job.kind };
  if (job.kind === 'train') Object.assign(metadata, { runs_dir: job.runsDir, preset: job.preset, steps: String(job.steps), model: job.model, backend: job.backend });
  else Object.assign(metadata, { run_dir: job.runDir, steps: String(job.steps) });
  const req: SubmitRequest = { entrypoint: entrypointFor(job, submissionId, placement.python), submission_id: submissionId, runtime_env: runtimeEnv, metadata };
  if (placement.numCpus !== undefined) req.entrypoint_num_cpus = placement.numCpus;
  if (placement.numGpus !== undefined) req.entrypoint_num_gpus = placement.numGpus;
  return req;
}

/** Whether a job on the cluster is one of ours (submitted by the studio's client). */
export function isStudioJob(job: JobDetails): boolean {
  return !!job.metadata?.[STUDIO_KEY];
}

/**
 * The run directory a job writes: a resume names it; a training run prints it as the first line of its log
 * (a line that is a path inside the runs directory).
 */
export function runDirOf(job: JobDetails, log?: string): string | undefined {
  const meta = job.metadata ?? {};
  if (meta.run_dir) return meta.run_dir;
  const runsDir = meta.runs_dir;
  if (!runsDir || log === undefined) return undefined;
  const prefix = runsDir.replace(/\/+$/, '') + '/';
  for (const raw of log.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith(prefix) && !line.slice(prefix.length).includes('/') && line.length > prefix.length) return line;
  }
  return undefined;
}

export interface WaitOptions {
  /** How long a job may stay PENDING (no resources, runtime_env being built) before it counts as stuck. */
  pendingTimeoutMs?: number;
  /** How long after RUNNING the trainer has to print its run directory. */
  startTimeoutMs?: number;
  pollMs?: number;
  /** Lines of log shown when the job fails at start. */
  logLines?: number;
  onStatus?: (status: JobStatus) => void;
  signal?: AbortSignal;
}

export interface Started {
  details: JobDetails;
  /** Undefined when the job ended (succeeded, stopped) before printing one, or for non-studio jobs. */
  runDir?: string;
}

/** A failed job's message, exit code and last log lines, as one readable text. */
export async function failureReport(client: RayJobsClient, details: JobDetails, n = 20): Promise<string> {
  const id = details.submission_id ?? details.job_id ?? '?';
  const log = await client.logs(id).catch(() => '');
  const lines = lastLines(log, n);
  const exit = details.driver_exit_code != null ? ` (exit code ${details.driver_exit_code})` : '';
  const why = details.message ? `: ${details.message.trim()}` : '';
  return `${why}${exit}${lines.length ? `\nLast log lines:\n${lines.map((l) => `  ${l}`).join('\n')}` : '\nThe job wrote no log.'}`;
}

/**
 * Waits until the job's trainer has started (RUNNING and its run directory printed), or the job ended.
 * Throws 'pending-timeout' when the job stays queued, 'failed-at-start' (with its last log lines) when it
 * fails before its trainer starts.
 */
export async function waitForStart(client: RayJobsClient, id: string, options: WaitOptions = {}): Promise<Started> {
  const { pendingTimeoutMs = 120_000, startTimeoutMs = 300_000, pollMs = 1000, logLines = 20, onStatus, signal } = options;
  const t0 = Date.now();
  let runningSince: number | undefined;
  let last: JobStatus | undefined;
  for (;;) {
    const details = await client.status(id);
    if (details.status !== last) onStatus?.((last = details.status));
    const needsRunDir = isStudioJob(details);
    switch (details.status) {
      case 'PENDING':
        if (Date.now() - t0 > pendingTimeoutMs) {
          throw new ClusterError(
            'pending-timeout',
            `Job "${id}" is still PENDING after ${Math.round(pendingTimeoutMs / 1000)} s${details.message ? ` (${details.message.trim()})` : ''}: the cluster has no free resources for it, or its runtime_env cannot be set up. It is still queued; stop it with "jobs stop ${id}" if it should not run.`,
          );
        }
        break;
      case 'FAILED': {
        const log = needsRunDir ? await client.logs(id).catch(() => '') : '';
        const runDir = runDirOf(details, log);
        // Failing after the trainer printed its run directory is a training failure, not a start failure.
        if (runDir && details.metadata?.run_dir === undefined) return { details, runDir };
        throw new ClusterError('failed-at-start', `Job "${id}" failed at start${await failureReport(client, details, logLines)}`);
      }
      case 'RUNNING':
      case 'SUCCEEDED':
      case 'STOPPED': {
        if (!needsRunDir) return { details };
        if (details.metadata?.run_dir) return { details, runDir: details.metadata.run_dir };
        const runDir = runDirOf(details, await client.logs(id).catch(() => undefined));
        if (runDir || details.status !== 'RUNNING') return { details, runDir };
        runningSince ??= Date.now();
        if (Date.now() - runningSince > startTimeoutMs) {
          throw new ClusterError('failed-at-start', `Job "${id}" has been RUNNING for ${Math.round(startTimeoutMs / 1000)} s without its trainer printing a run directory${await failureReport(client, details, logLines)}`);
        }
        break;
      }
    }
    if (signal?.aborted) throw new ClusterError('cancelled', `Stopped waiting for job "${id}" to start; the job itself goes on.`);
    await sleep(pollMs, signal);
  }
}
