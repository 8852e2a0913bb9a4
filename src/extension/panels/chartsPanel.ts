/**
 * Charts of one or several runs overlaid (reward/accuracy, validation accuracy, loss terms, entropy, dependency
 * sparsity and AUROC, step-time split), live while runs train. Opened by `ChartsPanel.show` (commands/index.ts).
 */
import * as vscode from 'vscode';
import { displayString } from '../../core/visibleText';
import type { RunSource } from './runSource';
import type { MetricsRow } from '../../core/run/schema';
import { ChartRun, ChartsInitNotification, MetricsAppendedNotification, StatusChangedNotification } from '../../core/protocol/webview';
import { WebviewIpc, localRoots, webviewHtml } from './webviewHost';

export class ChartsPanel implements vscode.Disposable {
  static readonly viewType = 'prpoStudio.charts';
  private static current: ChartsPanel | undefined;

  /** Opens the charts view for `sources` (one run, or several overlaid); an open charts view is reused. */
  static show(context: vscode.ExtensionContext, sources: RunSource[]): ChartsPanel {
    const title = ChartsPanel.titleFor(sources);
    const roots = localRoots(context.extensionUri, sources.map((s) => s.runDir));
    const current = ChartsPanel.current;
    if (current) {
      current.panel.title = title;
      current.panel.webview.options = { enableScripts: true, localResourceRoots: roots };
      current.setSources(sources);
      current.panel.reveal(undefined);
      return current;
    }
    const panel = vscode.window.createWebviewPanel(ChartsPanel.viewType, title, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: roots,
    });
    ChartsPanel.current = new ChartsPanel(context, panel, sources);
    return ChartsPanel.current;
  }

  private static titleFor(sources: RunSource[]): string {
    return sources.length === 1 ? `Charts · ${displayString(sources[0].manifest.name)}` : `Charts · ${sources.length} runs`;
  }

  private readonly ipc: WebviewIpc;
  private readonly disposables: vscode.Disposable[] = [];
  private sourceSubscriptions: vscode.Disposable[] = [];
  private sources: RunSource[] = [];
  private disposed = false;
  /** Bumped on every setSources, so a slow read for old sources does not overwrite the new ones. */
  private generation = 0;

  private constructor(context: vscode.ExtensionContext, readonly panel: vscode.WebviewPanel, sources: RunSource[]) {
    this.ipc = new WebviewIpc(panel.webview);
    panel.webview.html = webviewHtml(panel.webview, context.extensionUri, 'charts', ChartsPanel.titleFor(sources));
    this.ipc.onReady(() => void this.sendInit());
    this.disposables.push(this.ipc, panel.onDidDispose(() => this.dispose()));
    this.setSources(sources, false);
  }

  private setSources(sources: RunSource[], resend = true): void {
    for (const d of this.sourceSubscriptions.splice(0)) d.dispose();
    this.sources = sources;
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
    const runs: ChartRun[] = await Promise.all(
      this.sources.map(async (s) => {
        const issues: string[] = [];
        const rows = await s.readMetrics((message) => issues.push(message));
        return { id: s.manifest.id, name: s.manifest.name, algorithm: s.manifest.algorithm, status: s.status(), rows, issues };
      }),
    );
    if (this.disposed || generation !== this.generation) return;
    this.ipc.notify(ChartsInitNotification, { runs });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (ChartsPanel.current === this) ChartsPanel.current = undefined;
    for (const d of [...this.sourceSubscriptions.splice(0), ...this.disposables.splice(0)]) d.dispose();
    this.panel.dispose();
  }
}
