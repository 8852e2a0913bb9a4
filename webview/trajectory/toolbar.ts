/**
 * The toolbar: the step picker and live follow, the colour signal, and the filters. The controls show the view
 * state and report changes through `ToolbarActions`; the filters as one `FilterState` change.
 */
import { SIGNALS, SignalDef, SignalId } from '../scales';
import type { TokenField } from '../../src/core/view/pack';
import { SelectLike, h, select, setOptions, appendOptions } from '../elements';
import { FilterState } from './model';
import { ViewState, chooseSignal } from './viewState';

export interface ToolbarActions {
  loadStep(step: number): void;
  setFollow(on: boolean): void;
  setSignal(id: SignalId): void;
  updateFilter(change: Partial<FilterState>): void;
}

/** The signal offered when the chosen one is absent from a step, in order of preference. */
const SIGNAL_FALLBACKS: SignalId[] = ['rvd', 'S', 'G', 'tokenAdvantage', 'advantage'];

/**
 * The signals rollouts with the fields `present` can be coloured by, and `chosen` if it is one of them, else the
 * first fallback among them (the compare view offers the same).
 */
export function offeredSignals(present: ReadonlySet<TokenField>, chosen: SignalId): { signals: SignalDef[]; signal: SignalId } {
  const signals = SIGNALS.filter((s) => s.id === 'none' || s.id === 'advantage' || (s.field && present.has(s.field)));
  const has = (id: SignalId): boolean => signals.some((s) => s.id === id);
  return { signals, signal: has(chosen) ? chosen : SIGNAL_FALLBACKS.find(has) ?? 'none' };
}

/** A control with its label (the what-if panel's controls use it too). */
export const field = (label: string, control: HTMLElement, title?: string): HTMLElement => {
  const w = h('label', 'field');
  w.append(h('span', 'field-label', label), control);
  if (title) w.title = title;
  return w;
};

/** A number box: NaN when empty; input that is not a number is ignored until it is. */
const numberField = (placeholder: string, value: number, onValue: (v: number) => void): HTMLElement => {
  const tf = h('vscode-textfield', 'num') as HTMLElement & { value: string };
  tf.setAttribute('placeholder', placeholder);
  if (Number.isFinite(value)) tf.setAttribute('value', String(value));
  tf.addEventListener('input', () => {
    const t = tf.value.trim();
    const v = t === '' ? NaN : Number(t);
    if (t === '' || Number.isFinite(v)) onValue(v);
  });
  return tf;
};

export class Toolbar {
  readonly el = h('div', 'toolbar');
  private readonly stepSelect: SelectLike;
  private readonly signalSelect: SelectLike;
  private readonly followBox = h('vscode-checkbox', 'follow') as HTMLElement & { checked: boolean };
  /**
   * The steps the picker offers now. They are rebuilt only when the steps change (a long run has thousands:
   * rebuilding them on every step change would cost), and a live run's new steps are appended.
   */
  private stepOptions: number[] = [];

  constructor(
    private readonly state: ViewState,
    private readonly actions: ToolbarActions,
  ) {
    const { filter } = state;
    const prev = h('vscode-button', 'step-prev', '‹');
    prev.setAttribute('secondary', '');
    prev.title = 'Previous step';
    const next = h('vscode-button', 'step-next', '›');
    next.setAttribute('secondary', '');
    next.title = 'Next step';
    const stepSelect = (this.stepSelect = select([], '', (v) => actions.loadStep(Number(v))));
    stepSelect.classList.add('step-select');
    stepSelect.setAttribute('combobox', '');
    prev.addEventListener('click', () => this.moveStep(-1));
    next.addEventListener('click', () => this.moveStep(1));
    const followBox = this.followBox;
    followBox.setAttribute('label', 'Follow live');
    followBox.title = 'While the run trains, show new rollouts as they are produced and move to new steps';
    followBox.addEventListener('change', () => actions.setFollow(followBox.checked));

    const signalSelect = (this.signalSelect = select([], state.signal, (v) => actions.setSignal(v as SignalId)));
    signalSelect.classList.add('signal-select');
    const update = actions.updateFilter;
    /** A select bound to one field of the filter. */
    const filterSelect = <K extends 'correctness' | 'advantageSign' | 'sort'>(key: K, className: string, options: Array<[FilterState[K], string]>): SelectLike => {
      const sel = select(
        options.map(([value, label]) => ({ value, label })),
        filter[key],
        (v) => update({ [key]: v } as Partial<FilterState>),
      );
      sel.classList.add(className);
      return sel;
    };
    const correctSelect = filterSelect('correctness', 'correct-select', [
      ['all', 'All'],
      ['correct', 'Correct'],
      ['incorrect', 'Incorrect'],
    ]);
    const signSelect = filterSelect('advantageSign', 'sign-select', [
      ['all', 'Any'],
      ['positive', 'A > 0'],
      ['negative', 'A < 0'],
      ['zero', 'A = 0'],
    ]);
    const sortSelect = filterSelect('sort', 'sort-select', [
      ['natural', 'As produced'],
      ['reward-desc', 'Reward ↓'],
      ['reward-asc', 'Reward ↑'],
      ['advantage-desc', 'Advantage ↓'],
      ['advantage-asc', 'Advantage ↑'],
      ['signal-desc', 'Peak signal ↓'],
      ['length-desc', 'Length ↓'],
    ]);
    const minReward = numberField('any', filter.minReward, (v) => update({ minReward: v }));
    minReward.classList.add('min-reward');
    const threshold = numberField('off', filter.threshold, (v) => update({ threshold: v }));
    threshold.classList.add('threshold');
    const search = h('vscode-textfield', 'search') as HTMLElement & { value: string };
    search.setAttribute('placeholder', 'Search text');
    if (filter.text) search.setAttribute('value', filter.text);
    let searchTimer: number | undefined;
    search.addEventListener('input', () => {
      clearTimeout(searchTimer);
      searchTimer = window.setTimeout(() => update({ text: search.value }), 150);
    });
    const groupedBox = h('vscode-checkbox', 'grouped') as HTMLElement & { checked: boolean };
    groupedBox.setAttribute('label', 'Group by prompt');
    if (filter.grouped) groupedBox.setAttribute('checked', '');
    groupedBox.addEventListener('change', () => update({ grouped: groupedBox.checked }));

    const row1 = h('div', 'toolbar-row');
    const row2 = h('div', 'toolbar-row');
    this.el.append(row1, row2);
    const stepBox = h('div', 'step-picker');
    stepBox.append(prev, stepSelect, next);
    row1.append(field('Step', stepBox), followBox, field('Colour by', signalSelect));
    row2.append(
      field('Correct', correctSelect),
      field('Advantage', signSelect),
      field('Reward ≥', minReward),
      field('Signal ≥', threshold, 'Keep rollouts with a token at or above this value of the colour signal (|value − centre| for diverging signals)'),
      field('Find', search),
      field('Sort', sortSelect),
      groupedBox,
    );
  }

  /** Shows the run's steps in the picker, with the step being opened (or on show) selected. */
  updateStepOptions(): void {
    const { steps, loadingStep, data } = this.state;
    const value = String(loadingStep ?? data?.step ?? '');
    const shown = this.stepOptions;
    // The same steps (count, first and last): only the selection moves.
    if (steps.length === shown.length && steps[0] === shown[0] && steps.at(-1) === shown.at(-1)) {
      this.stepSelect.value = value;
      return;
    }
    const option = (s: number) => ({ value: String(s), label: `Step ${s}` });
    if (shown.length && steps.length > shown.length && shown.every((s, i) => steps[i] === s)) {
      appendOptions(this.stepSelect, steps.slice(shown.length).map(option), value);
    } else {
      setOptions(this.stepSelect, steps.map(option), value);
    }
    this.stepOptions = [...steps];
  }

  /** Offers the signals the step has; if the chosen one is absent, switches to the first fallback present. */
  updateSignalOptions(): void {
    const { signals, signal } = offeredSignals(this.state.data?.fieldsPresent() ?? new Set(), this.state.signal);
    if (signal !== this.state.signal) chooseSignal(this.state, signal);
    setOptions(
      this.signalSelect,
      signals.map((s) => ({ value: s.id, label: s.label })),
      this.state.signal,
    );
  }

  /** Selects a signal in the picker (as if chosen there). */
  chooseSignal(id: SignalId): void {
    this.signalSelect.value = id;
    this.actions.setSignal(id);
  }

  showFollow(on: boolean): void {
    this.followBox.checked = on;
  }

  private moveStep(delta: number): void {
    const { data, steps } = this.state;
    if (!data || steps.length === 0) return;
    const i = steps.indexOf(data.step);
    const j = Math.min(steps.length - 1, Math.max(0, (i < 0 ? steps.length - 1 : i) + delta));
    if (steps[j] !== data.step) this.actions.loadStep(steps[j]);
  }
}
