/**
 * The charts' colours, font and line widths from the --vscode-* CSS variables, applied to a chart's text, axes,
 * grid, legend and lines; app.ts applies them again when VS Code switches the theme.
 */
import type { Chart } from 'chart.js';
import { gridColour } from './parts';
import type { Point, Series } from './series';

export interface ChartTheme {
  fg: string;
  grid: string;
  font: string;
  lineWidth: number;
}

/** The theme now (VS Code sets the body's classes and CSS variables). */
export function theme(): ChartTheme {
  const cs = getComputedStyle(document.body);
  const v = (name: string, fallback: string): string => cs.getPropertyValue(name).trim() || fallback;
  const highContrast = document.body.classList.contains('vscode-high-contrast') || document.body.classList.contains('vscode-high-contrast-light');
  return {
    fg: v('--vscode-foreground', '#cccccc'),
    grid: gridColour(
      v('--vscode-foreground', '#cccccc'),
      cs.getPropertyValue('--vscode-editorWidget-border').trim() || cs.getPropertyValue('--vscode-panel-border').trim() || undefined,
      highContrast,
    ),
    font: v('--vscode-font-family', 'sans-serif'),
    // The thin lines of the ordinary themes read faint on pure black or white (Okabe-Ito blue on black is 4:1).
    lineWidth: highContrast ? 2.5 : 1.75,
  };
}

/** Sets the chart's options and its datasets' line widths for the theme now (the caller updates the chart). */
export function applyTheme(chart: Chart<'line', Point[]>, series: readonly Series[]): void {
  const t = theme();
  const o = chart.options;
  o.color = t.fg;
  o.font = { family: t.font, size: 12 };
  for (const axis of ['x', 'y'] as const) {
    const s = o.scales![axis]!;
    s.ticks = { ...(s.ticks ?? {}), color: t.fg };
    s.grid = { ...(s.grid ?? {}), color: t.grid };
    s.border = { ...(s.border ?? {}), color: t.grid };
    if (s.title) s.title.color = t.fg;
  }
  o.plugins!.legend!.labels = { ...(o.plugins!.legend!.labels ?? {}), color: t.fg };
  // Wider lines in high-contrast themes; a band's ends stay without a line (the fill between them shows).
  chart.data.datasets.forEach((d, i) => {
    const kind = series[i]?.kind;
    d.borderWidth = kind === 'lo' || kind === 'hi' ? 0 : kind === 'mean' ? t.lineWidth + 0.25 : t.lineWidth;
  });
}
