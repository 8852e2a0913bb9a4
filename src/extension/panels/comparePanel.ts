/**
 * Compare Prompt Across Steps: one prompt's rollouts at several steps of a run, or at one step of several runs,
 * side by side (core/view/compare.ts computes it; webview/compare/ draws it). Opened by
 * commands/compareAcrossSteps.ts. One panel per prompt and set of columns; opening the same comparison again
 * reveals it.
 */
import * as vscode from 'vscode';
import { CompareInitNotification } from '../../core/protocol/webview';
import type { CompareView } from '../../core/view/compare';
import { displayString } from '../../core/visibleText';
import { WebviewIpc, localRoots, webviewHtml } from './webviewHost';

export class ComparePanel implements vscode.Disposable {
  static readonly viewType = 'prpoStudio.compare';
  private static readonly panels = new Map<string, ComparePanel>();

  /** Shows `view` (a comparison keyed by `key`: its runs, steps and prompt); `issues` are lines that could not be read. */
  static show(context: vscode.ExtensionContext, key: string, view: CompareView, issues: string[], runDirs: string[]): ComparePanel {
    const existing = ComparePanel.panels.get(key);
    if (existing) {
      existing.update(view, issues);
      existing.panel.reveal(undefined);
      return existing;
    }
    const title = ComparePanel.title(view);
    const panel = vscode.window.createWebviewPanel(ComparePanel.viewType, title, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: localRoots(context.extensionUri, runDirs),
    });
    const p = new ComparePanel(context, panel, key, view, issues);
    ComparePanel.panels.set(key, p);
    return p;
  }

  private static title(view: CompareView): string {
    return `Compare · ${displayString(view.group)}`;
  }

  private readonly ipc: WebviewIpc;
  private readonly disposables: vscode.Disposable[] = [];
  private disposed = false;

  private constructor(
    context: vscode.ExtensionContext,
    readonly panel: vscode.WebviewPanel,
    private readonly key: string,
    private view: CompareView,
    private issues: string[],
  ) {
    this.ipc = new WebviewIpc(panel.webview);
    panel.webview.html = webviewHtml(panel.webview, context.extensionUri, 'compare', ComparePanel.title(view));
    // Sent on every (re)load of the page: the webview starts from nothing each time.
    this.ipc.onReady(() => this.ipc.notify(CompareInitNotification, { view: this.view, issues: this.issues }));
    this.disposables.push(this.ipc, panel.onDidDispose(() => this.dispose()));
  }

  private update(view: CompareView, issues: string[]): void {
    this.view = view;
    this.issues = issues;
    this.ipc.notify(CompareInitNotification, { view, issues });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    ComparePanel.panels.delete(this.key);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
