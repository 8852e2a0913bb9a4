/**
 * Above the charts: the toolbar that shows runs or groups by preset (when there are several runs), and the header
 * of chips, one per run (its colour, name, preset, status and last step) or one per group (its colour, name, runs
 * and steps).
 */
import type { ChartRun, ChartsGrouping } from '../../src/core/protocol/webview';
import { h } from '../elements';
import { displayString } from '../text';
import { paletteColour } from './defs';
import { groupChipText, runChipText } from './parts';
import { ViewState, groupRunsOf, grouped } from './viewState';

const CHOICES: Array<[ChartsGrouping, string, string]> = [
  ['runs', 'Runs', 'Each run its own curve'],
  ['groups', 'Groups by preset', 'Runs grouped by study arm (or preset): the mean at each step with its 95 % t-interval band'],
];

/** The Runs / Groups by preset buttons, hidden for a lone run; `choose` is called with a new choice. */
export function renderToolbar(toolbar: HTMLElement, state: ViewState, choose: (grouping: ChartsGrouping) => void): void {
  toolbar.hidden = state.runs.length < 2;
  toolbar.replaceChildren();
  if (toolbar.hidden) return;
  toolbar.append(h('span', 'dim', 'Show'));
  for (const [value, label, title] of CHOICES) {
    const b = document.createElement('vscode-button') as HTMLElement & { secondary: boolean };
    b.textContent = label;
    b.title = title;
    b.dataset.grouping = value;
    b.secondary = state.grouping !== value;
    b.setAttribute('aria-pressed', String(state.grouping === value));
    b.addEventListener('click', () => {
      if (state.grouping !== value) choose(value);
    });
    toolbar.append(b);
  }
}

/** The chips of the groups, or of the runs (a lone run's without a colour: its metrics have one each). */
export function renderHeader(header: HTMLElement, state: ViewState): void {
  header.replaceChildren();
  if (grouped(state)) {
    for (const [i, g] of state.groups.entries()) {
      const chip = h('span', 'run-chip');
      const sw = h('span', 'run-swatch');
      sw.style.backgroundColor = paletteColour(i);
      chip.append(sw, h('span', 'run-name', displayString(g.name)), h('span', 'dim', groupChipText(groupRunsOf(state, g))));
      chip.dataset.group = g.name;
      header.append(chip);
    }
    return;
  }
  const { runs } = state;
  for (const [i, r] of runs.entries()) {
    const chip = h('span', 'run-chip');
    const sw = h('span', 'run-swatch');
    sw.style.backgroundColor = runs.length > 1 ? paletteColour(i) : 'transparent';
    chip.append(sw, h('span', 'run-name', displayString(r.name)), h('span', 'dim', runChipText(r)));
    chip.dataset.run = r.id;
    header.append(chip);
  }
}

/** Says a run's status and last step again on its chip (when the runs are shown one by one). */
export function refreshRunChip(header: HTMLElement, run: ChartRun): void {
  const chip = header.querySelector(`[data-run="${CSS.escape(run.id)}"] .dim`);
  if (chip) chip.textContent = runChipText(run);
}
