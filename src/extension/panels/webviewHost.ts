/**
 * The host side of the typed webview protocol (src/core/protocol/webview.ts): holds notifications until the
 * webview says it is ready, dispatches commands and requests to typed handlers, and builds the page with a
 * strict Content-Security-Policy (scripts by nonce, styles/images/fonts from `webview.cspSource` only).
 */
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { escapeNotice } from '../../core/format';
import {
  IpcCommand,
  IpcMessage,
  IpcNotification,
  IpcRequest,
  IpcParams,
  IpcResponse,
  IpcScope,
  ReadyCommand,
  ShowMessageCommand,
  messageOf,
  methodOf,
  replyOf,
} from '../../core/protocol/webview';

export class WebviewIpc implements vscode.Disposable {
  private ready = false;
  private held: IpcMessage[] = [];
  private readonly handlers = new Map<string, (message: IpcMessage) => void>();
  private readonly subscription: vscode.Disposable;
  private readyListeners: Array<(ready: IpcParams<typeof ReadyCommand>) => void> = [];

  constructor(private readonly webview: vscode.Webview) {
    this.subscription = webview.onDidReceiveMessage((m: IpcMessage) => this.receive(m));
    this.onCommand(ReadyCommand, (ready) => {
      // Init first (a reloaded webview starts from nothing), then what was held while it loaded.
      this.ready = true;
      for (const l of this.readyListeners) l(ready);
      this.flush();
    });
    this.onCommand(ShowMessageCommand, ({ level, message }) => {
      const show = level === 'error' ? vscode.window.showErrorMessage : level === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
      // The webview's message may quote run text (a step's error): no links of its own in a notification.
      void show(escapeNotice(message));
    });
  }

  /** Called each time the webview (re)loads and says it is ready. */
  onReady(listener: (ready: IpcParams<typeof ReadyCommand>) => void): void {
    this.readyListeners.push(listener);
  }

  notify<T extends IpcNotification<unknown>>(notification: T, params: IpcParams<T>): void {
    const message = messageOf(notification, params);
    if (!this.ready) {
      this.held.push(message);
      return;
    }
    message.sentAt = Date.now();
    void this.webview.postMessage(message);
  }

  onCommand<T extends IpcCommand<unknown>>(command: T, handler: (params: IpcParams<T>) => void): void {
    this.handlers.set(methodOf(command), (m) => handler(m.params as IpcParams<T>));
  }

  onRequest<T extends IpcRequest<unknown, unknown>>(request: T, handler: (params: IpcParams<T>) => Promise<IpcResponse<T>> | IpcResponse<T>): void {
    this.handlers.set(methodOf(request), (m) => {
      Promise.resolve()
        .then(() => handler(m.params as IpcParams<T>))
        .then(
          (result) => this.webview.postMessage(replyOf(request, m, { result })),
          (err: unknown) => this.webview.postMessage(replyOf(request, m, { error: err instanceof Error ? err.message : String(err) })),
        );
    });
  }

  private receive(m: IpcMessage): void {
    if (!m || typeof m.method !== 'string') return;
    this.handlers.get(m.method)?.(m);
  }

  private flush(): void {
    for (const m of this.held.splice(0)) void this.webview.postMessage({ ...m, sentAt: Date.now() });
  }

  dispose(): void {
    this.subscription.dispose();
  }
}

export function nonce(): string {
  return randomBytes(18).toString('base64').replace(/[+/=]/g, '');
}

/** The webview page of a view: its own bundle, dist/webview-<view>.js (esbuild.mjs). */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, scope: IpcScope, title: string): string {
  const n = nonce();
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', `webview-${scope}.js`));
  const csp = [
    `default-src 'none'`,
    `script-src 'nonce-${n}'`,
    `style-src ${webview.cspSource}`,
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${esc(title)}</title>
</head>
<body data-view="${scope}">
<div id="app"></div>
<script nonce="${n}" src="${script}"></script>
</body>
</html>`;
}

/** Roots a panel may load from: the extension's dist and media, and the run directories. */
export function localRoots(extensionUri: vscode.Uri, runDirs: string[]): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media'), ...runDirs.map((d) => vscode.Uri.file(d))];
}
