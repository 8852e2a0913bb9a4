/**
 * Numbers and untrusted text as every view shows them (the editor's cards and token view, the explorer, the
 * webviews): one number format, one Markdown escaper. Pure: no Node, vscode or DOM imports.
 */
import { displayString } from './visibleText';

/**
 * A number for display: `digits` decimals, exponent form for very large or small magnitudes, a real minus
 * sign, ∞ for infinities and "—" where there is no value (missing, or NaN: JSON's null).
 */
export function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '—';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  const s = x !== 0 && (Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3) ? x.toExponential(2) : x.toFixed(digits);
  return s.replace(/^-/, '−');
}

/** fmt with a "+" on positive values (advantages read as pushes up or down). */
export function signed(x: number | null | undefined, digits = 3): string {
  const s = fmt(x, digits);
  return typeof x === 'number' && x > 0 ? `+${s}` : s;
}

/**
 * Text that is not ours (model output, run names, failure reasons, cluster messages) for inside a Markdown
 * string — hovers, tooltips, the status bar's command-trusted tooltip. Made visible first (bidi, controls and
 * invisible characters as ⟨U+…⟩, newlines as ↵), then every character Markdown, HTML, links, autolinks and
 * theme icons start with is backslash-escaped: `[x](command:…)`, `![i](…)`, `<b>`, `<https://…>`, bare
 * `https://…` and `www.…`, `&#…;` entities and `$(icon)` all show as typed and do nothing.
 */
export function escapeMarkdown(s: string): string {
  return displayString(s).replace(/[\\`*_{}[\]()#+\-.!|<>~$&:]/g, '\\$&');
}

/**
 * Text that is not ours for a plain label that still draws `$(icon)` syntax: a CodeLens title, a status bar
 * item, a quick pick's label. Made visible, with `$(` shown as typed (`\$(` is the renderer's escape).
 */
export function escapeLabel(s: string): string {
  return displayString(s).replace(/\$\(/g, '\\$(');
}

/**
 * Text that is not ours for a notification: VS Code turns `[label](command:… | https:… | file:…)` there into a
 * link that runs on click, and shows backslashes as typed, so the link syntax is broken with a space instead.
 */
export function escapeNotice(s: string): string {
  return displayString(s).replace(/\]\(/g, '] (');
}
