/**
 * The runs under the runs directory, as the explorer, status bar and commands see them: read through
 * src/core/run, kept fresh by file watchers (run.json, events.jsonl, metrics.jsonl, checkpoints, rollouts)
 * and by the live backends' notifications. Builds one RunSource per run for the panels.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { existsSync, readdirSync } from 'node:fs';
import { detectRunKind, openRun, ownRunHandle, type RunHandle } from '../../core/run/importers';
import { listRuns, runFiles } from '../../core/run/reader';
import { formatIssue } from '../../core/run/lines';
import type { LineIssue, MetricsRow, RunDisplayStatus, RunInfo } from '../../core/run/schema';
import type { BackendManager, LiveRun } from '../backend/backendManager';
import * as config from '../config';
import { RunSourceImpl } from './runSourceImpl';

export interface RunEntry {
  readonly info: RunInfo;
  /** How to read the run: our run directory, or another trainer's logs through an importer. */
  readonly handle: RunHandle;
  /** Read from another trainer's logs (verl, EasyR1, TRL): read only, no checkpoints, no rollout files of ours. */
  readonly imported: boolean;
  /** The status to show: the live backend's state when this window runs it, else the one on disk. */
  readonly status: RunDisplayStatus;
  readonly live: LiveRun | undefined;
  /** The last metrics row (the latest step and reward). */
  readonly lastMetrics: MetricsRow | undefined;
}

const DEBOUNCE_MS = 250;
/** A run written to without a pause (a trainer streaming rollouts) is still re-read this often. */
const MAX_WAIT_MS = 1000;

export class RunStore implements vscode.Disposable {
  private entries = new Map<string, RunEntry>();
  private readonly sources = new Map<string, RunSourceImpl>();
  private watchers: vscode.Disposable[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  /** Runs waiting to be re-read: the timer, and when the first change since the last re-read came. */
  private readonly pending = new Map<string, { timer: NodeJS.Timeout; since: number }>();
  private fullRefresh: Promise<void> | undefined;
  private rootValue: string | undefined;
  private loadedValue = false;
  /** Run folders opened by hand (Open Run Folder…), outside the runs directory; kept for the session. */
  private readonly extraDirs = new Set<string>();
  /** Problems already written to the log (a live run is re-read every step; its bad line is logged once). */
  private readonly logged = new Set<string>();
  private extraWatchers: vscode.Disposable[] = [];

  private readonly changeEmitter = new vscode.EventEmitter<RunEntry | undefined>();
  /** A run changed (its entry), or the set of runs changed (undefined). */
  readonly onDidChange = this.changeEmitter.event;

  constructor(
    private readonly backends: BackendManager,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => config.affectsRunsDirectory(e) && this.setRoot(config.runsDirectory())),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.setRoot(config.runsDirectory())),
      backends.onDidChange((run) => (run ? this.refreshRun(run.runDir) : this.refresh())),
      backends.onMetrics(({ runDir, row }) => {
        const entry = this.entries.get(runDir);
        if (entry) this.update({ ...entry, lastMetrics: row });
        this.sources.get(runDir)?.liveMetrics(row);
      }),
      backends.onRollouts(({ runDir, step, rollouts, sentAt }) => this.sources.get(runDir)?.liveRollouts(step, rollouts, sentAt)),
      backends.onCheckpoint(({ runDir }) => this.refreshRun(runDir)),
    );
    this.setRoot(config.runsDirectory());
  }

  /** The runs directory in use (undefined: no workspace folder to resolve the setting against). */
  get root(): string | undefined {
    return this.rootValue;
  }

  /** False until the first scan has finished (the welcome view waits for it). */
  get loaded(): boolean {
    return this.loadedValue;
  }

  /** Newest first (by creation time). */
  runs(): RunEntry[] {
    return [...this.entries.values()];
  }

  get(runDir: string): RunEntry | undefined {
    return this.entries.get(path.resolve(runDir));
  }

  /** The entry for a path inside a run directory (a rollout file, a checkpoint folder). */
  findByPath(fsPath: string): RunEntry | undefined {
    const p = path.resolve(fsPath);
    return this.runs().find((e) => p === e.info.dir || p.startsWith(e.info.dir + path.sep));
  }

  /**
   * The RunSource the panels consume for a run (one per run, kept while the store lives). Undefined when
   * run.json is missing or broken: the explorer shows why.
   */
  source(runDir: string): RunSourceImpl | undefined {
    const dir = path.resolve(runDir);
    const existing = this.sources.get(dir);
    if (existing) return existing;
    const entry = this.entries.get(dir);
    if (!entry?.info.manifest) return undefined;
    const source = new RunSourceImpl(
      entry.info.manifest,
      dir,
      () => (this.entries.get(dir) ?? entry).handle,
      () => this.entries.get(dir)?.status ?? entry.status,
      () => !!this.backends.get(dir),
    );
    this.sources.set(dir, source);
    return source;
  }

  /** Rescans the whole runs directory. Concurrent calls share one scan. */
  refresh(): Promise<void> {
    if (!this.fullRefresh) {
      this.fullRefresh = this.scan().finally(() => (this.fullRefresh = undefined));
    }
    return this.fullRefresh;
  }

  private async scan(): Promise<void> {
    const root = this.rootValue;
    let handles: RunHandle[] = [];
    if (root) {
      try {
        handles = await listHandles(root);
      } catch (e) {
        this.log.error(`Could not list runs in ${root}: ${(e as Error).message}`);
      }
    }
    for (const dir of this.extraDirs) {
      if (handles.some((h) => path.resolve(h.info.dir) === dir)) continue;
      try {
        handles.push(await openRun(dir));
      } catch (e) {
        this.log.warn(`${dir}: ${(e as Error).message}`);
      }
    }
    if (root !== this.rootValue) return; // the setting changed meanwhile; that scan wins
    const created = (h: RunHandle) => h.info.manifest?.created ?? '';
    handles.sort((a, b) => (created(a) < created(b) ? 1 : created(a) > created(b) ? -1 : a.info.dir.localeCompare(b.info.dir)));
    const next = new Map<string, RunEntry>();
    for (const handle of handles) {
      const dir = path.resolve(handle.info.dir);
      next.set(dir, await this.read(handle, dir));
    }
    this.entries = next;
    this.loadedValue = true;
    this.changeEmitter.fire(undefined);
    for (const [dir, source] of this.sources) {
      const entry = next.get(dir);
      if (entry) source.setStatus(entry.status);
    }
  }

  /**
   * Adds a run folder from anywhere (our run directory, a verl rollout dump, an EasyR1 log, a TRL output_dir)
   * for this session; throws with the reason when the folder is none of those.
   */
  async addFolder(dir: string): Promise<RunEntry> {
    const { entries, failed } = await this.addFolders([dir]);
    if (failed.length) throw failed[0].error;
    return entries[0];
  }

  /**
   * addFolder for several folders with one rescan (a study's runs): the entries of those that are runs, in the
   * order given, and each other folder with the reason it is not one.
   */
  async addFolders(dirs: readonly string[]): Promise<{ entries: RunEntry[]; failed: Array<{ dir: string; error: Error }> }> {
    const added: string[] = [];
    const failed: Array<{ dir: string; error: Error }> = [];
    let rescan = false;
    for (const dir of dirs) {
      const abs = path.resolve(dir);
      try {
        await openRun(abs); // throws, naming what was looked for, when the folder is not a run
      } catch (e) {
        failed.push({ dir: abs, error: e instanceof Error ? e : new Error(String(e)) });
        continue;
      }
      added.push(abs);
      if (this.entries.has(abs) || this.extraDirs.has(abs)) continue;
      this.extraDirs.add(abs);
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(abs), '**/*.{json,jsonl,parquet}'));
      const reread = () => this.refreshRun(abs);
      this.extraWatchers.push(w, w.onDidCreate(reread), w.onDidChange(reread), w.onDidDelete(reread));
      rescan = true;
    }
    if (rescan) await this.refresh();
    return { entries: added.map((d) => this.entries.get(d)).filter((e): e is RunEntry => !!e), failed };
  }

  /** The run's metrics as they stand (core's readMetrics drops an abandoned continuation), through its handle. */
  async readMetrics(runDir: string): Promise<MetricsRow[]> {
    const entry = this.get(runDir);
    return entry ? entry.handle.readMetrics().catch(() => []) : [];
  }

  /** Re-reads one run (debounced: a step writes several files at once; at least once a second while it is written). */
  refreshRun(runDir: string): void {
    const dir = path.resolve(runDir);
    const waiting = this.pending.get(dir);
    const since = waiting?.since ?? Date.now();
    clearTimeout(waiting?.timer);
    const timer = setTimeout(
      () => {
        this.pending.delete(dir);
        void this.rereadRun(dir);
      },
      Math.max(0, Math.min(DEBOUNCE_MS, since + MAX_WAIT_MS - Date.now())),
    );
    this.pending.set(dir, { timer, since });
  }

  private async rereadRun(dir: string): Promise<void> {
    if (!this.entries.has(dir)) return this.refresh(); // a new run: rescan, to keep the order
    try {
      const handle = await openRun(dir);
      this.update(await this.read(handle, dir));
      this.sources.get(dir)?.diskChanged();
    } catch (e) {
      // The folder went away (deleted run): rescan.
      this.log.info(`Re-reading ${dir}: ${(e as Error).message}`);
      await this.refresh();
    }
  }

  /**
   * The entry of one run, with the problems of its metrics file beside those of run.json and events.jsonl: the
   * explorer lists them under the run and names them in its tooltip; the log gets each one once.
   */
  private async read(handle: RunHandle, dir: string): Promise<RunEntry> {
    const metricIssues: LineIssue[] = [];
    const last = await lastMetrics(handle, (i) => metricIssues.push(i));
    const issues = [...handle.info.issues, ...metricIssues];
    for (const issue of issues) {
      const text = formatIssue(issue);
      if (this.logged.has(text)) continue;
      this.logged.add(text);
      this.log.warn(text);
    }
    return this.entryFor({ ...handle, info: { ...handle.info, dir, issues } }, last);
  }

  private entryFor(handle: RunHandle, last: MetricsRow | undefined): RunEntry {
    const info = handle.info;
    const imported = !!info.manifest && info.manifest.source !== 'prpo-studio';
    const live = this.backends.get(info.dir);
    const status: RunDisplayStatus = live ? (live.phase === 'paused' ? 'paused' : 'running') : info.status;
    // A live run's own word on its step wins (after a resume the file can hold rows past it).
    let lastMetrics = last;
    if (live) {
      const same = last?.step === live.status.step ? last : undefined;
      lastMetrics = { ...same, step: live.status.step, reward: live.status.lastReward ?? same?.reward };
    }
    return { info, handle, imported, status, live, lastMetrics };
  }

  private update(entry: RunEntry): void {
    const dir = entry.info.dir;
    if (!this.entries.has(dir)) return;
    this.entries.set(dir, entry);
    this.sources.get(dir)?.setStatus(entry.status);
    this.changeEmitter.fire(entry);
  }

  private setRoot(root: string | undefined): void {
    if (root === this.rootValue && this.watchers.length) return;
    this.rootValue = root;
    for (const w of this.watchers.splice(0)) w.dispose();
    if (root) this.watch(root);
    void this.refresh();
  }

  private watch(root: string): void {
    const base = vscode.Uri.file(root);
    const onRunFile = (uri: vscode.Uri) => {
      const rel = path.relative(root, uri.fsPath);
      const runFolder = rel.split(path.sep)[0];
      if (!runFolder || runFolder.startsWith('..')) return void this.refresh();
      this.refreshRun(path.join(root, runFolder));
    };
    // Ours, then other trainers' logs: verl's <step>.jsonl and EasyR1's experiment_log.jsonl, TRL's parquet.
    const patterns = ['*/{run.json,events.jsonl,metrics.jsonl}', '*/checkpoints/*', '*/checkpoints/*/manifest.json', '*/rollouts/*.jsonl', '*/*.jsonl', '*/completions/*.parquet'];
    for (const pattern of patterns) {
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(base, pattern));
      this.watchers.push(w, w.onDidCreate(onRunFile), w.onDidChange(onRunFile), w.onDidDelete(onRunFile));
    }
    // Run folders appearing or going away, and the runs directory itself being created or deleted.
    const folders = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(base, '*'), false, true, false);
    const rootWatcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(root)), path.basename(root)), false, true, false);
    const rescan = () => void this.refresh();
    this.watchers.push(folders, folders.onDidCreate(rescan), folders.onDidDelete(rescan), rootWatcher, rootWatcher.onDidCreate(rescan), rootWatcher.onDidDelete(rescan));
  }

  dispose(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    for (const d of [...this.watchers.splice(0), ...this.extraWatchers.splice(0), ...this.disposables.splice(0)]) d.dispose();
    for (const s of this.sources.values()) s.dispose();
    this.changeEmitter.dispose();
  }
}

async function lastMetrics(handle: RunHandle, onIssue: (i: LineIssue) => void): Promise<MetricsRow | undefined> {
  try {
    return (await handle.readMetrics(onIssue)).at(-1);
  } catch {
    return undefined;
  }
}

/** Every run in the runs directory: our run directories, and folders another trainer's importer can read. */
async function listHandles(root: string): Promise<RunHandle[]> {
  const handles = (await listRuns(root)).map(ownRunHandle);
  if (!existsSync(root)) return handles;
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const dir = path.join(root, e.name);
    if (!e.isDirectory() || e.name.startsWith('.') || existsSync(runFiles.manifest(dir))) continue;
    const kind = detectRunKind(dir);
    if (kind && kind !== 'prpo-studio') handles.push(await openRun(dir).catch(() => undefined as never));
  }
  return handles.filter(Boolean);
}
