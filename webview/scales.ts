/**
 * Colour signals for tokens and their scales. Pure (no DOM): the classes it names are styled by `scaleCss()`.
 *  - sequential (dependency: RVD, S, G, U): 0 … hi → bins s0 … s8, viridis-like hues, further from the editor
 *    background as the value grows (dark themes: purple → yellow; light themes: the reverse, so "more" is
 *    always "more ink");
 *  - diverging (advantages, weights around 1): blue (below the centre) – background (at the centre) – orange
 *    (above), bins dn8 … d0 … dp8; colour-blind safe (blue/orange);
 *  - binary (VPPO mask, perceptual flag): b1 where the value is 1.
 * Ranges are fixed per step: computed once over every rollout loaded (and widened, never narrowed, as live
 * rollouts arrive), so a colour means the same value in every rollout in view.
 */
import { DIVERGING, signalValue, type SignalDef } from '../src/core/view/signals';

export { SIGNALS, signalDef, scaleHi } from '../src/core/view/signals';
export type { SignalId, SignalDef } from '../src/core/view/signals';

export const BINS = 8;

/** The CSS class of a value on a scale ('' for no colour). */
export function binClass(def: SignalDef, hi: number, raw: number): string {
  if (!Number.isFinite(raw)) return def.kind === 'none' ? '' : 'na';
  switch (def.kind) {
    case 'sequential': {
      const b = Math.min(BINS, Math.max(0, Math.round((signalValue(def, raw) / hi) * BINS)));
      return b === 0 ? '' : `s${b}`;
    }
    case 'diverging': {
      const b = Math.min(BINS, Math.max(-BINS, Math.round(((raw - (def.centre ?? 0)) / hi) * BINS)));
      return b === 0 ? '' : b > 0 ? `dp${b}` : `dn${-b}`;
    }
    case 'binary':
      return raw >= 0.5 ? 'b1' : '';
    default:
      return '';
  }
}

/** The value at the edge of bin `b` for legend ticks. */
export const binValue = (def: SignalDef, hi: number, b: number): number => {
  const v = (b / BINS) * hi;
  return def.kind === 'diverging' ? (def.centre ?? 0) + v : v;
};

/** Whether a value passes a "tokens above a threshold" filter: |v − centre| ≥ t for diverging, v ≥ t else. */
export function aboveThreshold(def: SignalDef, raw: number, t: number): boolean {
  if (!Number.isFinite(raw)) return false;
  if (def.kind === 'diverging') return Math.abs(raw - (def.centre ?? 0)) >= t;
  return signalValue(def, raw) >= t;
}

// Viridis at 8 stops (low → high) and the blue/orange ends of a PuOr-like diverging scale.
const VIRIDIS = ['#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#fde725'];

/**
 * Opacity (share of the scale colour mixed into the editor background) of bin 1 … 8. High-contrast themes get
 * the full range up to the pure colour: at the ordinary 12–70 % the lower half of viridis on pure black was one
 * near-black shade, and the legend's low end could not be told from the background.
 */
export const binShare = (b: number, theme: ThemeKind = 'dark'): number =>
  theme === 'hc-dark' || theme === 'hc-light' ? Math.round(28 + (b - 1) * (72 / (BINS - 1))) : Math.round(12 + (b - 1) * (58 / (BINS - 1)));

/** The stock high-contrast themes' editor background and foreground (their text colour is computed, below). */
const HC_COLOURS = { 'hc-dark': { bg: '#000000', fg: '#ffffff' }, 'hc-light': { bg: '#ffffff', fg: '#292929' } } as const;

const rgbOf = (hex: string): number[] => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
const channel = (c: number): number => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
const luminance = (c: number[]): number => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
/** WCAG's contrast ratio of two sRGB colours. */
export const contrastRatio = (a: number[], b: number[]): number => (Math.max(luminance(a), luminance(b)) + 0.05) / (Math.min(luminance(a), luminance(b)) + 0.05);

/** The colour of bin `bin` of scale `kind` as drawn on `bg` (what color-mix in srgb gives). */
export function binColour(kind: 'dp' | 'dn' | 's', bin: number, theme: ThemeKind, bg: string): number[] {
  const dark = theme === 'dark' || theme === 'hc-dark';
  const c = kind === 'dp' ? DIVERGING.positive : kind === 'dn' ? DIVERGING.negative : dark ? VIRIDIS[bin - 1] : VIRIDIS[BINS - bin];
  const share = binShare(bin, theme) / 100;
  const [fg, back] = [rgbOf(c), rgbOf(bg)];
  return fg.map((x, i) => share * x + (1 - share) * back[i]);
}

/**
 * The text colour of a token on bin `bin` of scale `kind` (dp/dn: diverging positive/negative, s: sequential)
 * where the theme's own foreground falls below 4.5:1 on it in the stock themes (Dark Modern's foreground on the
 * deepest orange was 3.45:1): black or white, whichever keeps ≥ 4.5:1 there. Undefined: the theme's foreground.
 */
export function binTextColour(kind: 'dp' | 'dn' | 's', bin: number, theme: ThemeKind): '#ffffff' | '#000000' | undefined {
  // High-contrast themes have fixed colours and the strongest bins reach the pure scale colour: the theme's
  // foreground where it keeps 4.5:1, else whichever of black and white contrasts more.
  if (theme === 'hc-dark' || theme === 'hc-light') {
    const { bg, fg } = HC_COLOURS[theme];
    const cell = binColour(kind, bin, theme, bg);
    if (contrastRatio(cell, rgbOf(fg)) >= 4.5) return undefined;
    return contrastRatio(cell, [0, 0, 0]) >= contrastRatio(cell, [255, 255, 255]) ? '#000000' : '#ffffff';
  }
  const dark = theme === 'dark';
  if (kind === 's') {
    // Viridis runs dark → light on dark themes (light → dark on light themes).
    if (dark) return bin >= 7 ? '#000000' : bin === 6 ? '#ffffff' : undefined;
    return bin === 8 ? '#ffffff' : bin >= 6 ? '#000000' : undefined;
  }
  return bin >= 6 ? (dark ? '#ffffff' : '#000000') : undefined;
}

export type ThemeKind = 'dark' | 'light' | 'hc-dark' | 'hc-light';

/** The stylesheet for the bin classes: every colour mixed with the theme's editor background. */
export function scaleCss(): string {
  const lines: string[] = [];
  const bg = 'var(--vscode-editor-background)';
  const dark = 'body.vscode-dark, body.vscode-high-contrast:not(.vscode-high-contrast-light)';
  const light = 'body.vscode-light, body.vscode-high-contrast-light';
  lines.push(`${dark} { ${VIRIDIS.map((c, i) => `--seq-${i + 1}: ${c};`).join(' ')} }`);
  lines.push(`${light} { ${[...VIRIDIS].reverse().map((c, i) => `--seq-${i + 1}: ${c};`).join(' ')} }`);
  lines.push(`:root { --div-neg: ${DIVERGING.negative}; --div-pos: ${DIVERGING.positive}; }`);
  for (let b = 1; b <= BINS; b++) {
    const share = binShare(b);
    lines.push(`.s${b} { background-color: color-mix(in srgb, var(--seq-${b}) ${share}%, ${bg}); }`);
    lines.push(`.dp${b} { background-color: color-mix(in srgb, var(--div-pos) ${share}%, ${bg}); }`);
    lines.push(`.dn${b} { background-color: color-mix(in srgb, var(--div-neg) ${share}%, ${bg}); }`);
    const hc = binShare(b, 'hc-dark');
    lines.push(`body.vscode-high-contrast .s${b} { background-color: color-mix(in srgb, var(--seq-${b}) ${hc}%, ${bg}); }`);
    lines.push(`body.vscode-high-contrast .dp${b} { background-color: color-mix(in srgb, var(--div-pos) ${hc}%, ${bg}); }`);
    lines.push(`body.vscode-high-contrast .dn${b} { background-color: color-mix(in srgb, var(--div-neg) ${hc}%, ${bg}); }`);
  }
  // The strongest bins are far from the background: their text takes black or white to keep 4.5:1.
  const themes: Array<[string, ThemeKind]> = [
    ['body.vscode-dark', 'dark'],
    ['body.vscode-light', 'light'],
    ['body.vscode-high-contrast:not(.vscode-high-contrast-light)', 'hc-dark'],
    ['body.vscode-high-contrast-light', 'hc-light'],
  ];
  for (const [theme, kind] of themes) {
    for (const colour of ['#ffffff', '#000000'] as const) {
      const classes = (['dp', 'dn', 's'] as const).flatMap((k) => Array.from({ length: BINS }, (_, i) => i + 1).filter((b) => binTextColour(k, b, kind) === colour).map((b) => `.${k}${b}`));
      if (classes.length) lines.push(`:is(${theme}) :is(${classes.join(', ')}) { color: ${colour}; }`);
    }
  }
  lines.push(`.b1 { background-color: color-mix(in srgb, var(--div-pos) 55%, ${bg}); }`);
  return lines.join('\n');
}
