// What "shown literally" means for someone else's text in the editor's Markdown (hovers, tooltips): shared by
// the untrusted-text tests. Not a test file itself.
import assert from 'node:assert/strict';
import { escapeMarkdown } from '../../../src/core/format';

/** The Markdown a payload may appear as: every metacharacter behind a backslash, nothing raw. */
export function assertInert(md: string, payload: string, where: string): void {
  const escaped = escapeMarkdown(payload);
  assert.ok(md.includes(escaped), `${where}: ${JSON.stringify(payload)} is not in its escaped form ${JSON.stringify(escaped)}:\n${md}`);
  // The escaped form itself leaves no metacharacter unescaped.
  assert.doesNotMatch(escaped, /(?<!\\)[[\]()<>$&:|*_`#!\n]/, `${where}: ${escaped}`);
  // And nothing of it is left raw: the Markdown with every escaped copy taken out holds no part of the payload's syntax.
  // (The status bar's own four command links are ours: they are taken out too.)
  const rest = md.split(escaped).join('').replace(/\[\$\([a-z-]+\) \w+\]\(command:prpoStudio\.\w+\?[^)\s]*\)/g, '');
  for (const raw of ['](', '<img', '<script', '<b>', '<a ', '<command', '$(alert)', 'https://', 'www.', '&lt;', '&#x', '**bold**']) {
    if (payload.includes(raw)) assert.ok(!hasUnescaped(rest, raw), `${where}: ${raw} is left raw`);
  }
}

/** Whether `text` holds `raw` without a backslash before it (`\\<img` is the escaped, inert form of `<img`). */
export function hasUnescaped(text: string, raw: string): boolean {
  for (let i = text.indexOf(raw); i >= 0; i = text.indexOf(raw, i + 1)) if (text[i - 1] !== '\\') return true;
  return false;
}

/** Characters that hide or reorder text, or reach the editor as controls: none may be left raw in what it shows. */
const RAW_INVISIBLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u00AD\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/u;

export function assertNoRawInvisible(text: string, where: string): void {
  const m = RAW_INVISIBLE.exec(text);
  assert.equal(m, null, `${where}: a raw U+${m?.[0].codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')} in ${JSON.stringify(text.slice(0, 300))}`);
}
