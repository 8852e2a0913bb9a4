/**
 * Charts of one or several runs overlaid (reward/accuracy, validation accuracy, loss terms, entropy, dependency
 * sparsity and AUROC, step-time split), live while runs train, or grouped (a study: the mean per arm with its
 * 95 % CI band). Opened by `ChartsPanel.show` (commands/index.ts).
 */
import * as vscode from 'vscode';
import { displayString } from '../../core/visibleText';
import type { RunSource } from './runSource';
import type { MetricsRow } from '../../core/run/schema';
import { ChartRun, ChartsGrouping, ChartsInitNotification, MetricsAppendedNotification, StatusChangedNotification } from '../../core/protocol/webview';
import { WebviewIpc, localRoots, webviewHtml } from './webviewHost';

/** A study opened in the charts (study.json read by the openStudy command). */
export interface ChartsStudy {
  /** The study folder's name, for the tab. */
  name: string;
  /** Each run directory's arm and seed. */
  arms: ReadonlyMap<string, { arm: string; seed: number }>;
}

export class ChartsPanel implements vscode.Disposable {
  static readonly viewType = 'prpoStudio.charts';
  private static current: ChartsPanel | undefined;

  /**
   * Opens the charts view for `sources` (one run, or several overlaid); an open charts view is reused. With a
   * `study`, the runs carry their arms and the view opens grouped.
   */
  static show(context: vscode.ExtensionContext, sources: RunSource[], study?: ChartsStudy): ChartsPanel {
    const title = ChartsPanel.titleFor(sources, study);
    const roots = localRoots(context.extensionUri, sources.map((s) => s.runDir));
    const current = ChartsPanel.current;
    if (current) {
      current.panel.title = title;
      current.panel.webview.options = { enableScripts: true, localResourceRoots: roots };
      current.setSources(sources, study);
      current.panel.reveal(undefined);
      return current;
    }
    const panel = vscode.window.createWebviewPanel(ChartsPanel.viewType, title, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: roots,
    });
    ChartsPanel.current = new ChartsPanel(context, panel, sources, study);
    return ChartsPanel.current;
  }

  private static titleFor(sources: RunSource[], study?: ChartsStudy): string {
    if (study) return `Study · ${displayString(study.name)} (${sources.length} runs)`;
    return sources.length === 1 ? `Charts · ${displayString(sources[0].manifest.name)}` : `Charts · ${sources.length} runs`;
  }

  private readonly ipc: WebviewIpc;
  private readonly disposables: vscode.Disposable[] = [];
  private sourceSubscriptions: vscode.Disposable[] = [];
  private sources: RunSource[] = [];
  private study: ChartsStudy | undefined;
  private disposed = false;
  /** Bumped on every setSources, so a slow read for old sources does not overwrite the new ones. */
  private generation = 0;

  private constructor(context: vscode.ExtensionContext, readonly panel: vscode.WebviewPanel, sources: RunSource[], study: ChartsStudy | undefined) {
    this.ipc = new WebviewIpc(panel.webview);
    panel.webview.html = webviewHtml(panel.webview, context.extensionUri, 'charts', ChartsPanel.titleFor(sources, study));
    this.ipc.onReady(() => void this.sendInit());
    this.disposables.push(this.ipc, panel.onDidDispose(() => this.dispose()));
    this.setSources(sources, study, false);
  }

  private setSources(sources: RunSource[], study: ChartsStudy | undefined, resend = true): void {
    for (const d of this.sourceSubscriptions.splice(0)) d.dispose();
    this.sources = sources;
    this.study = study;
    this.generation++;
    for (const s of sources) {
      // Rows are batched per animation-frame-ish tick: a fast run writes many rows a second.
      let pending: MetricsRow[] = [];
      let timer: NodeJS.Timeout | undefined;
      this.sourceSubscriptions.push(
        s.onMetrics((row) => {
          pending.push(row);
          timer ??= setTimeout(() => {
            timer = undefined;
            const rows = pending;
            pending = [];
            this.ipc.notify(MetricsAppendedNotification, { runId: s.manifest.id, rows });
          }, 16);
        }),
        s.onStatus((status) => this.ipc.notify(StatusChangedNotification, { runId: s.manifest.id, status })),
        { dispose: () => timer && clearTimeout(timer) },
      );
    }
    if (resend) void this.sendInit();
  }

  private async sendInit(): Promise<void> {
    const generation = this.generation;
    const study = this.study;
    const runs: ChartRun[] = await Promise.all(
      this.sources.map(async (s) => {
        const issues: string[] = [];
        const rows = await s.readMetrics((message) => issues.push(message));
        return { id: s.manifest.id, name: s.manifest.name, algorithm: s.manifest.algorithm, status: s.status(), rows, issues, ...study?.arms.get(s.runDir) };
      }),
    );
    if (this.disposed || generation !== this.generation) return;
    // A study opens grouped; other runs as the user last chose in the view.
    const grouping: ChartsGrouping | undefined = study ? 'groups' : undefined;
    this.ipc.notify(ChartsInitNotification, { runs, ...(grouping ? { grouping } : {}) });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (ChartsPanel.current === this) ChartsPanel.current = undefined;
    for (const d of [...this.sourceSubscriptions.splice(0), ...this.disposables.splice(0)]) d.dispose();
    this.panel.dispose();
  }
}
