/**
 * A read-only text rendering of a rollouts file (`prpo-rollout:` documents): each rollout's prompt and its
 * response as tokens separated by │, so the token boundaries show; each token's background shows its
 * advantage Ã (the webview's diverging pair, DIVERGING: orange positive, blue negative; one scale for the whole
 * step), perceptual tokens are underlined, and hovering a token shows its card.
 */
import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { DIVERGING } from '../../core/view/signals';
import type { AlgorithmName } from '../../core/run/schema';
import { markdown } from './rolloutHover';
import { formatIssue, parseJsonlText } from '../../core/run/lines';
import { validateRollout } from '../../core/run/validate';
import { tokenMarkdown } from './tokenCard';
import { renderRollouts, type Rendered } from './rolloutText';

export const ROLLOUT_SCHEME = 'prpo-rollout';

/** The `prpo-rollout:` URI that renders the rollouts file `file` (an absolute path). */
export function rolloutTokensUri(file: string): vscode.Uri {
  return vscode.Uri.from({ scheme: ROLLOUT_SCHEME, path: file.replace(/\.jsonl$/, '.tokens'), query: encodeURIComponent(file) });
}

const SHADES = 5;
/** The diverging pair shared with the webview (DIVERGING), alpha for magnitude. */
function shade(sign: 1 | -1, level: number): vscode.TextEditorDecorationType {
  const alpha = Math.round((0.12 + (0.5 * level) / SHADES) * 255).toString(16).padStart(2, '0');
  return vscode.window.createTextEditorDecorationType({
    backgroundColor: `${sign > 0 ? DIVERGING.positive : DIVERGING.negative}${alpha}`,
    borderRadius: '2px',
  });
}

export class RolloutDocumentProvider implements vscode.TextDocumentContentProvider, vscode.HoverProvider, vscode.Disposable {
  private readonly rendered = new Map<string, Rendered>();
  private readonly positive = Array.from({ length: SHADES }, (_, i) => shade(1, i + 1));
  private readonly negative = Array.from({ length: SHADES }, (_, i) => shade(-1, i + 1));
  private readonly perceptual = vscode.window.createTextEditorDecorationType({ textDecoration: 'underline' });
  private readonly changeEmitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changeEmitter.event;
  private readonly watcher: vscode.FileSystemWatcher;
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly algorithmOf: (file: vscode.Uri) => AlgorithmName | undefined) {
    // A rollouts file that grows (a live step) re-renders its open token documents.
    this.watcher = vscode.workspace.createFileSystemWatcher('**/rollouts/step-*.jsonl', true, false, true);
    this.subscriptions = [
      this.watcher,
      this.watcher.onDidChange((uri) => {
        for (const key of this.rendered.keys()) {
          const u = vscode.Uri.parse(key);
          if (decodeURIComponent(u.query) === uri.fsPath) this.changeEmitter.fire(u);
        }
      }),
      vscode.workspace.onDidCloseTextDocument((d) => d.uri.scheme === ROLLOUT_SCHEME && this.rendered.delete(d.uri.toString())),
      vscode.window.onDidChangeVisibleTextEditors((editors) => editors.forEach((e) => this.decorate(e))),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document.uri.scheme !== ROLLOUT_SCHEME) return;
        for (const editor of vscode.window.visibleTextEditors) if (editor.document === e.document) this.decorate(editor);
      }),
      ...this.positive,
      ...this.negative,
      this.perceptual,
    ];
  }

  /** Colours each token of a token view by its advantage and underlines the perceptual ones. */
  decorate(editor: vscode.TextEditor): void {
    const rendered = this.rendered.get(editor.document.uri.toString());
    if (!rendered) return;
    const pos: vscode.Range[][] = this.positive.map(() => []);
    const neg: vscode.Range[][] = this.negative.map(() => []);
    const perceptual: vscode.Range[] = [];
    for (const [line, spans] of rendered.spans) {
      for (const span of spans) {
        const r = rendered.records[span.rollout];
        const range = new vscode.Range(line, span.start, line, span.end);
        const x = r.tokenAdvantages[span.token];
        if (typeof x === 'number' && Number.isFinite(x) && x !== 0 && rendered.maxAbs > 0) {
          const level = Math.min(SHADES, Math.max(1, Math.ceil((Math.abs(x) / rendered.maxAbs) * SHADES)));
          (x > 0 ? pos : neg)[level - 1].push(range);
        }
        if (r.perceptual?.[span.token]) perceptual.push(range);
      }
    }
    this.positive.forEach((d, i) => editor.setDecorations(d, pos[i]));
    this.negative.forEach((d, i) => editor.setDecorations(d, neg[i]));
    editor.setDecorations(this.perceptual, perceptual);
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const file = decodeURIComponent(uri.query);
    const text = await readFile(file, 'utf8');
    const issues: string[] = [];
    const records = parseJsonlText(text, file, validateRollout, (i) => issues.push(formatIssue(i))).map((r) => r.record);
    const rendered = renderRollouts(file, records, issues);
    this.rendered.set(uri.toString(), rendered);
    return rendered.text;
  }

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const rendered = this.rendered.get(document.uri.toString());
    const span = rendered?.spans.get(position.line)?.find((s) => position.character >= s.start && position.character < s.end);
    if (!rendered || !span) return undefined;
    const record = rendered.records[span.rollout];
    const file = vscode.Uri.file(decodeURIComponent(document.uri.query));
    return new vscode.Hover(markdown(tokenMarkdown(record, span.token, this.algorithmOf(file))), new vscode.Range(position.line, span.start, position.line, span.end));
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.changeEmitter.dispose();
  }
}

