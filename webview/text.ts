/**
 * Untrusted text (tokens, prompts: model output) as display segments. The caller puts each segment in the DOM
 * with `textContent` (never HTML). Characters that could hide or reorder what is shown — bidi overrides and
 * isolates, control characters, zero-width and other invisible characters, Unicode tag characters, lone
 * surrogates — become visible escapes like ⟨U+202E⟩. A newline stays a line break, marked with ↵.
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

/** The same, as one string (for titles, option labels, summaries). Newlines become ↵. */
export function displayString(s: string): string {
  return displaySegments(s)
    .map((g) => (g.text === '\n' ? ' ' : g.text))
    .join('');
}

/** Appends `s` to `el` as text nodes (escapes in their own spans so they can be styled). Never parses HTML. */
export function appendDisplayText(el: HTMLElement, s: string): void {
  if (s.length > 0 && !SPECIAL.test(s)) {
    el.appendChild(document.createTextNode(s));
    return;
  }
  for (const g of displaySegments(s)) {
    if (g.kind === 'plain') el.appendChild(document.createTextNode(g.text));
    else {
      const span = document.createElement('span');
      span.className = g.kind === 'escape' ? 'esc' : 'mark';
      span.textContent = g.text;
      el.appendChild(span);
    }
  }
}
