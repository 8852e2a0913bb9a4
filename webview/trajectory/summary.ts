/**
 * What the view says about the step on show, above the list: the colour legend of the current signal (its
 * scale and range) and the status line (counts, loading progress, the run).
 */
import { presetLabel } from '../../src/core/presets';
import { BINS, binValue, type SignalDef } from '../scales';
import { fmt, h } from '../elements';
import { displayString } from '../text';
import { ViewState, currentHi, legendNote } from './viewState';

const plural = (n: number, word: string): string => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

export function renderLegend(legend: HTMLElement, state: ViewState): void {
  renderScale(legend, state.def, currentHi(state), legendNote(state));
}

/** A signal's legend: its name, its scale's bins with their values up to `h0`, and what the range is fixed across. */
export function renderScale(legend: HTMLElement, def: SignalDef, h0: number, note: string): void {
  legend.replaceChildren();
  legend.append(h('span', 'legend-title', def.label));
  if (def.kind === 'none') return;
  const bar = h('span', 'legend-bar');
  const swatch = (cls: string, title: string): void => {
    const s = h('span', `legend-swatch ${cls}`);
    s.title = title;
    bar.append(s);
  };
  if (def.kind === 'binary') {
    legend.append(h('span', 'legend-end', `0 ${def.low}`));
    swatch('', '0');
    swatch('b1', '1');
    legend.append(bar, h('span', 'legend-end', `1 ${def.high}`));
  } else if (def.kind === 'sequential') {
    legend.append(h('span', 'legend-end', `${fmt(0)} ${def.low}`));
    for (let b = 0; b <= BINS; b++) swatch(b ? `s${b}` : '', `≈ ${fmt(binValue(def, h0, b))}`);
    legend.append(bar, h('span', 'legend-end', `${def.high} ≥ ${fmt(h0)}`));
  } else {
    const c = def.centre ?? 0;
    legend.append(h('span', 'legend-end', `${def.low} ≤ ${fmt(c - h0)}`));
    for (let b = -BINS; b <= BINS; b++) swatch(b < 0 ? `dn${-b}` : b > 0 ? `dp${b}` : '', `≈ ${fmt(binValue(def, h0, b))}`);
    legend.append(bar, h('span', 'legend-end', `${fmt(c + h0)} ≤ ${def.high}`));
  }
  legend.append(h('span', 'legend-note', note));
}

/** The status line of the step on show (left as it is while no step is). */
export function updateStatus(status: HTMLElement, state: ViewState, shown: number): void {
  const { data, expectedTotal, run } = state;
  if (!data) return;
  const groupsN = new Set(data.rollouts.map((r) => r.meta.group)).size;
  const loading = expectedTotal === undefined ? ` (loading… ${data.rollouts.length} so far)` : data.rollouts.length < expectedTotal ? ` (loading… ${data.rollouts.length} of ${expectedTotal})` : '';
  status.textContent = `Step ${data.step}${loading} · ${plural(data.rollouts.length, 'rollout')} in ${plural(groupsN, 'group')} · ${data.tokens.toLocaleString('en-US')} tokens · showing ${shown}${run ? ` · ${displayString(run.name)} (${presetLabel(run.algorithm)}, ${run.status})` : ''}`;
}
