/**
 * Untrusted text (tokens, prompts, run names: model output or files anyone may have written) made visible.
 * Characters that could hide or reorder what is shown — bidi overrides and isolates, C0/C1 controls,
 * zero-width and other invisible characters, Unicode tag characters, lone surrogates — become escapes like
 * ⟨U+202E⟩. Every view uses this one function family: the webviews (as DOM text), the editor's hovers, the
 * *as Tokens* document, the lenses, the explorer's labels and tooltips, the status bar. Pure: no imports.
 */

export type Segment = { text: string; kind: 'plain' | 'escape' | 'mark' };

// Bidi controls, C0/C1 controls (but tab and newline), zero-width/invisible formatting, separators, tag chars,
// variation selectors, BOM, interlinear annotations, lone surrogates.
const SPECIAL =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\ufff9-\ufffb\n]|\udb40[\udc00-\udc7f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const SPECIAL_G = new RegExp(SPECIAL.source, 'g');

export const codepointEscape = (cp: number): string => `⟨U+${cp.toString(16).toUpperCase().padStart(4, '0')}⟩`;

/** True when `s` shows as is (the fast path for the common token). */
export const isPlain = (s: string): boolean => s.length > 0 && !SPECIAL.test(s);

/** `s` as display segments; a newline stays a line break, marked with ↵. The empty string shows as ∅. */
export function displaySegments(s: string): Segment[] {
  if (s.length === 0) return [{ text: '∅', kind: 'mark' }];
  if (!SPECIAL.test(s)) return [{ text: s, kind: 'plain' }];
  const out: Segment[] = [];
  let last = 0;
  SPECIAL_G.lastIndex = 0;
  for (let m = SPECIAL_G.exec(s); m; m = SPECIAL_G.exec(s)) {
    if (m.index > last) out.push({ text: s.slice(last, m.index), kind: 'plain' });
    if (m[0] === '\n') {
      out.push({ text: '↵', kind: 'mark' }, { text: '\n', kind: 'plain' });
    } else {
      out.push({ text: codepointEscape(m[0].codePointAt(0)!), kind: 'escape' });
    }
    last = m.index + m[0].length;
  }
  if (last < s.length) out.push({ text: s.slice(last), kind: 'plain' });
  return out;
}

/** The same, as one line (titles, labels, tooltips, hovers): a newline becomes "↵ ". */
export function displayString(s: string): string {
  return displaySegments(s)
    .map((g) => (g.text === '\n' ? ' ' : g.text))
    .join('');
}
