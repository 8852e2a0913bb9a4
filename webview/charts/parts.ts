/**
 * The charts view's small pure parts (no DOM, no Chart.js; unit-tested in test/unit/webview): what a run's or a
 * group's chip says, the hover over a group's mean, the banner over unreadable metrics lines, and the grid colour
 * for the theme.
 */
import type { ChartRun } from '../../src/core/protocol/webview';
import { presetLabel } from '../../src/core/presets';
import { issuesSummary } from '../../src/core/run/lines';
import { displayString } from '../../src/core/visibleText';
import { fmt } from '../../src/core/format';

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

/**
 * A group's chip in the "groups by preset" view: " 3 runs · step 200", the last step as a range when the runs
 * stopped at different steps; a group of one says it has no band.
 */
export function groupChipText(runs: ReadonlyArray<Pick<ChartRun, 'rows'>>): string {
  const lasts = runs.map((r) => r.rows.at(-1)?.step).filter((s): s is number => s !== undefined);
  const lo = Math.min(...lasts), hi = Math.max(...lasts);
  const steps = lasts.length === 0 ? 'no steps yet' : lo === hi ? `step ${hi}` : `steps ${lo}–${hi}`;
  return runs.length === 1 ? ` 1 run · no band · ${steps}` : ` ${runs.length} runs · ${steps}`;
}

/** The hover over a group's mean at one step: "dapo (n=3) · reward: 0.512 ± 0.083 (95 % CI, n=3 at step 40)". */
export function bandTooltip(label: string, p: { x: number; y: number; n: number; lo: number; hi: number }): string {
  const at = `n=${p.n} at step ${p.x}`;
  if (p.n < 2) return `${label}: ${fmt(p.y)} (${at}: no band)`;
  return `${label}: ${fmt(p.y)} ± ${fmt((p.hi - p.lo) / 2)} (95 % CI, ${at})`;
}
