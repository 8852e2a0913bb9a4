/**
 * Numbers and untrusted text as every view shows them (the editor's cards and token view, the explorer, the
 * webviews): one number format, one Markdown escaper. Pure: no Node, vscode or DOM imports.
 */

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

/** Markdown-escapes text that is not ours (model output, run names, failure reasons). */
export function escapeMarkdown(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, '\\$&');
}
