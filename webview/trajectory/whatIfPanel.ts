/**
 * The what-if panel (issue 15): the preset and its constants as controls; every change re-runs the core
 * estimators on the step's logged log-probs (core/view/whatIf.ts), recolours Ã with the what-if values and
 * says what moved. While the panel is open the step's Ã column holds the what-if values (the hover cards show
 * them too); closing it puts the logged values back. *Save as Run Config…* and *Start Run with These Settings*
 * hand the settings to the host as a run config file's contents.
 */
import { ALGORITHM_NAMES, ConfigError, resolveConfig, type AlgorithmConfig } from '../../src/core/algorithms';
import { SaveWhatIfConfigCommand, StartWhatIfRunCommand } from '../../src/core/protocol/webview';
import type { PackedRollouts } from '../../src/core/view/pack';
import { runAlgorithmConfig, runWhatIf, WHAT_IF_COLUMNS, whatIfFacts, whatIfMissing, whatIfRunConfig, type WhatIfColumn, type WhatIfKey, type WhatIfSummary } from '../../src/core/view/whatIf';
import { HostIpc } from '../ipc';
import { h, select } from '../elements';
import type { Report } from './perf';
import { field } from './toolbar';
import type { ViewState } from './viewState';

export interface WhatIfParts {
  ipc: HostIpc;
  state: ViewState;
  report: Report;
  /** Colour by Ã (the what-if values are in its column now). */
  showAdvantages(): void;
  /** Redraw the tokens after the Ã column changed. */
  recolour(): void;
}

interface Control {
  key: WhatIfKey;
  label: string;
  title: string;
  /** The presets (estimators) that read it. */
  for: readonly string[];
  kind: 'number' | 'boolean' | 'rvd';
  step?: number;
  /** The slider's span (the field beside it takes any value the core accepts). */
  min?: number;
  max?: number;
}

const CONTROLS: readonly Control[] = [
  { key: 'tau', label: 'τ', title: 'Threshold τ of PGPO\'s gate and of PRPO-R\'s PAR (ALGORITHMS.md §3/§4)', for: ['pgpo', 'prpo', 'oracle', 'random'], kind: 'number', step: 0.05, min: 0, max: 0.95 },
  { key: 'beta', label: 'β', title: 'Boost β: PGPO 2.0, PRPO-R 1.0', for: ['pgpo', 'prpo', 'oracle', 'random'], kind: 'number', step: 0.1, min: 0, max: 5 },
  { key: 'rvd', label: 'RVD mode', title: 'How PRPO-R computes robust visual dependency (§4)', for: ['prpo'], kind: 'rvd' },
  { key: 'lambda', label: 'λ', title: 'Soft RVD: how strongly instability U damps grounding G', for: ['prpo'], kind: 'number', step: 0.1, min: 0, max: 5 },
  { key: 'groundingFloor', label: 'G₀ floor', title: 'Grounding floor G₀ (nats) of ĝ = minmax_f(log1p G); 0: plain minmax', for: ['prpo'], kind: 'number', step: 0.01, min: 0, max: 0.5 },
  { key: 'instabilityFloor', label: 'U₀ floor', title: 'Instability floor U₀ (nats) of û = minmax_f(log1p U); 0: plain minmax', for: ['prpo'], kind: 'number', step: 0.01, min: 0, max: 0.5 },
  { key: 'massConserving', label: 'Mass-conserving', title: 'Rescale PAR\'s weights to sum to Lᵢ', for: ['prpo', 'oracle', 'random'], kind: 'boolean' },
  { key: 'topK', label: 'top-k', title: 'VPPO TGF: fraction of tokens kept (§2)', for: ['vppo'], kind: 'number', step: 0.05, min: 0.05, max: 1 },
  { key: 'betaMin', label: 'β_min', title: 'VPPO TAS: the smallest trajectory weight (§2)', for: ['vppo'], kind: 'number', step: 0.05, min: 0, max: 1 },
];

export class WhatIfPanel {
  readonly el = h('div', 'what-if');
  /** The toolbar's button that opens and closes the panel. */
  readonly toggle = h('vscode-button', 'what-if-toggle', 'What-if…');
  private readonly controlsEl = h('div', 'what-if-controls');
  private readonly messageEl = h('div', 'what-if-message');
  private readonly summaryEl = h('div', 'what-if-summary');
  /** What the colours mean while the panel is open: shown only when the what-if values are in place. */
  private readonly noteEl = h('div', 'what-if-note dim', 'Tokens are coloured by the what-if Ã on the step\'s logged scale; Ã, the weights, the mask and RVD (colours and hover cards) show the what-if values until the panel is closed.');
  private config: AlgorithmConfig | undefined;
  /** The logged columns of each batch whose columns hold what-if values now. */
  private readonly logged = new Map<PackedRollouts, Partial<Record<WhatIfColumn, Float32Array>>>();
  /** What the last computation covered (a new step, or rollouts that arrived since, mean computing again). */
  private computedFor: { data: unknown; rollouts: number } | undefined;
  private scheduled = false;
  /** Asked to open before the run and its step were known (the command opens a new view): open once they are. */
  private wanted = false;
  private lastSummary: WhatIfSummary | undefined;

  constructor(private readonly p: WhatIfParts) {
    this.el.hidden = true;
    this.toggle.setAttribute('secondary', '');
    this.toggle.title = 'What-if: re-reshape this step\'s logged log-probs under other settings';
    this.toggle.addEventListener('click', () => (this.el.hidden ? this.open() : this.close()));
    const save = h('vscode-button', 'what-if-save', 'Save as Run Config…');
    save.setAttribute('secondary', '');
    save.addEventListener('click', () => this.sendConfig('save'));
    const start = h('vscode-button', 'what-if-start', 'Start Run with These Settings');
    start.addEventListener('click', () => this.sendConfig('start'));
    const close = h('vscode-button', 'what-if-close', 'Close');
    close.setAttribute('secondary', '');
    close.addEventListener('click', () => this.close());
    const actions = h('div', 'what-if-actions');
    actions.append(save, start, close);
    const title = h('div', 'what-if-title', 'What-if: re-reshape this step');
    this.el.append(title, this.controlsEl, this.messageEl, this.summaryEl, this.noteEl, actions);
  }

  get isOpen(): boolean {
    return !this.el.hidden;
  }

  /** Open, or asked to open once a step is in: a step opened now should come with all its columns. */
  get needsAllColumns(): boolean {
    return this.isOpen || this.wanted;
  }

  /** A step whose first batch still waits for its other columns cannot be computed yet (sync() comes back). */
  private ready(): boolean {
    return !!this.p.state.data && !this.p.state.data.awaitingDetails;
  }

  /** The last summary shown (for the tests). */
  get summary(): WhatIfSummary | undefined {
    return this.lastSummary;
  }

  /** The settings now (for the tests). */
  get settings(): AlgorithmConfig | undefined {
    return this.config;
  }

  open(): void {
    const run = this.p.state.run;
    if (!run || !this.ready()) {
      this.wanted = true;
      return;
    }
    this.wanted = false;
    if (!this.config) {
      try {
        this.config = runAlgorithmConfig(run.algorithm, run.algorithmConfig);
      } catch (e) {
        // A run.json config the core rejects: start from the preset's defaults and say why.
        this.config = resolveConfig(run.algorithm);
        this.messageEl.textContent = `The run's config could not be read (${(e as Error).message}); starting from the ${run.algorithm} defaults.`;
      }
      this.buildControls();
    }
    this.el.hidden = false;
    this.toggle.setAttribute('aria-pressed', 'true');
    this.p.showAdvantages();
    this.compute();
  }

  close(): void {
    if (this.el.hidden) return;
    this.el.hidden = true;
    this.toggle.removeAttribute('aria-pressed');
    this.restoreLogged();
    this.computedFor = undefined;
    this.p.recolour();
  }

  /** The view changed (a step opened, rollouts arrived): compute again if what is shown is not what was computed. */
  sync(): void {
    if (this.wanted && this.p.state.run && this.ready()) {
      this.open();
      return;
    }
    if (!this.isOpen || this.scheduled || !this.ready()) return;
    const data = this.p.state.data;
    if (this.computedFor && this.computedFor.data === data && this.computedFor.rollouts === (data?.rollouts.length ?? 0)) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      if (this.isOpen) this.compute();
    });
  }

  private change(key: WhatIfKey | 'preset', value: unknown): string | undefined {
    const current = this.config;
    if (!current) return 'The panel is not open.';
    try {
      if (key === 'preset') {
        this.config = resolveConfig(String(value));
        this.buildControls();
      } else {
        // resolveConfig checks the value and names the key when it is out of range.
        const { preset, ...rest } = current;
        this.config = resolveConfig(preset, { ...rest, [key]: value });
      }
    } catch (e) {
      this.messageEl.textContent = e instanceof ConfigError ? e.message : String(e);
      this.messageEl.className = 'what-if-message error';
      return this.messageEl.textContent;
    }
    this.compute();
    return undefined;
  }

  private pending?: { key: WhatIfKey; value: number };

  /** `change`, once per frame with the latest value: a dragged slider fires faster than a step recomputes. */
  private changeSoon(key: WhatIfKey, value: number): void {
    const first = !this.pending;
    this.pending = { key, value };
    if (!first) return;
    requestAnimationFrame(() => {
      const p = this.pending!;
      this.pending = undefined;
      this.change(p.key, p.value);
    });
  }

  private buildControls(): void {
    const config = this.config!;
    const preset = select(
      ALGORITHM_NAMES.map((n) => ({ value: n, label: n })),
      config.preset,
      (v) => this.change('preset', v),
    );
    preset.classList.add('what-if-preset');
    const items: HTMLElement[] = [field('Preset', preset, 'The preset whose estimator re-reshapes the step (its defaults fill the other settings)')];
    for (const c of CONTROLS) {
      if (!c.for.includes(config.estimator)) continue;
      const value = config[c.key];
      let control: HTMLElement;
      if (c.kind === 'boolean') {
        const box = h('vscode-checkbox', `what-if-${c.key}`) as HTMLElement & { checked: boolean };
        if (value) box.setAttribute('checked', '');
        box.addEventListener('change', () => this.change(c.key, box.checked));
        control = box;
      } else if (c.kind === 'rvd') {
        control = select(
          [
            { value: 'soft', label: 'soft' },
            { value: 'gate', label: 'gate' },
            { value: 'multimask', label: 'multimask' },
          ],
          String(value),
          (v) => this.change(c.key, v),
        );
        control.classList.add(`what-if-${c.key}`);
      } else {
        // A slider for sweeping (one computation per frame while dragging) beside a field for exact values.
        const tf = h('vscode-textfield', `what-if-${c.key} num`) as HTMLElement & { value: string };
        tf.setAttribute('type', 'number');
        tf.setAttribute('step', String(c.step ?? 0.1));
        tf.setAttribute('value', String(value));
        const slider = h('input', `what-if-${c.key}-slider what-if-slider`);
        slider.type = 'range';
        slider.min = String(c.min ?? 0);
        slider.max = String(c.max ?? 1);
        slider.step = String(c.step ?? 0.1);
        slider.value = String(value);
        slider.setAttribute('aria-label', c.label);
        tf.addEventListener('input', () => {
          const t = tf.value.trim();
          if (t === '' || !Number.isFinite(Number(t))) return;
          slider.value = t;
          this.change(c.key, Number(t));
        });
        slider.addEventListener('input', () => {
          tf.value = slider.value;
          this.changeSoon(c.key, Number(slider.value));
        });
        control = h('span', 'what-if-number');
        control.append(slider, tf);
      }
      items.push(field(c.label, control, c.title));
    }
    this.controlsEl.replaceChildren(...items);
  }

  private compute(): void {
    const { state, report } = this.p;
    const config = this.config;
    const data = state.data;
    if (!config) return;
    this.restoreLogged();
    this.computedFor = { data, rollouts: data?.rollouts.length ?? 0 };
    this.lastSummary = undefined;
    this.noteEl.hidden = true;
    const missing = data ? whatIfMissing(config, data.rollouts) : 'No step is open.';
    if (missing) {
      this.messageEl.textContent = missing;
      this.messageEl.className = 'what-if-message error';
      this.summaryEl.replaceChildren();
      this.p.recolour();
      return;
    }
    const t0 = performance.now();
    let result;
    try {
      result = runWhatIf(config, data!.rollouts, (ro) => ro.batch.fields.tokenAdvantage?.subarray(ro.start, ro.end));
    } catch (e) {
      this.messageEl.textContent = `The estimators refused this step: ${(e as Error).message}`;
      this.messageEl.className = 'what-if-message error';
      this.summaryEl.replaceChildren();
      this.p.recolour();
      return;
    }
    report('trajectory.whatIf', performance.now() - t0);
    for (const [batch, columns] of result.columns) {
      const logged: Partial<Record<WhatIfColumn, Float32Array>> = {};
      for (const f of WHAT_IF_COLUMNS) {
        logged[f] = batch.fields[f];
        batch.fields[f] = columns[f];
      }
      this.logged.set(batch, logged);
    }
    this.messageEl.textContent = '';
    this.messageEl.className = 'what-if-message';
    this.lastSummary = result.summary;
    this.noteEl.hidden = false;
    this.showSummary(result.summary);
    this.p.recolour();
  }

  private showSummary(s: WhatIfSummary): void {
    this.summaryEl.replaceChildren(
      ...whatIfFacts(s).map((f) => {
        const el = h('span', `what-if-fact ${f.id}`);
        el.title = f.title;
        el.append(h('span', 'what-if-fact-label', f.label), h('span', 'what-if-fact-value', f.value));
        return el;
      }),
    );
  }

  private restoreLogged(): void {
    for (const [batch, logged] of this.logged) {
      for (const f of WHAT_IF_COLUMNS) {
        if (logged[f]) batch.fields[f] = logged[f];
        else delete batch.fields[f];
      }
    }
    this.logged.clear();
  }

  private sendConfig(how: 'save' | 'start'): void {
    const run = this.p.state.run;
    if (!this.config || !run) return;
    const runConfig = whatIfRunConfig(this.config, `${run.name}-what-if`);
    this.p.ipc.command(how === 'save' ? SaveWhatIfConfigCommand : StartWhatIfRunCommand, { runConfig });
  }
}
