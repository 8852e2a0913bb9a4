/**
 * Hovers on rollout files (rollouts/step-*.jsonl) opened as text: the hovered position is mapped to its
 * line (one rollout) and, inside any per-token array, to the token index; the card lists every §7 field of
 * that token. Elsewhere on the line the card summarises the rollout.
 */
import * as vscode from 'vscode';
import { escapeMarkdown } from '../../core/format';
import { formatIssue, isTorn, parseRolloutLine, type LineResult } from '../../core/run/lines';
import type { AlgorithmName, RolloutRecord } from '../../core/run/schema';
import { locateJsonValue, tokenIndexOf } from './jsonLocator';
import { rolloutMarkdown, tokenMarkdown } from './tokenCard';

export const ROLLOUT_FILE_SELECTOR: vscode.DocumentSelector = [
  { scheme: 'file', pattern: '**/rollouts/step-*.jsonl' },
  { scheme: 'vscode-remote', pattern: '**/rollouts/step-*.jsonl' },
];

export class RolloutHoverProvider implements vscode.HoverProvider {
  private cache: { key: string; parsed: LineResult<RolloutRecord> | undefined } | undefined;

  constructor(private readonly algorithmOf: (file: vscode.Uri) => AlgorithmName | undefined) {}

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const line = document.lineAt(position.line);
    const key = `${document.uri.toString()}@${document.version}:${position.line}`;
    if (this.cache?.key !== key) {
      const last = position.line === document.lineCount - 1;
      // An empty line, or a torn last line (the trainer is appending it), is not a rollout yet: no hover.
      const blank = !line.text.trim() || (last && isTorn(line.text));
      this.cache = { key, parsed: blank ? undefined : parseRolloutLine(line.text, document.uri.fsPath, position.line + 1) };
    }
    const parsed = this.cache.parsed;
    if (!parsed) return undefined;
    // A line that is not a valid rollout says why (file:line: the field and what is wrong with it).
    if (parsed.issue) return new vscode.Hover(markdown(`**Not a rollout record:** ${escapeMarkdown(formatIssue(parsed.issue))}`), line.range);
    const record = parsed.record;
    const location = locateJsonValue(line.text, position.character);
    if (!location) return undefined;
    const t = tokenIndexOf(location.path);
    const range = new vscode.Range(position.line, location.start, position.line, location.end);
    if (t !== undefined && t < record.tokens.length) {
      return new vscode.Hover(markdown(tokenMarkdown(record, t, this.algorithmOf(document.uri))), range);
    }
    // Elsewhere on the line: a summary of the rollout (its key, not the whole line, as the range).
    const [top] = location.path;
    if (typeof top === 'string' && ['id', 'group', 'prompt', 'response', 'reward', 'advantage', 'answer', 'correct', 'alpha'].includes(top)) {
      // rollouts/step-N.jsonl → the run directory, against which `image` is relative.
      const image = record.image && /^[\w./-]+$/.test(record.image) && !record.image.includes('..')
        ? vscode.Uri.joinPath(document.uri, '..', '..', record.image).toString()
        : undefined;
      return new vscode.Hover(markdown(rolloutMarkdown(record, image)), range);
    }
    return undefined;
  }
}

export function markdown(text: string): vscode.MarkdownString {
  const md = new vscode.MarkdownString(text);
  md.supportHtml = false;
  md.isTrusted = false;
  return md;
}
