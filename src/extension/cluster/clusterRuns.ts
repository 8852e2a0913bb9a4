/**
 * The cluster jobs this workspace knows: the ones submitted from here, and the studio's jobs found on the
 * configured clusters that write into this workspace's runs directory (submitted with the CLI, or from
 * another window). Each is tied to its run directory (named by a resume; printed by the trainer of a new run),
 * and its Ray status is polled while it is PENDING or RUNNING. The explorer shows Ray's status beside ours.
 *
 * Stored in workspaceState: cluster name and address, submission id, kind, run directory — no token.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ClusterError, isStudioJob, isTerminal, runDirOf, type JobDetails, type JobStatus } from '../../core/cluster';
import type { RunStore } from '../runs/runStore';
import { clusterMessage, configuredClusters, type ClusterConfig, type ClusterTokens } from './clusters';

export interface TrackedJob {
  cluster: string;
  address: string;
  id: string;
  kind: 'train' | 'resume';
  runsDir?: string;
  runDir?: string;
  status: JobStatus;
  message?: string;
  /** ms since the epoch. */
  submittedAt: number;
  /** Submitted from this window in this session (its failure stays in view until the window closes). */
  fresh?: boolean;
}

const STATE_KEY = 'prpoStudio.clusterJobs';
const MAX_TRACKED = 100;
const POLL_MS = 3000;

export class ClusterRuns implements vscode.Disposable {
  private jobs: TrackedJob[];
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly changeEmitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changeEmitter.event;

  constructor(
    private readonly state: vscode.Memento,
    private readonly tokens: ClusterTokens,
    private readonly store: RunStore,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.jobs = (state.get<TrackedJob[]>(STATE_KEY) ?? []).map((j) => ({ ...j, fresh: false }));
    this.schedule();
  }

  all(): readonly TrackedJob[] {
    return this.jobs;
  }

  get(id: string): TrackedJob | undefined {
    return this.jobs.find((j) => j.id === id);
  }

  /** The newest job that writes this run directory (a run and its resumes share one). */
  forRunDir(runDir: string): TrackedJob | undefined {
    const dir = path.resolve(runDir);
    return this.jobs.filter((j) => j.runDir && path.resolve(j.runDir) === dir).sort((a, b) => b.submittedAt - a.submittedAt)[0];
  }

  /** Jobs with no run in the explorer yet: queued, starting, or failed at start in this session. */
  unplaced(): TrackedJob[] {
    return this.jobs.filter((j) => !(j.runDir && this.store.get(j.runDir)) && (!isTerminal(j.status) || (j.fresh && j.status === 'FAILED')));
  }

  clusterOf(job: TrackedJob): ClusterConfig {
    return configuredClusters().find((c) => c.address === job.address) ?? { name: job.cluster, address: job.address };
  }

  track(job: TrackedJob): void {
    this.jobs = [job, ...this.jobs.filter((j) => j.id !== job.id)].slice(0, MAX_TRACKED);
    this.changed();
    this.schedule();
  }

  update(id: string, details: JobDetails, runDir?: string): void {
    const job = this.get(id);
    if (!job) return;
    const next = { ...job, status: details.status, message: details.message ?? undefined, runDir: job.runDir ?? runDir };
    if (next.status === job.status && next.message === job.message && next.runDir === job.runDir) return;
    this.jobs = this.jobs.map((j) => (j.id === id ? next : j));
    if (next.runDir && next.runDir !== job.runDir) void this.store.refresh();
    else if (next.runDir) this.store.refreshRun(next.runDir);
    this.changed();
  }

  /**
   * Finds the studio's jobs on every configured cluster that write into this workspace's runs directory.
   * A cluster that cannot be reached is noted in the log, not in a pop-up (it may simply be off).
   */
  async discover(): Promise<void> {
    const root = this.store.root;
    // Cluster addresses come from settings a workspace can set: contacted only from a trusted one.
    if (!root || !vscode.workspace.isTrusted) return;
    const inRoot = (p: string | undefined) => !!p && (path.resolve(p) === root || path.resolve(p).startsWith(root + path.sep));
    for (const cluster of configuredClusters((issue) => this.log.warn(issue))) {
      let jobs: JobDetails[];
      try {
        jobs = await (await this.tokens.client(cluster)).list();
      } catch (e) {
        this.log.warn(clusterMessage(cluster, e));
        continue;
      }
      for (const d of jobs) {
        const id = d.submission_id;
        if (!id || !isStudioJob(d) || this.get(id)) continue;
        const meta = d.metadata ?? {};
        const runsDir = meta.runs_dir;
        if (!inRoot(meta.run_dir) && !(runsDir && path.resolve(runsDir) === root)) continue;
        this.jobs.push({ cluster: cluster.name, address: cluster.address, id, kind: meta.prpo_studio === 'resume' ? 'resume' : 'train', runsDir, runDir: meta.run_dir, status: d.status, message: d.message ?? undefined, submittedAt: d.start_time ?? Date.now() });
      }
    }
    this.jobs.sort((a, b) => b.submittedAt - a.submittedAt);
    this.changed();
    await this.poll(true);
  }

  /** Re-reads the status of every job still PENDING or RUNNING (all of them when `all`), and finds run directories. */
  poll(all = false): Promise<void> {
    this.polling ??= this.pollOnce(all).finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollOnce(all: boolean): Promise<void> {
    if (!vscode.workspace.isTrusted) return;
    const live = this.jobs.filter((j) => all || !isTerminal(j.status) || !j.runDir);
    const byCluster = new Map<string, TrackedJob[]>();
    for (const j of live) byCluster.set(j.address, [...(byCluster.get(j.address) ?? []), j]);
    for (const jobs of byCluster.values()) {
      const cluster = this.clusterOf(jobs[0]);
      try {
        const client = await this.tokens.client(cluster);
        for (const job of jobs) {
          const details = await client.status(job.id).catch((e): JobDetails => {
            // A job the cluster forgot (deleted, or a new head) ends here.
            if (e instanceof ClusterError && e.kind === 'not-found') return { type: 'SUBMISSION', job_id: null, submission_id: job.id, status: 'STOPPED', entrypoint: '', message: 'no longer known to the cluster' };
            throw e;
          });
          let runDir = job.runDir;
          if (!runDir && details.status !== 'PENDING' && isStudioJob(details)) runDir = runDirOf(details, await client.logs(job.id).catch(() => undefined));
          this.update(job.id, details, runDir);
        }
      } catch (e) {
        this.log.warn(clusterMessage(cluster, e));
      }
    }
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.jobs.some((j) => !isTerminal(j.status))) {
      this.timer = setTimeout(() => void this.poll(), POLL_MS);
    }
  }

  private changed(): void {
    void this.state.update(STATE_KEY, this.jobs.map(({ fresh: _fresh, ...j }) => j));
    this.changeEmitter.fire();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.changeEmitter.dispose();
  }
}
