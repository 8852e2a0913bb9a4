/**
 * The charts view's small pure parts (no DOM, no Chart.js; unit-tested in test/unit/webview): what a run's
 * chip says, the banner over unreadable metrics lines, and the grid colour for the theme.
 */
import type { ChartRun } from '../../src/core/protocol/webview';
import { presetLabel } from '../../src/core/presets';
import { issuesSummary } from '../../src/core/run/lines';
import { displayString } from '../../src/core/visibleText';

/**
 * " PRPO-R · completed · step 60", beside the run's name. The last step, as the explorer says it ("step 60/60"),
 * not the count of rows: metrics.jsonl may hold a step-0 row, which made "61 steps" of a 60-step run.
 */
export function runChipText(run: Pick<ChartRun, 'algorithm' | 'status' | 'rows'>): string {
  const last = run.rows.at(-1)?.step;
  return ` ${presetLabel(run.algorithm)} · ${run.status}${last === undefined ? ' · no steps yet' : ` · step ${last}`}`;
}

/** The banner naming unreadable metrics lines (file:line: reason), run by run; '' when every line was read. */
export function metricsIssuesText(runs: ReadonlyArray<Pick<ChartRun, 'name' | 'issues'>>): string {
  const bad = runs.filter((r) => r.issues?.length);
  return bad
    .map((r) => `${runs.length > 1 ? `${displayString(r.name)}: ` : ''}${displayString(issuesSummary(r.issues, 'metrics.jsonl'))}; the other rows are drawn.`)
    .join('\n');
}

/**
 * The grid and axis colour. High-contrast themes give the widget border a full-strength colour, which made the
 * grid outshine the data lines there: the grid is then the foreground at a quarter strength.
 */
export function gridColour(fg: string, border: string | undefined, highContrast: boolean): string {
  if (!highContrast && border) return border;
  return withAlpha(fg, highContrast ? 0.25 : 0.35) ?? 'rgba(128,128,128,0.35)';
}

/** `#rgb`, `#rrggbb` or `rgb(r, g, b)` with an alpha; undefined for other forms. */
export function withAlpha(colour: string, alpha: number): string | undefined {
  const c = colour.trim();
  let m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(c);
  if (m) return `rgba(${m.slice(1, 4).map((x) => parseInt(x + x, 16)).join(', ')}, ${alpha})`;
  m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})(?:[0-9a-f]{2})?$/i.exec(c);
  if (m) return `rgba(${m.slice(1, 4).map((x) => parseInt(x, 16)).join(', ')}, ${alpha})`;
  m = /^rgba?\(\s*(\d+)[\s,]+(\d+)[\s,]+(\d+)/i.exec(c);
  if (m) return `rgba(${m[1]}, ${m[2]}, ${m[3]}, ${alpha})`;
  return undefined;
}
