/**
 * Untrusted text (tokens, prompts: model output) in the DOM, always with `textContent` (never HTML). What
 * counts as hidden or reordering text, and how it is shown (⟨U+202E⟩, ↵), is core's (src/core/visibleText.ts),
 * shared with the editor's hovers, lenses, explorer and status bar.
 */

import { displaySegments, displayString, isPlain } from '../src/core/visibleText';

export { codepointEscape, displaySegments, displayString, isPlain, type Segment } from '../src/core/visibleText';

/** Appends `s` to `el` as text nodes (escapes in their own spans so they can be styled). Never parses HTML. */
export function appendDisplayText(el: HTMLElement, s: string): void {
  if (isPlain(s)) {
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

/** A prompt, collapsed: its first `preview` characters (one line) as the summary, the whole of it when opened. */
export function promptDetails(prompt: string, preview: number, className = 'prompt'): HTMLElement {
  const details = document.createElement('details');
  details.className = className;
  const summary = document.createElement('summary');
  summary.className = 'prompt-summary';
  const first = displayString(prompt);
  summary.textContent = `Prompt: ${first.length > preview ? `${first.slice(0, preview)}…` : first}`;
  const body = document.createElement('div');
  body.className = 'prompt-body';
  appendDisplayText(body, prompt);
  details.append(summary, body);
  return details;
}
