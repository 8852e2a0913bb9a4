/**
 * The RunSource of one run: reads from disk through src/core/run (a RunHandle: our run directory, or another
 * trainer's logs through an importer); new data arrives from the live backend's notifications when this
 * window runs it, or from the run's files growing (another process writing it: `prpo-studio train` in a
 * terminal, a remote trainer on a shared disk).
 */
import * as vscode from 'vscode';
import { formatIssue } from '../../core/run/lines';
import { JsonlFollower, currentHistory, runFiles } from '../../core/run/reader';
import { validateMetricsRow, validateRollout } from '../../core/run/validate';
import type { RunHandle } from '../../core/run/importers';
import type { LineIssue, MetricsRow, RolloutRecord, RunDisplayStatus, RunManifest, RunStatus } from '../../core/run/schema';
import { fromArray } from '../../core/view/stepRead';
import type { RunSource } from '../panels/runSource';
import type { StepRollouts } from '../../core/protocol/backend';

export class RunSourceImpl implements RunSource, vscode.Disposable {
  private readonly rolloutsEmitter = new vscode.EventEmitter<StepRollouts>();
  private readonly metricsEmitter = new vscode.EventEmitter<MetricsRow>();
  private readonly statusEmitter = new vscode.EventEmitter<RunStatus>();
  readonly onRollouts = this.rolloutsEmitter.event;
  readonly onMetrics = this.metricsEmitter.event;
  readonly onStatus = this.statusEmitter.event;

  /** What listeners have been told (or what was on disk when the source was made). */
  private lastMetricsStep = -1;
  private readonly seenSteps = new Set<number>();
  private readonly baseline: Promise<void>;
  private lastStatus: RunStatus;
  private polling: Promise<void> | undefined;
  /**
   * Our own run directory is followed file by file (JsonlFollower reads only what was appended since the last
   * poll); another trainer's logs are re-read through their importer, which derives records from whole files.
   */
  private readonly follow: { metrics: JsonlFollower<MetricsRow>; steps: Map<number, JsonlFollower<RolloutRecord>> } | undefined;

  constructor(
    readonly manifest: RunManifest,
    readonly runDir: string,
    /** The current way to read the run (re-opened when an import's files change). */
    private readonly handle: () => RunHandle,
    private readonly currentStatus: () => RunDisplayStatus,
    private readonly isLive: () => boolean,
  ) {
    this.lastStatus = toRunStatus(currentStatus());
    if (manifest.source === 'prpo-studio') this.follow = { metrics: new JsonlFollower(runFiles.metrics(runDir), validateMetricsRow), steps: new Map() };
    this.baseline = (async () => {
      if (this.follow) {
        // What is on disk now is known; later polls read only what is appended after it.
        this.lastMetricsStep = currentHistory((await this.follow.metrics.poll()).records).at(-1)?.step ?? -1;
        const steps = await this.steps();
        for (const s of steps) this.seenSteps.add(s);
        const last = steps.at(-1);
        if (last !== undefined) await this.stepFollower(last).poll();
      } else {
        this.lastMetricsStep = (await this.readMetrics().catch(() => [])).at(-1)?.step ?? -1;
        for (const s of await this.steps()) this.seenSteps.add(s);
      }
    })();
  }

  private stepFollower(step: number): JsonlFollower<RolloutRecord> {
    let f = this.follow!.steps.get(step);
    if (!f) this.follow!.steps.set(step, (f = new JsonlFollower(runFiles.rollouts(this.runDir, step), validateRollout)));
    return f;
  }

  /** 'interrupted' (the writer died) reads as 'failed' to panels: the run is not going on. */
  status(): RunStatus {
    return toRunStatus(this.currentStatus());
  }

  async steps(): Promise<number[]> {
    return this.handle().info.rolloutSteps;
  }

  readStep(step: number, onIssue?: (message: string) => void): Promise<RolloutRecord[]> {
    return this.handle().readRolloutStep(step, onIssue && ((i) => onIssue(formatIssue(i))));
  }

  streamStep(step: number, onIssue?: (message: string) => void): AsyncIterable<RolloutRecord> {
    const handle = this.handle();
    const issue = onIssue && ((i: LineIssue) => onIssue(formatIssue(i)));
    return handle.streamRolloutStep?.(step, issue) ?? fromArray(handle.readRolloutStep(step, issue));
  }

  /** The run's metrics as they stand (rows of a continuation abandoned by a resume are left out). */
  async readMetrics(onIssue?: (message: string) => void): Promise<MetricsRow[]> {
    return this.handle().readMetrics(onIssue && ((i) => onIssue(formatIssue(i))));
  }

  liveMetrics(row: MetricsRow): void {
    this.lastMetricsStep = row.step;
    this.metricsEmitter.fire(row);
  }

  liveRollouts(step: number, rollouts: RolloutRecord[], sentAt?: number): void {
    this.seenSteps.add(step);
    this.rolloutsEmitter.fire({ step, rollouts, sentAt });
  }

  setStatus(status: RunDisplayStatus): void {
    const s = toRunStatus(status);
    if (s === this.lastStatus) return;
    this.lastStatus = s;
    this.statusEmitter.fire(s);
  }

  /** The run's files changed: when no backend of this window feeds the run, tell listeners what is new. */
  diskChanged(): void {
    if (this.isLive()) return;
    this.polling ??= this.poll().finally(() => (this.polling = undefined));
  }

  private async poll(): Promise<void> {
    await this.baseline;
    if (this.follow) await this.pollFollowed(this.follow);
    else await this.pollImported();
  }

  /** Our run directory: the metrics rows and rollouts appended since the last poll. */
  private async pollFollowed(follow: NonNullable<RunSourceImpl['follow']>): Promise<void> {
    const { records: rows } = await follow.metrics.poll().catch(() => ({ records: [] as MetricsRow[] }));
    for (const row of rows) {
      // A resume from an earlier checkpoint rewinds: the steps from there on are redone.
      if (row.step <= this.lastMetricsStep) {
        this.lastMetricsStep = row.step;
        continue;
      }
      this.lastMetricsStep = row.step;
      this.metricsEmitter.fire(row);
    }
    const steps = await this.steps();
    const latest = steps.at(-1);
    for (const step of steps) {
      if (this.seenSteps.has(step) && !follow.steps.has(step)) continue;
      this.seenSteps.add(step);
      const { records } = await this.stepFollower(step).poll().catch(() => ({ records: [] as RolloutRecord[] }));
      if (records.length) this.rolloutsEmitter.fire({ step, rollouts: records });
      // A step's file is complete once a later step has begun: it need not be followed any longer.
      if (step !== latest) follow.steps.delete(step);
    }
  }

  /** Another trainer's logs: their importer re-derives the records from whole files. */
  private async pollImported(): Promise<void> {
    const rows = await this.readMetrics().catch(() => [] as MetricsRow[]);
    // A resume rewinds: what listeners saw past the last row on disk is redone from there.
    if (rows.length && rows[rows.length - 1].step < this.lastMetricsStep) this.lastMetricsStep = rows[rows.length - 1].step;
    for (const row of rows) {
      if (row.step <= this.lastMetricsStep) continue;
      this.lastMetricsStep = row.step;
      this.metricsEmitter.fire(row);
    }
    // A step's file is complete once a later step has begun (or the metrics row for it exists).
    for (const step of await this.steps()) {
      if (this.seenSteps.has(step) || step > this.lastMetricsStep) continue;
      this.seenSteps.add(step);
      const rollouts = await this.readStep(step).catch(() => []);
      if (rollouts.length) this.rolloutsEmitter.fire({ step, rollouts });
    }
  }

  dispose(): void {
    this.rolloutsEmitter.dispose();
    this.metricsEmitter.dispose();
    this.statusEmitter.dispose();
  }
}

function toRunStatus(s: RunDisplayStatus): RunStatus {
  return s === 'interrupted' ? 'failed' : s;
}
