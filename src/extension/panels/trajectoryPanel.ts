/**
 * The trajectory view of one run: a step's rollouts grouped by prompt, tokens coloured by a chosen signal, a
 * hover card per token, filters, and live follow. Opened by `TrajectoryPanel.show` (commands/index.ts).
 */
import * as vscode from 'vscode';
import { promises as fs } from 'node:fs';
import type { RunSource } from './runSource';
import {
  GetDetailsRequest,
  GetImageRequest,
  GetStepPartRequest,
  GetStepRequest,
  OpenWhatIfNotification,
  RolloutsAppendedNotification,
  SaveWhatIfConfigCommand,
  SetFollowCommand,
  StartWhatIfRunCommand,
  ShowStepNotification,
  StatusChangedNotification,
  StepsChangedNotification,
  TrajectoryInitNotification,
  type StepReply,
  type WhatIfRunConfig,
} from '../../core/protocol/webview';
import { packDetails, packRollouts, type TokenField } from '../../core/view/pack';
import { runSourceOf } from '../../core/view/whatIf';
import { StepRead } from '../../core/view/stepRead';
import { webviewRunInfo } from '../../core/view/runInfo';
import { readRunImage } from '../../core/run/images';
import { displayString } from '../../core/visibleText';
import { WebviewIpc, localRoots, webviewHtml } from './webviewHost';

const runConfigText = (c: WhatIfRunConfig & ReturnType<typeof runSourceOf>): string => JSON.stringify(c, null, 2) + '\n';

/** Steps kept read per panel (besides the one on show and the two read ahead beside it). */
const STEP_CACHE = 3;
/** Rollouts in the reply to GetStepRequest (what a first screen shows), and per part the webview pulls after it. */
const FIRST_PART = 48;
const PART = 128;

export class TrajectoryPanel implements vscode.Disposable {
  static readonly viewType = 'prpoStudio.trajectory';
  private static readonly panels = new Map<string, TrajectoryPanel>();

  /** The run directory of the trajectory view on screen: the active one, else a visible one. */
  static runOnScreen(): string | undefined {
    const panels = [...TrajectoryPanel.panels.values()];
    return (panels.find((p) => p.panel.active) ?? panels.find((p) => p.panel.visible))?.source.runDir;
  }

  /** Opens (or reveals) the trajectory view of `source`, at `step` (default: the latest step). */
  static show(context: vscode.ExtensionContext, source: RunSource, step?: number): TrajectoryPanel {
    const existing = TrajectoryPanel.panels.get(source.runDir);
    if (existing) {
      existing.panel.reveal(undefined);
      if (step !== undefined) existing.showStep(step);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(TrajectoryPanel.viewType, `Trajectory · ${displayString(source.manifest.name)}`, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: localRoots(context.extensionUri, [source.runDir]),
    });
    const p = new TrajectoryPanel(context, panel, source, step);
    TrajectoryPanel.panels.set(source.runDir, p);
    return p;
  }

  private readonly ipc: WebviewIpc;
  private readonly disposables: vscode.Disposable[] = [];
  private knownSteps: number[] = [];
  /** The step the webview shows (it tells us through GetStepRequest) and whether it follows a live run. */
  private viewedStep: number | undefined;
  private follow = false;
  private disposed = false;
  /**
   * Steps read or being read, least recently used first: the ones opened lately, and the first part of the steps
   * beside the one on show (read ahead, so "next step" paints without waiting for the disk).
   */
  private readonly reads = new Map<number, StepRead>();
  /** The step on show: the webview pulls its parts after the first while the rest is still being read. */
  private opened: { step: number; read: StepRead } | undefined;

  private constructor(
    context: vscode.ExtensionContext,
    readonly panel: vscode.WebviewPanel,
    readonly source: RunSource,
    private requestedStep: number | undefined,
  ) {
    this.ipc = new WebviewIpc(panel.webview);
    panel.webview.html = webviewHtml(panel.webview, context.extensionUri, 'trajectory', `Trajectory · ${displayString(source.manifest.name)}`);

    this.ipc.onReady(({ want }) => void this.sendInit(want));
    // The step the view will open is read while the page starts.
    void source.steps().then((steps) => {
      const step = requestedStep ?? steps.at(-1);
      if (step !== undefined && !this.disposed) this.readOf(step, FIRST_PART);
    });
    this.ipc.onRequest(GetStepRequest, ({ step, fields }) => this.openStep(step, fields));
    this.ipc.onRequest(GetStepPartRequest, async ({ step, from }) => {
      const read = this.openRead(step);
      await read.has(from + PART);
      const to = Math.min(read.rollouts.length, from + PART);
      const last = read.complete && to >= read.rollouts.length;
      // With the last part, what is known only once the whole step is read: its total, ranges and problems.
      return { rollouts: packRollouts(step, read.rollouts.slice(from, to)), last, ...(last ? { ...this.whole(read), ranges: read.ranges(), issues: [...read.issues] } : {}) };
    });
    this.ipc.onRequest(GetDetailsRequest, ({ step, from, to, except }) => {
      return packDetails(this.openRead(step).rollouts.slice(from, to), except);
    });
    this.ipc.onRequest(GetImageRequest, ({ image }) => this.readImage(image));
    this.ipc.onCommand(SaveWhatIfConfigCommand, ({ runConfig }) => void this.saveRunConfig(runConfig).catch((e) => void vscode.window.showErrorMessage(String(e instanceof Error ? e.message : e))));
    this.ipc.onCommand(StartWhatIfRunCommand, ({ runConfig }) => void this.startRun(context, runConfig).catch((e) => void vscode.window.showErrorMessage(String(e instanceof Error ? e.message : e))));
    this.ipc.onCommand(SetFollowCommand, ({ follow, step }) => {
      this.follow = follow;
      this.viewedStep = step;
    });

    this.disposables.push(
      this.ipc,
      source.onRollouts(({ step, rollouts, sentAt }) => {
        this.reads.get(step)?.cancel();
        this.reads.delete(step);
        if (!this.knownSteps.includes(step)) {
          this.knownSteps = [...this.knownSteps, step].sort((a, b) => a - b);
          this.ipc.notify(StepsChangedNotification, { steps: this.knownSteps });
        }
        if (step === this.viewedStep || this.follow) this.ipc.notify(RolloutsAppendedNotification, { rollouts: packRollouts(step, rollouts), sentAt });
      }),
      source.onStatus((status) => this.ipc.notify(StatusChangedNotification, { runId: source.manifest.id, status })),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  /** Opens `step`: its first rollouts with the columns `fields` (all when absent), and what is known of the rest. */
  private async openStep(step: number, fields: TokenField[] | undefined): Promise<StepReply> {
    this.viewedStep = step;
    const t0 = performance.now();
    const read = this.readOf(step, Infinity);
    // A step still being written is read whole first (its new rollouts arrive as notifications, never twice).
    const live = this.isLiveStep(step);
    await read.has(live ? Infinity : FIRST_PART);
    if (live) this.reads.delete(step);
    const t1 = performance.now();
    // The first rollouts answer the request, with the columns the first screen shows (the webview asks for the
    // others after its first paint); it pulls the other rollouts in parts while they are still being read, so
    // opening a 1,000-rollout step waits neither for the disk nor for postMessage to carry all of it.
    const first = packRollouts(step, read.rollouts.slice(0, FIRST_PART), { only: fields });
    const t2 = performance.now();
    this.opened = { step, read };
    void read.done.then(() => this.readAhead(step));
    return {
      rollouts: first,
      ...this.whole(read),
      ranges: read.ranges(),
      issues: [...read.issues],
      timing: { readMs: t1 - t0, packMs: t2 - t1, sentAt: Date.now() },
    };
  }

  /** The read of `step` the webview is pulling from (the step on show, or one still kept); throws when gone. */
  private openRead(step: number): StepRead {
    const read = this.opened?.step === step ? this.opened.read : this.reads.get(step);
    if (!read) throw new Error(`Step ${step} is no longer open.`);
    return read;
  }

  /** The read of `step`, started if there is none (reading up to `wanted` rollouts for now). */
  private readOf(step: number, wanted: number): StepRead {
    let read = this.reads.get(step);
    if (read) this.reads.delete(step); // most recently used last
    else {
      read = new StepRead((onIssue) => this.source.streamStep(step, onIssue), wanted);
      // A step read ahead has its ranges ready too when it is opened.
      const r = read;
      if (wanted === FIRST_PART) void r.has(FIRST_PART).then(() => r.ranges());
    }
    read.want(wanted);
    this.reads.set(step, read);
    const keep = new Set([this.opened?.step, this.viewedStep, step]);
    for (const [s, r] of this.reads) {
      if (this.reads.size <= STEP_CACHE + 2) break;
      if (keep.has(s)) continue;
      r.cancel();
      this.reads.delete(s);
    }
    return read;
  }

  /**
   * Reads ahead the first part of the steps before and after `step`, while it is still the one on show — not while
   * the view follows a live run, which moves on by itself (and whose stream should not wait behind the reads).
   */
  private readAhead(step: number): void {
    if (this.disposed || this.follow || this.viewedStep !== step) return;
    const i = this.knownSteps.indexOf(step);
    if (i < 0) return;
    for (const s of [this.knownSteps[i + 1], this.knownSteps[i - 1]]) {
      if (s !== undefined && !this.reads.has(s) && !this.isLiveStep(s)) this.readOf(s, FIRST_PART);
    }
  }

  /** The step's total, once it is read whole. */
  private whole(read: StepRead): { total?: number } {
    return read.complete ? { total: read.rollouts.length } : {};
  }

  /** The last step of a run that is still going may still grow. */
  private isLiveStep(step: number): boolean {
    const st = this.source.status();
    return (st === 'running' || st === 'paused') && step >= (this.knownSteps[this.knownSteps.length - 1] ?? -1);
  }

  /** Shows `step` in the view. */
  showStep(step: number): void {
    this.requestedStep = step;
    this.ipc.notify(ShowStepNotification, { step });
  }

  /** Opens the what-if panel (at `step` when given). */
  openWhatIf(step?: number): void {
    if (step !== undefined) this.requestedStep = step;
    this.ipc.notify(OpenWhatIfNotification, { step });
  }

  /** Writes the what-if settings as a run config file where the user picks (the format Start Run from Config File… reads). */
  private async saveRunConfig(runConfig: WhatIfRunConfig): Promise<vscode.Uri | undefined> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const uri = await vscode.window.showSaveDialog({
      title: 'Save the what-if settings as a run config',
      filters: { 'Run config (JSON)': ['json'] },
      defaultUri: folder ? vscode.Uri.joinPath(folder, `${runConfig.name}.json`) : undefined,
    });
    if (!uri) return undefined;
    await fs.writeFile(uri.fsPath, runConfigText(this.withRunSource(runConfig)), 'utf8');
    void vscode.window.showInformationMessage(`Saved the what-if settings as ${uri.fsPath} (start it with Start Run from Config File…).`);
    return uri;
  }

  /** Starts a run with the what-if settings: a run config file in the extension's storage, through Start Run from Config File…. */
  private async startRun(context: vscode.ExtensionContext, runConfig: WhatIfRunConfig): Promise<void> {
    const dir = vscode.Uri.joinPath(context.globalStorageUri, 'what-if');
    await fs.mkdir(dir.fsPath, { recursive: true });
    const file = vscode.Uri.joinPath(dir, `${runConfig.name}-${Date.now()}.json`);
    await fs.writeFile(file.fsPath, runConfigText(this.withRunSource(runConfig)), 'utf8');
    await vscode.commands.executeCommand('prpoStudio.startRunFromConfig', file);
  }

  /** The settings, plus the model and data of a PyTorch run, so the new run trains where this one did. */
  private withRunSource(runConfig: WhatIfRunConfig): WhatIfRunConfig & ReturnType<typeof runSourceOf> {
    return { ...runConfig, ...runSourceOf(this.source.manifest) };
  }

  /**
   * Tells the view its run and steps, with the step it will open already answered: the one asked for, else the
   * one it had open (`want.step`), else the latest — the rule the view applies when there is no `first`.
   */
  private async sendInit(want: { step?: number; fields?: TokenField[] } = {}): Promise<void> {
    this.knownSteps = await this.source.steps();
    const run = { ...webviewRunInfo(this.source.manifest, this.source.status()), runDir: this.source.runDir };
    const wanted = this.requestedStep ?? want.step;
    const step = wanted !== undefined && this.knownSteps.includes(wanted) ? wanted : this.knownSteps.at(-1);
    // A step that cannot be read now is left to the view's own request, which shows why.
    const reply = step === undefined ? undefined : await this.openStep(step, want.fields).catch(() => undefined);
    if (this.disposed) return;
    const first = reply && step !== undefined ? { step, fields: want.fields, reply } : undefined;
    this.ipc.notify(TrajectoryInitNotification, { run, steps: this.knownSteps, step: this.requestedStep, first });
  }

  /** Reads a task image inside the run directory (never outside it, never a bomb) as a data: URL. */
  private readImage(image: string): Promise<{ dataUrl?: string; error?: string }> {
    return readRunImage(this.source.runDir, image);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const r of this.reads.values()) r.cancel();
    this.reads.clear();
    TrajectoryPanel.panels.delete(this.source.runDir);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
