/**
 * The trajectory view of one run: a step's rollouts grouped by prompt, tokens coloured by a chosen signal, a
 * hover card per token, filters, and live follow. Opened by `TrajectoryPanel.show` (commands/index.ts).
 */
import * as vscode from 'vscode';
import { promises as fs } from 'node:fs';
import type { RunSource } from './runSource';
import {
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
  type WhatIfRunConfig,
} from '../../core/protocol/webview';
import { packRollouts } from '../../core/view/pack';
import { runSourceOf } from '../../core/view/whatIf';
import { stepRanges, type SignalId } from '../../core/view/signals';
import { webviewRunInfo } from '../../core/view/runInfo';
import type { RolloutRecord } from '../../core/run/schema';
import { readRunImage } from '../../core/run/images';
import { displayString } from '../../core/visibleText';
import { WebviewIpc, localRoots, webviewHtml } from './webviewHost';

const runConfigText = (c: WhatIfRunConfig & ReturnType<typeof runSourceOf>): string => JSON.stringify(c, null, 2) + '\n';

/** Steps kept read per panel. */
const STEP_CACHE = 3;
/** Rollouts in the reply to GetStepRequest, and per part the webview pulls after it. */
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
  /** Recently opened steps, as read (a step of 1,000 rollouts takes a while to read and validate). */
  private readonly cache = new Map<number, { rollouts: RolloutRecord[]; issues: string[]; ranges: Partial<Record<SignalId, number>> }>();
  /** The step being opened: the webview pulls its parts after the first. */
  private opened: { step: number; rollouts: RolloutRecord[] } | undefined;

  private constructor(
    context: vscode.ExtensionContext,
    readonly panel: vscode.WebviewPanel,
    readonly source: RunSource,
    private requestedStep: number | undefined,
  ) {
    this.ipc = new WebviewIpc(panel.webview);
    panel.webview.html = webviewHtml(panel.webview, context.extensionUri, 'trajectory', `Trajectory · ${displayString(source.manifest.name)}`);

    this.ipc.onReady(() => void this.sendInit());
    this.ipc.onRequest(GetStepRequest, async ({ step }) => {
      this.viewedStep = step;
      const t0 = performance.now();
      let read = this.cache.get(step);
      if (read) {
        this.cache.delete(step); // most recently used last
      } else {
        const issues: string[] = [];
        const rollouts = await source.readStep(step, (m) => issues.push(m));
        read = { rollouts, issues, ranges: stepRanges(rollouts) };
      }
      // A step that is still being written (the live one) is not cached: appends arrive separately.
      if (!this.isLiveStep(step)) {
        this.cache.set(step, read);
        while (this.cache.size > STEP_CACHE) this.cache.delete(this.cache.keys().next().value!);
      }
      const t1 = performance.now();
      // The first rollouts answer the request (they are what the first screen shows); the webview pulls the rest in
      // parts, so opening a 1,000-rollout step does not wait for all of it to cross postMessage.
      const { rollouts } = read;
      const first = packRollouts(step, rollouts.slice(0, FIRST_PART));
      const t2 = performance.now();
      this.opened = { step, rollouts };
      return { rollouts: first, total: rollouts.length, ranges: read.ranges, issues: read.issues, timing: { readMs: t1 - t0, packMs: t2 - t1, sentAt: Date.now() } };
    });
    this.ipc.onRequest(GetStepPartRequest, ({ step, from }) => {
      const rollouts = this.opened?.step === step ? this.opened.rollouts : this.cache.get(step)?.rollouts;
      if (!rollouts) throw new Error(`Step ${step} is no longer open.`);
      const to = Math.min(rollouts.length, from + PART);
      return { rollouts: packRollouts(step, rollouts.slice(from, to)), last: to >= rollouts.length };
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
        this.cache.delete(step);
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

  private async sendInit(): Promise<void> {
    this.knownSteps = await this.source.steps();
    const run = { ...webviewRunInfo(this.source.manifest, this.source.status()), runDir: this.source.runDir };
    if (this.disposed) return;
    this.ipc.notify(TrajectoryInitNotification, { run, steps: this.knownSteps, step: this.requestedStep });
  }

  /** Reads a task image inside the run directory (never outside it, never a bomb) as a data: URL. */
  private readImage(image: string): Promise<{ dataUrl?: string; error?: string }> {
    return readRunImage(this.source.runDir, image);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    TrajectoryPanel.panels.delete(this.source.runDir);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
