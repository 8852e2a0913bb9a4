/**
 * The cluster commands: Submit Run to Cluster…, Stop Cluster Run (checkpoint first: also the cluster's
 * "pause"), Resume Cluster Run… (resubmits from a checkpoint), Follow Cluster Logs, Set Cluster Token…
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  ClusterError,
  isTerminal,
  previousRuntimeEnv,
  splitRunConfig,
  stopWithCheckpoint,
  submitRequestFor,
  uploadLocalPackages,
  waitForStart,
  type StudioJob,
} from '../../core/cluster';
import { commandRegistrar, requireTrust } from '../commands';
import * as config from '../config';
import { PRESETS, presetLabel } from '../../core/presets';
import type { RunStore } from '../runs/runStore';
import { clusterMessage, pickCluster, type ClusterConfig, type ClusterTokens } from './clusters';
import type { ClusterRuns, TrackedJob } from './clusterRuns';
import type { LogFollower } from './logFollower';
import { escapeLabel, escapeNotice } from '../../core/format';

export interface ClusterCommandDeps {
  context: vscode.ExtensionContext;
  store: RunStore;
  runs: ClusterRuns;
  tokens: ClusterTokens;
  follower: LogFollower;
  log: vscode.LogOutputChannel;
  revealRun: (runDir: string) => Promise<void>;
}

/** An explorer node (a run, or a cluster job not on disk yet), a submission id, or nothing. */
type JobArg = { kind: string; runDir?: string; jobId?: string } | string | undefined;

const LAST_INPUTS = 'prpoStudio.clusterSubmitInputs';

interface LastInputs {
  model?: string;
  data?: string;
  steps?: string;
  configFile?: string;
}

const folderValidator = (v: string) => (path.isAbsolute(v.trim()) ? undefined : 'Enter an absolute path, as the cluster sees it.');
const stepsValidator = (min: number) => (v: string) => (/^\s*\d+\s*$/.test(v) && Number(v) >= min ? undefined : `Enter a whole number ≥ ${min}.`);

export function registerClusterCommands(deps: ClusterCommandDeps): vscode.Disposable[] {
  const { context, store, runs, tokens, follower, log } = deps;

  const command = commandRegistrar(log);

  /** The job an argument names, or one the user picks among `filter`'s. */
  const jobFor = async (arg: JobArg, placeHolder: string, filter: (j: TrackedJob) => boolean): Promise<TrackedJob | undefined> => {
    if (typeof arg === 'string') return runs.get(arg) ?? runs.forRunDir(arg);
    if (arg?.jobId) return runs.get(arg.jobId);
    if (arg?.runDir) return runs.forRunDir(arg.runDir);
    await runs.poll();
    const candidates = runs.all().filter(filter);
    if (candidates.length === 0) {
      void vscode.window.showInformationMessage('No cluster run fits this command.');
      return undefined;
    }
    if (candidates.length === 1) return candidates[0];
    const picked = await vscode.window.showQuickPick(
      candidates.map((j) => ({ label: j.runDir ? path.basename(j.runDir) : j.id, description: `${j.cluster} · Ray ${j.status}`, detail: j.id, job: j })),
      { placeHolder },
    );
    return picked?.job;
  };

  /**
   * Submits one of our jobs, waits for its trainer to start (with progress), tracks and reveals it. Local
   * folders in the runtime_env (relative ones from `baseDir`, the run config file's folder) are uploaded first.
   */
  const submit = async (cluster: ClusterConfig, job: StudioJob, runtimeEnv?: Record<string, unknown>, baseDir?: string): Promise<TrackedJob | undefined> => {
    const client = await tokens.client(cluster);
    const req = submitRequestFor(job, { python: cluster.python, runtimeEnv });
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Cluster "${cluster.name}"`, cancellable: true }, async (progress, cancel) => {
      let id: string;
      try {
        const say = (text: string) => {
          log.info(`cluster "${cluster.name}": ${text}`);
          progress.report({ message: text });
        };
        req.runtime_env = await uploadLocalPackages(client, req.runtime_env, baseDir ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.cwd(), say);
        progress.report({ message: 'submitting…' });
        id = (await client.submit(req)).submission_id;
      } catch (e) {
        throw new Error(clusterMessage(cluster, e));
      }
      log.info(`Submitted ${id} to cluster "${cluster.name}" (${cluster.address}): ${job.kind}`);
      const tracked: TrackedJob = {
        cluster: cluster.name,
        address: cluster.address,
        id,
        kind: job.kind,
        runsDir: job.kind === 'train' ? job.runsDir : undefined,
        runDir: job.kind === 'resume' ? job.runDir : undefined,
        status: 'PENDING',
        submittedAt: Date.now(),
        fresh: true,
      };
      runs.track(tracked);
      const abort = new AbortController();
      cancel.onCancellationRequested(() => abort.abort());
      try {
        const started = await waitForStart(client, id, { signal: abort.signal, onStatus: (s) => progress.report({ message: `${id}: ${s}` }) });
        runs.update(id, started.details, started.runDir);
        if (started.runDir) await deps.revealRun(started.runDir);
        void vscode.window
          .showInformationMessage(`Cluster "${cluster.name}": ${id} is ${started.details.status}${started.runDir ? ` and writes ${escapeNotice(path.basename(started.runDir))}` : ''}.`, 'Follow Logs')
          .then((choice) => choice && follower.follow(runs.get(id)!));
        return runs.get(id);
      } catch (e) {
        await runs.poll(true);
        // Cancelling the wait leaves the job running; it stays in the explorer.
        if (e instanceof ClusterError && e.kind === 'cancelled') return runs.get(id);
        throw new Error(clusterMessage(cluster, e));
      }
    });
  };

  /**
   * The runtime_env a resumed run's job gets: its previous job's on the same cluster, as Ray kept it. When Ray no
   * longer holds a package of it, or the run resumes on another cluster, the user picks the run config file to
   * upload again, or resumes without. Undefined: cancelled.
   */
  const resumeRuntimeEnv = async (cluster: ClusterConfig, previous: TrackedJob | undefined): Promise<{ runtimeEnv?: Record<string, unknown>; baseDir?: string } | undefined> => {
    if (!previous) return {};
    let why: string;
    if (previous.cluster !== cluster.name) {
      why = `${previous.id} ran on cluster "${previous.cluster}": its runtime_env (packages, env vars, pip) is not on "${cluster.name}".`;
    } else {
      const client = await tokens.client(cluster);
      const details = await client.status(previous.id).catch(() => undefined);
      if (!details) return {};
      const { runtimeEnv, missing } = await previousRuntimeEnv(client, details).catch((e: unknown) => {
        throw new Error(clusterMessage(cluster, e));
      });
      if (!missing.length) return { runtimeEnv };
      why = `The runtime_env of ${previous.id} used ${missing.join(', ')}, which cluster "${cluster.name}" no longer holds (Ray drops packages no job has used for a while).`;
    }
    const choose = 'Choose Run Config…';
    const choice = await vscode.window.showWarningMessage(`${why} Choose the run config file whose runtime_env the job should get, or resume without one.`, choose, 'Resume Without');
    if (!choice) return undefined;
    if (choice !== choose) return {};
    const file = (await vscode.window.showOpenDialog({ title: 'Run config file (its runtime_env)', filters: { 'Run config (JSON)': ['json'] }, canSelectMany: false }))?.[0]?.fsPath;
    if (!file) return undefined;
    return { runtimeEnv: (await readRunConfig(file)).runtimeEnv, baseDir: path.dirname(file) };
  };

  return [
    command('submitClusterRun', async () => {
      if (!requireTrust('submit a run to a cluster')) return undefined;
      const runsDir = store.root;
      if (!runsDir) throw new Error('PRPO Studio needs a runs directory that the cluster writes into: open a folder, or set prpoStudio.runsDirectory.');
      const cluster = await pickCluster('Submit a run to which cluster?');
      if (!cluster) return undefined;
      const last = context.workspaceState.get<LastInputs>(LAST_INPUTS) ?? {};

      const configPick = await vscode.window.showQuickPick(
        [
          { label: 'No run config file', description: 'the trainer\'s defaults; no runtime_env', file: '' },
          ...(last.configFile ? [{ label: path.basename(last.configFile), description: 'last used', detail: last.configFile, file: last.configFile }] : []),
          { label: '$(file-code) Choose a run config file…', description: 'JSON: trainer keys and runtime_env', file: '?' },
        ],
        { title: `Submit to "${cluster.name}" (1/5): run config`, ignoreFocusOut: true },
      );
      if (!configPick) return undefined;
      let configFile = configPick.file;
      if (configFile === '?') {
        configFile = (await vscode.window.showOpenDialog({ title: 'Run config file', filters: { 'Run config (JSON)': ['json'] }, canSelectMany: false, defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri }))?.[0]?.fsPath ?? '';
        if (!configFile) return undefined;
      }
      const split = configFile ? await readRunConfig(configFile) : { config: {} };

      const preferred = config.defaultPreset();
      const presetPick = await vscode.window.showQuickPick(
        [...PRESETS].sort((a, b) => Number(b.name === preferred) - Number(a.name === preferred)).map((p) => ({ label: p.label, description: p.name, detail: p.detail, preset: p.name })),
        { title: `Submit to "${cluster.name}" (2/5): algorithm preset`, matchOnDetail: true, ignoreFocusOut: true },
      );
      if (!presetPick) return undefined;
      const steps = await vscode.window.showInputBox({ title: `Submit a ${presetLabel(presetPick.preset)} run (3/5): steps`, value: last.steps ?? String(config.defaultSteps()), validateInput: stepsValidator(1), ignoreFocusOut: true });
      if (steps === undefined) return undefined;
      const model = await vscode.window.showInputBox({ title: `Submit a ${presetLabel(presetPick.preset)} run (4/5): model folder on the cluster`, prompt: 'A Hugging Face model folder (config.json + safetensors), as the cluster sees it', value: last.model, validateInput: folderValidator, ignoreFocusOut: true });
      if (model === undefined) return undefined;
      const data = await vscode.window.showInputBox({ title: `Submit a ${presetLabel(presetPick.preset)} run (5/5): dataset folder on the cluster`, prompt: 'data.jsonl + images, as the cluster sees it', value: last.data, validateInput: folderValidator, ignoreFocusOut: true });
      if (data === undefined) return undefined;
      await context.workspaceState.update(LAST_INPUTS, { model: model.trim(), data: data.trim(), steps: steps.trim(), configFile: configFile || last.configFile });

      const job: StudioJob = { kind: 'train', backend: 'pytorch', model: model.trim(), data: data.trim(), preset: presetPick.preset, steps: Number(steps), runsDir, config: split.config, checkpointEvery: config.checkpointEvery() };
      return submit(cluster, job, split.runtimeEnv, configFile ? path.dirname(configFile) : undefined);
    }),

    command('stopClusterRun', async (arg?: JobArg) => {
      if (!requireTrust('stop a cluster run')) return undefined;
      const job = await jobFor(arg, 'Stop which cluster run?', (j) => !isTerminal(j.status));
      if (!job) return undefined;
      const cluster = runs.clusterOf(job);
      const client = await tokens.client(cluster);
      const runDir = job.runDir && existsSync(job.runDir) ? job.runDir : undefined;
      const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Stopping ${runDir ? path.basename(runDir) : job.id}` }, (progress) =>
        stopWithCheckpoint(client, job.id, { runDir, onNotice: (text) => (progress.report({ message: text }), log.info(`${job.id}: ${text}`)) }).catch((e) => {
          throw new Error(clusterMessage(cluster, e));
        }),
      );
      runs.update(job.id, result.final);
      if (runDir) store.refreshRun(runDir);
      const checkpoint = result.checkpointAfter !== undefined ? `checkpoint at step ${result.checkpointAfter}${result.checkpointAfter !== result.checkpointBefore ? ' (written now)' : ''}` : 'no checkpoint';
      log.info(`${job.id}: ${result.final.status}, ${checkpoint} (signal: ${result.signalled})`);
      void vscode.window.showInformationMessage(`Cluster run ${escapeNotice(runDir ? path.basename(runDir) : job.id)}: Ray ${result.final.status}, ${checkpoint}.`);
      return result;
    }),

    command('resumeClusterRun', async (arg?: JobArg) => {
      if (!requireTrust('resume a run on a cluster')) return undefined;
      const runDir = typeof arg === 'string' ? runs.get(arg)?.runDir ?? arg : arg?.runDir ?? (arg?.jobId ? runs.get(arg.jobId)?.runDir : undefined) ?? (await pickResumable(store, runs));
      if (!runDir) return undefined;
      const entry = store.get(runDir);
      const complete = entry?.info.checkpoints.filter((c) => c.complete) ?? [];
      if (!entry || complete.length === 0) throw new Error(`${runDir} has no complete checkpoint to resume from.`);
      const previous = runs.forRunDir(runDir);
      if (previous && !isTerminal(previous.status)) throw new Error(`${escapeNotice(entry.info.name)} is still ${previous.status} on "${previous.cluster}" (${previous.id}); stop it first.`);
      const cluster = await pickCluster(`Resume "${escapeNotice(entry.info.name)}" on which cluster?`, previous?.cluster);
      if (!cluster) return undefined;
      const latest = complete.at(-1)!;
      const planned = entry.info.manifest?.steps ?? 0;
      const steps = await vscode.window.showInputBox({
        title: `Resume "${escapeNotice(entry.info.name)}" on "${cluster.name}" from step ${latest.step}`,
        prompt: 'Train until this step',
        value: String(planned > latest.step ? planned : latest.step + config.defaultSteps()),
        validateInput: stepsValidator(latest.step + 1),
        ignoreFocusOut: true,
      });
      if (steps === undefined) return undefined;
      const env = await resumeRuntimeEnv(cluster, previous);
      if (!env) return undefined;
      return submit(cluster, { kind: 'resume', runDir: entry.info.dir, steps: Number(steps), checkpoint: latest.path }, env.runtimeEnv, env.baseDir);
    }),

    command('followClusterLogs', async (arg?: JobArg) => {
      if (!requireTrust('contact a cluster')) return;
      const job = await jobFor(arg, 'Follow the log of which cluster run?', () => true);
      if (job) await follower.follow(job);
    }),

    command('setClusterToken', async () => {
      // The address comes from settings a workspace can set: a token goes out only from a trusted one.
      if (!requireTrust('send a token to a cluster')) return;
      const cluster = await pickCluster('Set the token of which cluster?');
      if (!cluster) return;
      const had = !!(await tokens.get(cluster));
      const token = await vscode.window.showInputBox({
        title: `Token of cluster "${cluster.name}"`,
        prompt: `Ray's auth token (\`ray get-auth-token\` on the head node). Kept in VS Code's secret storage only.${had ? ' Leave empty to remove the stored token.' : ''}`,
        password: true,
        ignoreFocusOut: true,
      });
      if (token === undefined) return;
      await tokens.set(cluster, token.trim() || undefined);
      log.info(`Cluster "${cluster.name}": token ${token.trim() ? 'stored' : 'removed'}.`);
      if (!token.trim()) return void vscode.window.showInformationMessage(`Cluster "${cluster.name}": token removed.`);
      try {
        await (await tokens.client(cluster)).list();
        void vscode.window.showInformationMessage(`Cluster "${cluster.name}": token stored; the cluster accepts it.`);
      } catch (e) {
        void vscode.window.showWarningMessage(`Token stored, but: ${escapeNotice(clusterMessage(cluster, e))}`);
      }
    }),

    command('refreshClusterRuns', () => requireTrust('contact a cluster') && runs.discover()),
  ];
}

async function pickResumable(store: RunStore, runs: ClusterRuns): Promise<string | undefined> {
  const entries = store.runs().filter((e) => !e.live && !e.imported && e.info.checkpoints.some((c) => c.complete) && !(runs.forRunDir(e.info.dir) && !isTerminal(runs.forRunDir(e.info.dir)!.status)));
  if (entries.length === 0) {
    void vscode.window.showInformationMessage('No run with a complete checkpoint to resume.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    entries.map((e) => ({ label: escapeLabel(e.info.name), description: runs.forRunDir(e.info.dir) ? `cluster ${runs.forRunDir(e.info.dir)!.cluster}` : e.status, detail: e.info.dir, dir: e.info.dir })),
    { placeHolder: 'Resume which run on a cluster?' },
  );
  return picked?.dir;
}

/** A run config file: the trainer's keys and Ray's runtime_env (splitRunConfig), or an error naming the file. */
async function readRunConfig(file: string): Promise<ReturnType<typeof splitRunConfig>> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  return splitRunConfig(value, file);
}
