/**
 * One line of a run's JSONL files, read the one way every reader shares: the streaming reader (reader.ts), the
 * editor's hovers, lens and token view, and the `advantages --rollouts` CLI. The rules (DESIGN.md, "The run
 * directory"):
 * - a torn LAST line (no trailing newline and not parsable) is skipped silently: the run is being written;
 * - any other bad line (not JSON, or failing validation) is an issue `file:line: reason`, and is skipped;
 * - empty lines are skipped; a CR before the newline and a UTF-8 byte-order mark on line 1 are accepted.
 *
 * Pure: no Node, vscode or DOM imports.
 */
import type { LineIssue, RolloutRecord } from './schema';
import { RunFormatError, validateRollout } from './validate';

export type { LineIssue } from './schema';

export function formatIssue(i: LineIssue): string {
  return `${i.file}:${i.line}: ${i.reason}`;
}

/**
 * The one-line banner every view shows over what it could read: "2 problems reading metrics.jsonl: file:line:
 * reason · file:line: reason", the first three named.
 */
export function issuesSummary(issues: readonly string[], what: string): string {
  if (!issues.length) return '';
  const more = issues.length > 3 ? ` · and ${issues.length - 3} more` : '';
  return `${issues.length} problem${issues.length === 1 ? '' : 's'} reading ${what}: ${issues.slice(0, 3).join(' · ')}${more}`;
}

/** Makes a LineIssue whose toString() is `file:line: reason` (toString is not enumerable: JSON stays clean). */
export function lineIssue(file: string, line: number, reason: string): LineIssue {
  const issue = { file, line, reason };
  Object.defineProperty(issue, 'toString', { value: () => formatIssue(issue), enumerable: false });
  return issue;
}

/** A line without its CR (CRLF files) and, on line 1, without a UTF-8 byte-order mark (Windows editors). */
export function cleanLine(s: string, line: number): string {
  if (line === 1 && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}

/** A torn line: the writer is mid-append (or died mid-append), so it is not JSON yet. */
export function isTorn(text: string): boolean {
  try {
    JSON.parse(text);
    return false;
  } catch {
    return true;
  }
}

export type LineResult<T> = { record: T; issue?: undefined } | { record?: undefined; issue: LineIssue };

/** Parses and validates line `line` (1-based) of `file`: the record, or the issue that names file:line and the field. */
export function parseLine<T>(text: string, file: string, line: number, validate: (v: unknown, where: string) => T): LineResult<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { issue: lineIssue(file, line, `not valid JSON (${(e as Error).message})`) };
  }
  try {
    return { record: validate(value, `${file}:${line}`) };
  } catch (e) {
    return { issue: lineIssue(file, line, e instanceof RunFormatError ? e.reason : (e as Error).message) };
  }
}

/** One line of a rollouts file: a validated RolloutRecord (null per-token numbers read as NaN), or why not. */
export function parseRolloutLine(text: string, file: string, line: number): LineResult<RolloutRecord> {
  return parseLine(text, file, line, validateRollout);
}

/**
 * The records of a JSONL text held whole (an open document, a small file), with their 1-based line numbers,
 * under the same rules as the streaming reader: bad lines go to `onIssue`, a torn last line is skipped.
 */
export function parseJsonlText<T>(text: string, file: string, validate: (v: unknown, where: string) => T, onIssue: (i: LineIssue) => void = () => {}): Array<{ record: T; line: number }> {
  const out: Array<{ record: T; line: number }> = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const l = cleanLine(raw, i + 1);
    if (l.trim() === '') return;
    const last = i === lines.length - 1; // no newline after it
    if (last && isTorn(l)) return;
    const r = parseLine(l, file, i + 1, validate);
    if (r.issue) onIssue(r.issue);
    else out.push({ record: r.record, line: i + 1 });
  });
  return out;
}
