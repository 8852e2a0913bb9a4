/**
 * The one state of the charts view, shared by its parts (toolbar and header, series, test hooks): the runs and
 * their rows, whether they are drawn run by run or grouped by preset, and the groups. The choice of grouping
 * outlives a reload of the panel (VS Code's webview state).
 */
import type { ChartRun, ChartsGrouping } from '../../src/core/protocol/webview';
import type { RunGroup } from '../../src/core/study/groups';

export interface ViewState {
  runs: ChartRun[];
  grouping: ChartsGrouping;
  /** The runs grouped by study arm or preset (src/core/study/groups.ts), made anew at each build. */
  groups: RunGroup[];
  /** Groups whose runs got rows since the last redraw (their means and bands are recomputed). */
  dirtyGroups: Set<string>;
}

/** What is saved across reloads of the panel. */
export interface SavedView {
  grouping?: ChartsGrouping;
}

export function restoreView(saved: SavedView | undefined): ViewState {
  return { runs: [], grouping: saved?.grouping ?? 'runs', groups: [], dirtyGroups: new Set() };
}

/** Whether groups are drawn: asked for, and there are several runs to group. */
export const grouped = (s: ViewState): boolean => s.grouping === 'groups' && s.runs.length > 1;

/** A group's runs. */
export function groupRunsOf(s: ViewState, g: RunGroup): ChartRun[] {
  return g.runIds.map((id) => s.runs.find((r) => r.id === id)!);
}
