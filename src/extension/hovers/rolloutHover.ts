/**
 * Hovers on rollout files (rollouts/step-*.jsonl) opened as text: the hovered position is mapped to its
 * line (one rollout) and, inside any per-token array, to the token index; the card lists every §7 field of
 * that token. Elsewhere on the line the card summarises the rollout.
 */
import * as vscode from 'vscode';
import type { AlgorithmName, RolloutRecord } from '../../core/run/schema';
import { locateJsonValue, tokenIndexOf } from './jsonLocator';
import { rolloutMarkdown, tokenMarkdown } from './tokenCard';

export const ROLLOUT_FILE_SELECTOR: vscode.DocumentSelector = [
  { scheme: 'file', pattern: '**/rollouts/step-*.jsonl' },
  { scheme: 'vscode-remote', pattern: '**/rollouts/step-*.jsonl' },
];

/** Parses a rollout line (the writer stores NaN as null); undefined for a line that is not a rollout. */
export function parseRolloutLine(text: string): RolloutRecord | undefined {
  if (!text.trim()) return undefined;
  try {
    const v = JSON.parse(text) as RolloutRecord;
    return v && typeof v === 'object' && Array.isArray(v.tokens) && v.logp && Array.isArray(v.tokenAdvantages) ? v : undefined;
  } catch {
    return undefined;
  }
}

export class RolloutHoverProvider implements vscode.HoverProvider {
  private cache: { key: string; record: RolloutRecord | undefined } | undefined;

  constructor(private readonly algorithmOf: (file: vscode.Uri) => AlgorithmName | undefined) {}

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const line = document.lineAt(position.line);
    const key = `${document.uri.toString()}@${document.version}:${position.line}`;
    if (this.cache?.key !== key) this.cache = { key, record: parseRolloutLine(line.text) };
    const record = this.cache.record;
    if (!record) return undefined;
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
