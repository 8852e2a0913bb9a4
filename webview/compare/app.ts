/**
 * Compare a prompt across steps (or runs): one column per step, one row per rollout of the prompt, tokens
 * coloured by a signal on one scale fixed across every column (the host's core/view/compare.ts computed it), the
 * prefix each response shares with its row's first one marked, and under each row a strip per aligned token
 * position: RVD, Ã and surprise (−log p) in each column, on the same scales. The hover card is the trajectory
 * view's. Model text is set as text only (text.ts).
 */
import { CompareInitNotification, type WebviewRunInfo } from '../../src/core/protocol/webview';
import { STRIP_FIELDS, type CompareView, type CompareViewColumn, type StripField } from '../../src/core/view/compare';
import type { TokenField } from '../../src/core/view/pack';
import { presetLabel } from '../../src/core/presets';
import { HostIpc } from '../ipc';
import { binClass, signalDef, type SignalDef, type SignalId } from '../scales';
import { adoptCss, fmt, h, select, setOptions, signed, type SelectLike } from '../elements';
import { appendDisplayText, displayString, promptDetails } from '../text';
import { HoverCard } from '../trajectory/hoverCard';
import { StepData, isCorrect, signalRaw, tokenCount, tokenText, type RolloutRef } from '../trajectory/model';
import { renderScale } from '../trajectory/summary';
import { field, offeredSignals } from '../trajectory/toolbar';
import styles from './compare.css';

/** How the strip names its three fields (surprise is −log p: the scale colours it that way). */
const STRIP_LABELS: Record<StripField, { label: string; title: string }> = {
  rvd: { label: 'RVD', title: 'Robust visual dependency (PRPO-R)' },
  tokenAdvantage: { label: 'Ã', title: 'Reshaped token advantage Ãᵢₜ' },
  logpImage: { label: '−log p', title: 'Surprise: −log p of the token under the image view' },
};

/** Aligned positions the strip draws (a long shared prefix would make thousands of cells; the tokens above show it all). */
const STRIP_MAX_POSITIONS = 400;

interface Column {
  view: CompareViewColumn;
  /** The column's rollouts, as the trajectory view's model holds them (the hover card reads these). */
  rollouts: RolloutRef[];
  present: Set<TokenField>;
  run: WebviewRunInfo | undefined;
}

/** `window.prpoCompare`: what the scenario checks. */
export interface CompareHooks {
  readonly signal: SignalId;
  readonly view: CompareView | undefined;
  setSignal(id: SignalId): void;
}

export function startCompare(root: HTMLElement): void {
  adoptCss(styles);
  const ipc = new HostIpc('compare');
  const saved = ipc.getState<{ signal?: SignalId }>() ?? {};
  let signal: SignalId = saved.signal ?? 'rvd';
  let view: CompareView | undefined;
  let columns: Column[] = [];
  /** The column the pointer is over (the hover card names the weight by its run's algorithm). */
  let cardRun: WebviewRunInfo | undefined;
  /** The token the keyboard cursor is on. */
  let cursor: HTMLElement | undefined;

  const head = h('div', 'compare-head');
  const signalSelect: SelectLike = select([], signal, (v) => setSignal(v as SignalId));
  signalSelect.classList.add('signal-select');
  const toolbar = h('div', 'toolbar');
  const row = h('div', 'toolbar-row');
  row.append(field('Colour by', signalSelect));
  toolbar.append(row);
  const legend = h('div', 'legend');
  const issues = h('div', 'issues');
  issues.hidden = true;
  const scroll = h('div', 'compare-scroll');
  root.replaceChildren(toolbar, head, legend, issues, scroll);
  const card = new HoverCard(() => cardRun);
  /** Each token list's rollout and column, for the hover card. */
  const tokensOf = new WeakMap<Element, { ro: RolloutRef; column: Column }>();

  const hi = (def: SignalDef): number => (def.fixedHi !== undefined ? def.fixedHi : (view?.ranges[def.id] ?? 1));

  function setSignal(id: SignalId): void {
    signal = id;
    ipc.setState({ signal });
    renderLegend();
    recolour();
  }

  function renderLegend(): void {
    const def = signalDef(signal);
    const n = columns.reduce((s, c) => s + c.rollouts.length, 0);
    renderScale(legend, def, hi(def), def.fixedHi !== undefined ? 'fixed range' : `range fixed across the ${n} rollouts in every column`);
  }

  function offerSignals(): void {
    const present = new Set<TokenField>();
    for (const c of columns) for (const f of c.present) present.add(f);
    const offered = offeredSignals(present, signal);
    signal = offered.signal;
    setOptions(signalSelect, offered.signals.map((s) => ({ value: s.id, label: s.label })), signal);
  }

  const tokenClass = (def: SignalDef, ro: RolloutRef, k: number, shared: boolean): string => {
    const c = binClass(def, hi(def), signalRaw(def, ro, k));
    return `tok${c ? ` ${c}` : ''}${shared ? ' shared' : ''}`;
  };

  function recolour(): void {
    const def = signalDef(signal);
    for (const tokens of scroll.querySelectorAll('.tokens')) {
      const at = tokensOf.get(tokens);
      if (!at) continue;
      for (const span of tokens.querySelectorAll<HTMLElement>('.tok')) {
        span.className = tokenClass(def, at.ro, Number(span.dataset.k), span.classList.contains('shared')) + (span === cursor ? ' cursor' : '');
      }
    }
  }

  function render(): void {
    if (!view) return;
    const v = view;
    // The head: which prompt, how many columns have it, the prompt's text and answer.
    head.replaceChildren();
    const title = h('span', 'compare-title');
    title.textContent = `Prompt ${displayString(v.group)}`;
    head.append(title);
    if (v.validation) head.append(h('span', 'compare-badge', 'validation'));
    const sampled = v.columns.filter((c) => !c.missing).length;
    head.append(h('span', 'stat dim', `sampled in ${sampled} of ${v.columns.length} columns · ${columns.reduce((s, c) => s + c.rollouts.length, 0)} rollouts`));
    if (v.answer !== undefined) {
      const ans = h('span', 'stat answer', 'answer ');
      appendDisplayText(ans, v.answer);
      head.append(ans);
    }
    head.append(promptDetails(v.prompt, 160, 'prompt compare-prompt'));

    const grid = h('div', 'compare-grid');
    grid.style.gridTemplateColumns = `repeat(${v.columns.length}, minmax(220px, 1fr))`;
    grid.setAttribute('role', 'table');
    for (const c of columns) {
      const ch = h('div', c.view.missing ? 'compare-col-head missing' : 'compare-col-head');
      ch.setAttribute('role', 'columnheader');
      ch.append(h('span', 'compare-col-label', c.view.label));
      if (c.view.missing) ch.append(h('span', 'compare-missing', c.view.missing));
      else ch.append(h('span', 'stat dim', `${c.rollouts.length} rollout${c.rollouts.length === 1 ? '' : 's'}${c.view.algorithm ? ` · ${presetLabel(c.view.algorithm)}` : ''}`));
      grid.append(ch);
    }
    const def = signalDef(signal);
    for (const r of v.rows) {
      const ref = columns[r.reference];
      const label = h('div', 'compare-row-label');
      label.append(h('span', 'compare-row-title', `Rollout ${r.index + 1}`));
      label.append(
        h(
          'span',
          'stat dim',
          r.aligned > 0
            ? `aligned on the first ${r.aligned} token${r.aligned === 1 ? '' : 's'} of ${ref.view.label} (underlined); a bar marks where a column's response leaves it`
            : `no other column shares a prefix with ${ref.view.label}`,
        ),
      );
      grid.append(label);
      columns.forEach((c, i) => grid.append(cell(c, i, r.index, r.reference, r.shared[i], r.aligned, def)));
      if (r.aligned > 0) grid.append(strip(r, ref));
    }
    scroll.replaceChildren(grid);
  }

  /** Column `i`'s r-th rollout: its head and its tokens, the shared prefix marked. */
  function cell(c: Column, i: number, r: number, reference: number, shared: number | undefined, aligned: number, def: SignalDef): HTMLElement {
    const el = h('div', 'compare-cell');
    el.setAttribute('role', 'cell');
    const ro = c.rollouts[r];
    if (!ro || shared === undefined) {
      el.classList.add('absent');
      el.append(h('span', 'dim', c.view.missing ?? `no rollout ${r + 1} at ${c.view.label}`));
      return el;
    }
    const m = ro.meta;
    const rh = h('div', 'rollout-head');
    const correct = isCorrect(m);
    if (correct !== undefined) rh.append(h('span', `badge ${correct ? 'ok' : 'bad'}`, correct ? '✓' : '✗'));
    const rid = h('span', 'rollout-id');
    rid.textContent = displayString(m.id);
    rh.append(rid, h('span', 'stat', `R ${fmt(m.reward)}`));
    const advDef = signalDef('advantage');
    rh.append(h('span', `stat chip ${binClass(advDef, hi(advDef), m.advantage)}`, `A ${signed(m.advantage)}`));
    rh.append(h('span', 'stat dim', `${tokenCount(ro)} tok`));
    el.append(rh);
    const tokens = h('div', 'tokens');
    tokens.tabIndex = 0;
    tokens.setAttribute('aria-label', `Tokens of rollout ${displayString(m.id)} at ${c.view.label}: arrow keys move between tokens and show their fields`);
    tokensOf.set(tokens, { ro, column: c });
    // The reference shares its first `aligned` tokens with some column; another column, its own `shared`.
    const prefix = i === reference ? aligned : shared;
    for (let k = 0; k < tokenCount(ro); k++) {
      if (k === prefix && i !== reference && aligned > 0) {
        const mark = h('span', 'diverge');
        mark.setAttribute('role', 'img');
        mark.setAttribute('aria-label', 'diverges here');
        mark.title = `From here this response differs from ${columns[reference].view.label}'s`;
        tokens.append(mark);
      }
      const span = h('span', tokenClass(def, ro, k, k < prefix && aligned > 0));
      span.dataset.k = String(k);
      appendDisplayText(span, tokenText(ro, k));
      tokens.append(span);
    }
    el.append(tokens);
    return el;
  }

  /** Per aligned position, the token and how RVD, Ã and surprise moved across the columns (one cell per column). */
  function strip(r: CompareView['rows'][number], ref: Column): HTMLElement {
    const wrap = h('div', 'compare-strip-wrap');
    wrap.append(h('div', 'strip-caption', `How each aligned token moved: one cell per column (${columns.map((c) => c.view.label).join(' · ')}), hatched where that column is not aligned or did not record the value`));
    const el = h('div', 'compare-strip');
    el.setAttribute('role', 'group');
    el.setAttribute('aria-label', `How RVD, Ã and surprise moved at each of the ${r.aligned} aligned positions, one cell per column`);
    const labels = h('div', 'strip-labels');
    labels.append(h('span', 'strip-token-label', 'token'));
    for (const f of STRIP_FIELDS) {
      const l = h('span', 'strip-label', STRIP_LABELS[f].label);
      l.title = `${STRIP_LABELS[f].title}: one cell per column, left to right (${columns.map((c) => c.view.label).join(', ')})`;
      labels.append(l);
    }
    el.append(labels);
    const refRo = ref.rollouts[r.index];
    const shown = Math.min(r.aligned, STRIP_MAX_POSITIONS);
    for (let p = 0; p < shown; p++) {
      const pos = h('div', 'strip-pos');
      const tok = h('span', 'strip-token');
      appendDisplayText(tok, tokenText(refRo, p));
      tok.title = `position ${p + 1}`;
      pos.append(tok);
      for (const f of STRIP_FIELDS) {
        const line = h('span', 'strip-line');
        const def = signalDef(f);
        r.strip[f][p].forEach((v, c) => {
          const cls = Number.isFinite(v) ? binClass(def, hi(def), v) : 'gap';
          const cellEl = h('span', `strip-cell ${cls || 'zero'}`);
          cellEl.dataset.column = String(c);
          const value = Number.isFinite(v) ? (f === 'tokenAdvantage' ? signed(v) : fmt(f === 'logpImage' ? -v : v)) : p < (r.shared[c] ?? 0) ? 'not recorded' : 'not aligned here';
          cellEl.title = `${STRIP_LABELS[f].label} at ${columns[c].view.label}: ${value}`;
          line.append(cellEl);
        });
        pos.append(line);
      }
      el.append(pos);
    }
    wrap.append(el);
    if (shown < r.aligned) wrap.append(h('div', 'strip-caption', `The strip shows the first ${shown} of the ${r.aligned} aligned positions.`));
    return wrap;
  }

  // The hover card: the trajectory view's, on the token under the pointer; a click pins it.
  const tokenAt = (t: EventTarget | null): { span: HTMLElement; ro: RolloutRef; column: Column; k: number } | undefined => {
    const span = (t as HTMLElement | null)?.closest?.('.tok') as HTMLElement | null;
    const at = span?.parentElement ? tokensOf.get(span.parentElement) : undefined;
    return span && at ? { span, ro: at.ro, column: at.column, k: Number(span.dataset.k) } : undefined;
  };
  scroll.addEventListener('mouseover', (e) => {
    const t = tokenAt(e.target);
    if (!t) return;
    if (!card.isPinned) cardRun = t.column.run;
    card.show(t.ro, t.k, t.span);
  });
  scroll.addEventListener('mouseout', (e) => {
    if (!tokenAt(e.relatedTarget)) card.hide();
  });
  scroll.addEventListener('click', (e) => {
    const t = tokenAt(e.target);
    if (!t) return;
    cardRun = t.column.run;
    card.togglePin(t.ro, t.k, t.span);
  });
  scroll.addEventListener('scroll', () => {
    if (!card.isPinned && !cursor) card.hide();
  });
  // Keyboard: Tab to a response, ←/→ (Home/End) move a cursor token whose card is shown, Escape leaves.
  const leave = (): void => {
    cursor?.classList.remove('cursor');
    cursor = undefined;
    card.hide(true);
  };
  scroll.addEventListener('keydown', (e) => {
    const tokens = (e.target as HTMLElement).closest?.('.tokens') as HTMLElement | null;
    const at = tokens ? tokensOf.get(tokens) : undefined;
    if (!tokens || !at) return;
    const spans = [...tokens.querySelectorAll<HTMLElement>('.tok')];
    const k = cursor && tokens.contains(cursor) ? spans.indexOf(cursor) : -1;
    const moves: Record<string, number> = { ArrowRight: k + 1, ArrowLeft: Math.max(0, k - 1), Home: 0, End: spans.length - 1 };
    if (e.key in moves && spans.length) {
      e.preventDefault();
      const span = spans[Math.min(spans.length - 1, moves[e.key])];
      cursor?.classList.remove('cursor');
      cursor = span;
      span.classList.add('cursor');
      span.scrollIntoView({ block: 'nearest', inline: 'nearest' });
      card.hide(true);
      cardRun = at.column.run;
      card.show(at.ro, Number(span.dataset.k), span);
    } else if (e.key === 'Escape' && cursor) {
      leave();
    }
  });
  scroll.addEventListener('focusout', (e) => {
    if (cursor && !scroll.contains(e.relatedTarget as Node | null)) leave();
  });

  ipc.on(CompareInitNotification, (p) => {
    view = p.view;
    card.hide(true);
    columns = p.view.columns.map((c) => {
      const data = new StepData(c.step);
      data.add(c.rollouts);
      // Row r is the column's r-th rollout as core counted them (StepData would skip a repeated id).
      const b = c.rollouts;
      const rollouts: RolloutRef[] = b.meta.map((meta, r) => ({ index: r, batch: b, r, meta, start: b.tokenStart[r], end: b.tokenStart[r + 1] }));
      // The card reads only the algorithm (to name the weight by it); it shows no other fact of the run.
      const run: WebviewRunInfo | undefined = c.algorithm && { id: '', name: c.run ?? '', algorithm: c.algorithm, source: 'prpo-studio', status: 'completed' };
      return { view: c, rollouts, present: data.fieldsPresent(), run };
    });
    issues.hidden = p.issues.length === 0;
    issues.replaceChildren(...p.issues.slice(0, 20).map((m) => h('div', 'issue', m)));
    if (p.issues.length > 20) issues.append(h('div', 'issue', `… and ${p.issues.length - 20} more lines that could not be read`));
    offerSignals();
    renderLegend();
    render();
  });

  (window as unknown as { prpoCompare: CompareHooks }).prpoCompare = {
    get signal() {
      return signal;
    },
    get view() {
      return view;
    },
    setSignal: (id) => {
      signalSelect.value = id;
      setSignal(id);
    },
  };

  ipc.ready();
}
