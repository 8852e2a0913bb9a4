/**
 * prpo-studio jobs — training runs on a Ray cluster through its Jobs REST API (the extension uses the same
 * client, src/core/cluster):
 *
 *   jobs submit --address URL --backend pytorch --model DIR --data DIR --preset P --steps N --runs-dir DIR [--config FILE]
 *   jobs resume --address URL RUN_DIR --steps N [--checkpoint DIR]
 *   jobs list|status|logs [--follow]|stop --address URL [ID]
 *
 * submit and resume print the run directory, then the submission id as the last line of stdout. The token of
 * a cluster with token authentication comes from the RAY_AUTH_TOKEN environment variable or --token-file,
 * never from the command line (every user of the machine can read command lines with `ps`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  ClusterError,
  RayJobsClient,
  failureReport,
  followLogs,
  isStudioJob,
  runDirOf,
  splitRunConfig,
  stopWithCheckpoint,
  submitRequestFor,
  uploadLocalPackages,
  waitForStart,
  type JobDetails,
  type JobPlacement,
  type StudioJob,
} from '../core/cluster';
import { UsageError, intOption, parse } from './args';

const USAGE = `usage: prpo-studio jobs <submit|resume|list|status|logs|stop> --address URL [options]

  submit  --backend pytorch --model DIR --data DIR --preset P --steps N --runs-dir DIR [--config FILE]
          [--seed S] [--checkpoint-every K] [--python PY] [--num-cpus N] [--num-gpus N]
          [--pending-timeout SEC] [--no-wait]
          Prints the run directory, then the submission id (the last line).
  resume  RUN_DIR --steps N [--checkpoint DIR] [--config FILE] [--python PY] …   a stopped run, from its
          checkpoint (FILE: the runtime_env to give the job again; the run keeps its configuration)
  list                                    the cluster's jobs (ours first)
  status  ID                              Ray's status of a job and its run directory
  logs    ID [--follow]                   the job's log; --follow tails it until the job ends
  stop    ID [--run-dir DIR] [--grace SEC]  checkpoint first, then stop (see docs/clusters.md)

  --address URL       the Ray dashboard (default: $RAY_ADDRESS), e.g. http://head-node:8265
  --token-file FILE   the cluster token (default: $RAY_AUTH_TOKEN); never pass a token as an argument

Paths (model, data, runs dir) are as the cluster sees them; the runs directory must be readable from the
editor too (a shared filesystem, or the head node over Remote-SSH). A run config's runtime_env.working_dir and
py_modules may be local folders (relative to the config file): they are zipped and uploaded as
\`ray job submit\` does (.gitignore, .rayignore and runtime_env.excludes respected).`;

const COMMON = {
  address: { type: 'string' },
  'token-file': { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Where and how a submitted job runs, and how long to wait for it (submit and resume). */
const PLACEMENT = {
  python: { type: 'string' },
  'num-cpus': { type: 'string' },
  'num-gpus': { type: 'string' },
  'pending-timeout': { type: 'string' },
  'no-wait': { type: 'boolean' },
} as const;

function clientFrom(values: { address?: string; 'token-file'?: string; token?: string }): RayJobsClient {
  if (values.token !== undefined) {
    throw new UsageError('--token is not accepted: a command line is visible to every user (ps). Use RAY_AUTH_TOKEN=… or --token-file FILE.');
  }
  const address = values.address ?? process.env.RAY_ADDRESS;
  if (!address) throw new UsageError('--address is required (or set RAY_ADDRESS): the Ray dashboard URL, e.g. http://head-node:8265');
  let token = process.env.RAY_AUTH_TOKEN?.trim() || undefined;
  if (values['token-file']) {
    try {
      token = readFileSync(values['token-file'], 'utf8').trim() || undefined;
    } catch (e) {
      throw new UsageError(`--token-file: cannot read ${values['token-file']} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  return new RayJobsClient({ address, token, onRetry: say });
}

function oneId(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`jobs ${what}: expected exactly one job ID (a submission id)`);
  return positionals[0];
}

const say = (text: string) => process.stderr.write(text + '\n');

function readConfigFile(file: string): { config: Record<string, unknown>; runtimeEnv?: Record<string, unknown> } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--config: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config: ${file} is not valid JSON (${(e as Error).message})`);
  }
  return splitRunConfig(value, file);
}

function placementFrom(values: { python?: string; 'num-cpus'?: string; 'num-gpus'?: string }, runtimeEnv?: Record<string, unknown>): JobPlacement {
  const num = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name}: expected a number ≥ 0, got '${v}'`);
    return n;
  };
  return { python: values.python, runtimeEnv, numCpus: num(values['num-cpus'], 'num-cpus'), numGpus: num(values['num-gpus'], 'num-gpus') };
}

/** Submits, waits for the trainer to start (unless --no-wait), prints the run directory and the id. */
async function submitAndReport(client: RayJobsClient, job: StudioJob, placement: JobPlacement, wait: boolean, pendingTimeoutMs: number, configFile?: string): Promise<number> {
  const req = submitRequestFor(job, placement);
  // Local working_dir / py_modules folders go up as `ray job submit` sends them; relative ones are the config file's.
  req.runtime_env = await uploadLocalPackages(client, req.runtime_env, configFile ? dirname(resolve(configFile)) : process.cwd(), say);
  const { submission_id: id } = await client.submit(req);
  say(`Submitted ${id} to ${client.address}`);
  if (!wait) {
    process.stdout.write(id + '\n');
    return 0;
  }
  try {
    const started = await waitForStart(client, id, { pendingTimeoutMs, onStatus: (s) => say(`${id}: ${s}`) });
    if (started.runDir) process.stdout.write(started.runDir + '\n');
    process.stdout.write(id + '\n');
    return 0;
  } catch (e) {
    process.stdout.write(id + '\n');
    throw e;
  }
}

function describeJob(j: JobDetails): string {
  const id = j.submission_id ?? j.job_id ?? '?';
  const kind = isStudioJob(j) ? `prpo-studio ${j.metadata!.prpo_studio}` : j.type.toLowerCase();
  const where = j.metadata?.run_dir ?? j.metadata?.runs_dir ?? '';
  return `${id.padEnd(40)} ${j.status.padEnd(9)} ${kind.padEnd(20)} ${where}`;
}

async function runDirOfJob(client: RayJobsClient, details: JobDetails): Promise<string | undefined> {
  if (!isStudioJob(details)) return undefined;
  const id = details.submission_id ?? details.job_id!;
  return runDirOf(details, details.metadata?.run_dir ? undefined : await client.logs(id).catch(() => undefined));
}

export async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'submit': {
        const { values, positionals } = parse(rest, {
          ...COMMON,
          backend: { type: 'string', default: 'pytorch' },
          model: { type: 'string' },
          data: { type: 'string' },
          preset: { type: 'string', default: 'prpo' },
          steps: { type: 'string' },
          'runs-dir': { type: 'string' },
          config: { type: 'string' },
          seed: { type: 'string' },
          'checkpoint-every': { type: 'string' },
          name: { type: 'string' },
          ...PLACEMENT,
        }, true);
        if (values.help) return help();
        if (positionals.length) throw new UsageError(`jobs submit: unexpected argument '${positionals[0]}'`);
        if (values.backend !== 'pytorch') throw new UsageError(`--backend: only 'pytorch' runs on a cluster from here (verl runs through its own plugin), got '${values.backend}'`);
        for (const k of ['model', 'data', 'runs-dir'] as const) if (!values[k]) throw new UsageError(`--${k} is required`);
        const client = clientFrom(values);
        const file = values.config ? readConfigFile(values.config) : undefined;
        const job: StudioJob = {
          kind: 'train',
          backend: 'pytorch',
          model: values.model!,
          data: values.data!,
          preset: values.preset!,
          steps: intOption(values.steps, 'steps', 1),
          runsDir: values['runs-dir']!,
          config: file?.config,
          seed: values.seed === undefined ? undefined : intOption(values.seed, 'seed', 0),
          checkpointEvery: values['checkpoint-every'] === undefined ? undefined : intOption(values['checkpoint-every'], 'checkpoint-every', 0),
          name: values.name,
        };
        return await submitAndReport(client, job, placementFrom(values, file?.runtimeEnv), !values['no-wait'], 1000 * intOption(values['pending-timeout'], 'pending-timeout', 1, 120), values.config);
      }
      case 'resume': {
        const { values, positionals } = parse(rest, {
          ...COMMON,
          steps: { type: 'string' },
          checkpoint: { type: 'string' },
          config: { type: 'string' },
          ...PLACEMENT,
        }, true);
        if (values.help) return help();
        if (positionals.length !== 1) throw new UsageError('jobs resume: expected exactly one RUN_DIR');
        const client = clientFrom(values);
        const job: StudioJob = { kind: 'resume', runDir: positionals[0], steps: intOption(values.steps, 'steps', 1), checkpoint: values.checkpoint };
        // A resumed run keeps its configuration (run.json); the file gives the job its runtime_env again.
        const file = values.config ? readConfigFile(values.config) : undefined;
        if (file && Object.keys(file.config).length) say(`${values.config}: a resumed run keeps its configuration; only runtime_env is taken (ignored: ${Object.keys(file.config).join(', ')})`);
        return await submitAndReport(client, job, placementFrom(values, file?.runtimeEnv), !values['no-wait'], 1000 * intOption(values['pending-timeout'], 'pending-timeout', 1, 120), values.config);
      }
      case 'list': {
        const { values } = parse(rest, COMMON);
        if (values.help) return help();
        const jobs = await clientFrom(values).list();
        const sorted = [...jobs].sort((a, b) => Number(isStudioJob(b)) - Number(isStudioJob(a)) || (b.start_time ?? 0) - (a.start_time ?? 0));
        for (const j of sorted) process.stdout.write(describeJob(j) + '\n');
        if (!jobs.length) say('No jobs on this cluster.');
        return 0;
      }
      case 'status': {
        const { values, positionals } = parse(rest, COMMON, true);
        if (values.help) return help();
        const client = clientFrom(values);
        const details = await client.status(oneId(positionals, 'status'));
        process.stdout.write(`${details.status}\n`);
        const runDir = await runDirOfJob(client, details);
        if (runDir) process.stdout.write(`run directory: ${runDir}\n`);
        if (details.message) process.stdout.write(`message: ${details.message.trim()}\n`);
        if (details.status === 'FAILED') say(`failed${await failureReport(client, details)}`);
        return 0;
      }
      case 'logs': {
        const { values, positionals } = parse(rest, { ...COMMON, follow: { type: 'boolean', short: 'f' } }, true);
        if (values.help) return help();
        const client = clientFrom(values);
        const id = oneId(positionals, 'logs');
        if (!values.follow) {
          process.stdout.write(await client.logs(id));
          return 0;
        }
        const controller = new AbortController();
        const onSigint = () => controller.abort();
        process.once('SIGINT', onSigint);
        try {
          const result = await followLogs(client, id, { onText: (t) => process.stdout.write(t), onNotice: say, signal: controller.signal });
          if (result.final) say(`${id}: ${result.final.status}${result.final.message ? ` (${result.final.message.trim()})` : ''}`);
          return result.final?.status === 'FAILED' ? 1 : 0;
        } finally {
          process.off('SIGINT', onSigint);
        }
      }
      case 'stop': {
        const { values, positionals } = parse(rest, { ...COMMON, 'run-dir': { type: 'string' }, grace: { type: 'string' } }, true);
        if (values.help) return help();
        const client = clientFrom(values);
        const id = oneId(positionals, 'stop');
        let runDir = values['run-dir'];
        if (!runDir) {
          const found = await runDirOfJob(client, await client.status(id));
          if (found && existsSync(found)) runDir = found;
        }
        if (!runDir) say(`The run directory of ${id} is not readable here: the stop relies on Ray's SIGTERM alone.`);
        const result = await stopWithCheckpoint(client, id, { runDir, graceMs: 1000 * intOption(values.grace, 'grace', 0, 120), onNotice: say });
        const ck = result.checkpointAfter !== undefined && result.checkpointAfter !== result.checkpointBefore ? `; checkpoint written at step ${result.checkpointAfter}` : result.checkpointAfter !== undefined ? `; latest checkpoint: step ${result.checkpointAfter}` : '';
        process.stdout.write(`${id}: ${result.final.status}${ck}\n`);
        if (runDir && result.checkpointAfter !== undefined) say(`Resume it with: prpo-studio jobs resume --address ${client.address} ${runDir} --steps N`);
        return 0;
      }
      case undefined:
      case '--help':
      case '-h':
        process.stdout.write(USAGE + '\n');
        return sub ? 0 : 2;
      default:
        throw new UsageError(`unknown jobs command '${sub}'`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`prpo-studio jobs: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    if (e instanceof ClusterError) {
      process.stderr.write(`prpo-studio jobs: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function help(): number {
  process.stdout.write(USAGE + '\n');
  return 0;
}
