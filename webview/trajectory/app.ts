/**
 * The trajectory view: a step's rollouts grouped by prompt, tokens coloured by a signal, hover cards, filters,
 * live follow. Rendering is windowed at two levels — groups, and chunks of CHUNK tokens inside a rollout —
 * with one IntersectionObserver: a block is built when it comes near the viewport and emptied (keeping its
 * measured height) when it goes far away, so a 20,000-token rollout or a 1,000-rollout step stays fluid.
 */
import {
  GetImageRequest,
  GetStepPartRequest,
  GetStepRequest,
  IpcMessage,
  PerfReportCommand,
  RolloutsAppendedNotification,
  WebviewRunInfo as RunInfo,
  SetFollowCommand,
  ShowMessageCommand,
  ShowStepNotification,
  StatusChangedNotification,
  StepsChangedNotification,
  TrajectoryInitNotification,
} from '../../src/core/protocol/webview';
import type { PackedRollouts } from '../../src/core/view/pack';
import { hashString } from '../../src/core/random';
import { presetLabel } from '../../src/core/presets';
import { HostIpc } from '../ipc';
import { SIGNALS, SignalDef, SignalId, binClass, binValue, scaleHi, signalDef, BINS } from '../scales';
import { appendDisplayText, displayString, isPlain } from '../text';
import { fmt, h, select, setOptions, signed } from '../elements';
import { FilterState, Group, RolloutRef, StepData, arrange, defaultFilter, isCorrect, signalRaw, textMatches, tokenCount } from './model';
import { HoverCard } from './hoverCard';
import { imagePanel } from './imageViews';

/** Tokens per rendered chunk. */
const CHUNK = 256;
/** How far outside the viewport blocks are kept built (px). */
const MARGIN = 1200;

interface ChunkBlock {
  kind: 'chunk';
  el: HTMLElement;
  ro: RolloutRef;
  from: number;
  to: number;
  built: boolean;
  matches?: Set<number>;
}
interface GroupBlock {
  kind: 'group';
  el: HTMLElement;
  group: Group;
  built: boolean;
  cards?: HTMLElement;
  chunks: ChunkBlock[];
}
type Block = ChunkBlock | GroupBlock;

interface ViewState {
  step?: number;
  signal?: SignalId;
  filter?: Omit<FilterState, 'minReward' | 'threshold'> & { minReward: number | null; threshold: number | null };
}

export function startTrajectory(root: HTMLElement): void {
  const ipc = new HostIpc('trajectory');
  const saved = ipc.getState<ViewState>() ?? {};
  let run: RunInfo | undefined;
  let steps: number[] = [];
  let data: StepData | undefined;
  let loadingStep: number | undefined;
  let pendingAppends: PackedRollouts[] = [];
  let follow = false;
  let signal: SignalId = saved.signal ?? 'rvd';
  let def: SignalDef = signalDef(signal);
  const filter: FilterState = { ...defaultFilter(), ...(saved.filter ?? {}), minReward: saved.filter?.minReward ?? NaN, threshold: saved.filter?.threshold ?? NaN };
  const hiCache = new Map<SignalId, number>();
  let groups: GroupBlock[] = [];
  const groupByKey = new Map<string, GroupBlock>();
  const blockOf = new WeakMap<Element, Block>();

  // ------------------------------------------------------------------------------------------- layout
  const toolbar = h('div', 'toolbar');
  const legend = h('div', 'legend');
  const status = h('div', 'status-line');
  const issuesEl = h('div', 'issues');
  issuesEl.hidden = true;
  const list = h('div', 'list');
  list.setAttribute('role', 'list');
  const empty = h('div', 'empty', 'Waiting for the run…');
  root.replaceChildren(toolbar, legend, status, issuesEl, list);
  list.append(empty);
  const card = new HoverCard(() => run);

  const field = (label: string, control: HTMLElement, title?: string): HTMLElement => {
    const w = h('label', 'field');
    w.append(h('span', 'field-label', label), control);
    if (title) w.title = title;
    return w;
  };

  const prev = h('vscode-button', 'step-prev', '‹');
  prev.setAttribute('secondary', '');
  prev.title = 'Previous step';
  const next = h('vscode-button', 'step-next', '›');
  next.setAttribute('secondary', '');
  next.title = 'Next step';
  const stepSelect = select([], '', (v) => void loadStep(Number(v)));
  stepSelect.classList.add('step-select');
  stepSelect.setAttribute('combobox', '');
  prev.addEventListener('click', () => moveStep(-1));
  next.addEventListener('click', () => moveStep(1));
  const followBox = h('vscode-checkbox', 'follow') as HTMLElement & { checked: boolean };
  followBox.setAttribute('label', 'Follow live');
  followBox.title = 'While the run trains, show new rollouts as they are produced and move to new steps';
  followBox.addEventListener('change', () => setFollow(followBox.checked));

  const signalSelect = select([], signal, (v) => setSignal(v as SignalId));
  signalSelect.classList.add('signal-select');
  const correctSelect = select(
    [
      { value: 'all', label: 'All' },
      { value: 'correct', label: 'Correct' },
      { value: 'incorrect', label: 'Incorrect' },
    ],
    filter.correctness,
    (v) => updateFilter({ correctness: v as FilterState['correctness'] }),
  );
  const signSelect = select(
    [
      { value: 'all', label: 'Any' },
      { value: 'positive', label: 'A > 0' },
      { value: 'negative', label: 'A < 0' },
      { value: 'zero', label: 'A = 0' },
    ],
    filter.advantageSign,
    (v) => updateFilter({ advantageSign: v as FilterState['advantageSign'] }),
  );
  correctSelect.classList.add('correct-select');
  signSelect.classList.add('sign-select');
  const sortSelect = select(
    [
      { value: 'natural', label: 'As produced' },
      { value: 'reward-desc', label: 'Reward ↓' },
      { value: 'reward-asc', label: 'Reward ↑' },
      { value: 'advantage-desc', label: 'Advantage ↓' },
      { value: 'advantage-asc', label: 'Advantage ↑' },
      { value: 'signal-desc', label: 'Peak signal ↓' },
      { value: 'length-desc', label: 'Length ↓' },
    ],
    filter.sort,
    (v) => updateFilter({ sort: v as FilterState['sort'] }),
  );
  sortSelect.classList.add('sort-select');
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
  const minReward = numberField('any', filter.minReward, (v) => updateFilter({ minReward: v }));
  minReward.classList.add('min-reward');
  const threshold = numberField('off', filter.threshold, (v) => updateFilter({ threshold: v }));
  threshold.classList.add('threshold');
  const search = h('vscode-textfield', 'search') as HTMLElement & { value: string };
  search.setAttribute('placeholder', 'Search text');
  if (filter.text) search.setAttribute('value', filter.text);
  let searchTimer: number | undefined;
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = window.setTimeout(() => updateFilter({ text: search.value }), 150);
  });
  const groupedBox = h('vscode-checkbox', 'grouped') as HTMLElement & { checked: boolean };
  groupedBox.setAttribute('label', 'Group by prompt');
  if (filter.grouped) groupedBox.setAttribute('checked', '');
  groupedBox.addEventListener('change', () => updateFilter({ grouped: groupedBox.checked }));

  toolbar.append(
    h('div', 'toolbar-row', undefined),
    h('div', 'toolbar-row', undefined),
  );
  const [row1, row2] = toolbar.children as unknown as HTMLElement[];
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

  // ------------------------------------------------------------------------------------------- windowing
  const io = new IntersectionObserver(
    (entries) => {
      for (const e of entries) {
        const b = blockOf.get(e.target);
        if (!b) continue;
        if (e.isIntersecting && !b.built) build(b);
        else if (!e.isIntersecting && b.built) unbuild(b, e.boundingClientRect.height);
      }
    },
    { root: list, rootMargin: `${MARGIN}px 0px` },
  );

  const lineHeight = (): number => 20;
  const charWidth = (): number => 7.8;

  function estimateChunkHeight(ro: RolloutRef, from: number, to: number, width: number): number {
    const b = ro.batch;
    const chars = b.textStart[ro.start + to] - b.textStart[ro.start + from];
    let newlines = 0;
    const text = b.text;
    for (let i = b.textStart[ro.start + from]; i < b.textStart[ro.start + to]; i++) if (text.charCodeAt(i) === 10) newlines++;
    const perLine = Math.max(10, Math.floor(width / charWidth()));
    return Math.ceil(chars / perLine + newlines + 1) * lineHeight();
  }

  // The list's width, read once per layout (reading clientWidth per card would force a layout each time).
  let listWidth = 0;
  new ResizeObserver(() => {
    listWidth = list.clientWidth;
  }).observe(list);
  function cardWidth(n: number): number {
    const w = listWidth || list.clientWidth || 900;
    const avail = w - (filter.grouped ? 210 : 24);
    if (!filter.grouped || n <= 1) return avail;
    const cols = Math.max(1, Math.min(n, Math.floor(avail / 300)));
    return avail / cols - 16;
  }

  function estimateGroupHeight(g: Group): number {
    const w = cardWidth(g.rollouts.length);
    const cols = Math.max(1, Math.round(((listWidth || 900) - (filter.grouped ? 210 : 24)) / (w + 16)));
    let tallest = 0;
    const rows: number[] = [];
    g.rollouts.forEach((ro, i) => {
      const hgt = estimateChunkHeight(ro, 0, tokenCount(ro), w) + 44;
      const row = Math.floor(i / cols);
      rows[row] = Math.max(rows[row] ?? 0, hgt);
      tallest = Math.max(tallest, hgt);
    });
    const total = rows.reduce((a, b) => a + b, 0);
    return Math.max(total + 56, filter.grouped && g.image ? 290 : 0);
  }

  function build(b: Block): void {
    if (b.kind === 'group') buildGroup(b);
    else buildChunk(b);
  }

  /** Empties a block far from the viewport, keeping its height (from the observer entry: no forced layout). */
  function unbuild(b: Block, hgt: number): void {
    if (b.kind === 'group') {
      for (const c of b.chunks) io.unobserve(c.el);
      b.chunks = [];
      b.cards = undefined;
    }
    b.el.replaceChildren();
    b.el.style.height = `${hgt}px`;
    b.built = false;
  }

  function hi(): number {
    let v = hiCache.get(signal);
    if (v === undefined) {
      v = computeHi(def, data?.rollouts ?? []);
      hiCache.set(signal, v);
    }
    return v;
  }

  function computeHi(d: SignalDef, rollouts: readonly RolloutRef[]): number {
    if (d.id === 'advantage') return scaleHi(d, [Float32Array.from(rollouts, (r) => r.meta.advantage)]);
    if (!d.field) return 1;
    const cols: Float32Array[] = [];
    const seen = new Set<PackedRollouts>();
    for (const r of rollouts) {
      if (seen.has(r.batch)) continue;
      seen.add(r.batch);
      const c = r.batch.fields[d.field];
      if (c) cols.push(c);
    }
    return scaleHi(d, cols);
  }

  function tokenClass(ro: RolloutRef, k: number, h0: number): string {
    const c = binClass(def, h0, signalRaw(def, ro, k));
    return c ? `tok ${c}` : 'tok';
  }

  function buildChunk(c: ChunkBlock): void {
    const frag = document.createDocumentFragment();
    const h0 = hi();
    const { ro } = c;
    const b = ro.batch;
    const text = b.text;
    for (let k = c.from; k < c.to; k++) {
      const t = ro.start + k;
      const s = text.slice(b.textStart[t], b.textStart[t + 1]);
      const span = document.createElement('span');
      span.className = c.matches?.has(k) ? `${tokenClass(ro, k, h0)} hit` : tokenClass(ro, k, h0);
      if (isPlain(s)) span.textContent = s;
      else appendDisplayText(span, s);
      (span as TokSpan).k = k;
      frag.appendChild(span);
    }
    c.el.style.height = '';
    c.el.replaceChildren(frag);
    c.built = true;
  }

  function recolourChunk(c: ChunkBlock): void {
    const h0 = hi();
    let k = c.from;
    for (const span of c.el.children) {
      (span as HTMLElement).className = c.matches?.has(k) ? `${tokenClass(c.ro, k, h0)} hit` : tokenClass(c.ro, k, h0);
      k++;
    }
  }

  function rolloutCard(ro: RolloutRef, width: number, eagerPx: number, into: ChunkBlock[]): HTMLElement {
    const m = ro.meta;
    const el = h('div', 'rollout');
    el.setAttribute('role', 'listitem');
    const head = h('div', 'rollout-head');
    const correct = isCorrect(m) === true;
    head.append(h('span', `badge ${correct ? 'ok' : 'bad'}`, correct ? '✓' : '✗'));
    const rid = h('span', 'rollout-id');
    rid.textContent = displayString(m.id);
    head.append(rid);
    head.append(h('span', 'stat', `R ${fmt(m.reward)}`));
    const advDef = signalDef('advantage');
    const adv = h('span', `stat chip ${binClass(advDef, advHi(), m.advantage)}`, `A ${signed(m.advantage)}`);
    adv.title = 'Outcome advantage A_i (coloured on the shared advantage scale)';
    head.append(adv);
    if (m.alpha !== undefined) head.append(h('span', 'stat', `α ${fmt(m.alpha)}`));
    head.append(h('span', 'stat dim', `${tokenCount(ro)} tok`));
    el.append(head);
    const tokens = h('div', 'tokens');
    tokens.tabIndex = 0;
    tokens.setAttribute('aria-label', `Tokens of rollout ${displayString(m.id)}: arrow keys move between tokens and show their fields`);
    const n = tokenCount(ro);
    const matches = filter.text ? new Set(textMatches(ro, filter.text)) : undefined;
    let y = 0;
    for (let from = 0; from < n || from === 0; from += CHUNK) {
      const to = Math.min(n, from + CHUNK);
      const c: ChunkBlock = { kind: 'chunk', el: h('span', 'chunk'), ro, from, to, built: false, matches };
      blockOf.set(c.el, c);
      into.push(c);
      tokens.append(c.el);
      const est = estimateChunkHeight(ro, from, to, width);
      if (y < eagerPx) buildChunk(c);
      else c.el.style.height = `${est}px`;
      y += est;
      if (to >= n) break;
    }
    el.append(tokens);
    return el;
  }

  function advHi(): number {
    let v = hiCache.get('advantage');
    if (v === undefined) hiCache.set('advantage', (v = computeHi(signalDef('advantage'), data?.rollouts ?? [])));
    return v;
  }

  const imageCache = new Map<string, Promise<HTMLImageElement>>();
  function loadImage(path: string): Promise<HTMLImageElement> {
    let p = imageCache.get(path);
    if (!p) {
      p = ipc.request(GetImageRequest, { image: path }).then(
        (r) =>
          new Promise<HTMLImageElement>((resolve, reject) => {
            if (!r.dataUrl) return reject(new Error(r.error ?? `Cannot load ${path}`));
            const img = new Image();
            img.onload = () => resolve(img);
            img.onerror = () => reject(new Error(`${path} is not a readable image.`));
            img.src = r.dataUrl;
          }),
      );
      imageCache.set(path, p);
      p.catch(() => imageCache.delete(path)); // a later render asks again
    }
    return p;
  }

  function buildGroup(g: GroupBlock, eagerPx = 0): void {
    const grp = g.group;
    g.el.style.height = '';
    g.el.replaceChildren();
    g.chunks = [];
    if (filter.grouped) {
      const head = h('div', 'group-head');
      const title = h('span', 'group-title');
      title.textContent = `Group ${displayString(grp.key)}`;
      const rewards = grp.rollouts.map((r) => r.meta.reward);
      const mean = rewards.reduce((a, b) => a + b, 0) / Math.max(1, rewards.length);
      head.append(title, h('span', 'stat dim', `${grp.rollouts.length} rollout${grp.rollouts.length === 1 ? '' : 's'} · mean reward ${fmt(mean)}`));
      if (grp.answer !== undefined) {
        const ans = h('span', 'stat answer', 'answer ');
        appendDisplayText(ans, grp.answer);
        head.append(ans);
      }
      g.el.append(head);
      const prompt = h('details', 'prompt');
      const summary = h('summary', 'prompt-summary');
      const first = displayString(grp.prompt);
      summary.textContent = `Prompt: ${first.length > 120 ? `${first.slice(0, 120)}…` : first}`;
      const body = h('div', 'prompt-body');
      appendDisplayText(body, grp.prompt);
      prompt.append(summary, body);
      g.el.append(prompt);
    }
    const bodyRow = h('div', filter.grouped ? 'group-body' : 'group-body flat');
    if (filter.grouped && grp.image) {
      bodyRow.append(imagePanel(loadImage(grp.image), run, hashString(grp.key)));
    } else if (filter.grouped) {
      bodyRow.append(h('div', 'image-panel none', 'No image recorded'));
    }
    const cards = h('div', 'cards');
    const w = cardWidth(grp.rollouts.length);
    for (const ro of grp.rollouts) cards.append(rolloutCard(ro, w, eagerPx, g.chunks));
    bodyRow.append(cards);
    g.el.append(bodyRow);
    g.cards = cards;
    for (const c of g.chunks) if (!c.built) io.observe(c.el);
    g.built = true;
  }

  // ------------------------------------------------------------------------------------------- layout of a step
  function relayout(markName?: string, t0?: number): void {
    io.disconnect();
    card.hide(true);
    groups = [];
    groupByKey.clear();
    list.replaceChildren();
    list.scrollTop = 0;
    listWidth = list.clientWidth;
    if (!data) {
      list.append(empty);
      return;
    }
    const arranged = arrange(data.rollouts, filter, def);
    let y = 0;
    const viewport = (list.clientHeight || window.innerHeight) + 200;
    for (const grp of arranged) {
      const g: GroupBlock = { kind: 'group', el: h('section', 'group'), group: grp, built: false, chunks: [] };
      blockOf.set(g.el, g);
      groups.push(g);
      groupByKey.set(grp.key, g);
      list.append(g.el);
      // Build what the first screen shows now (by estimated heights, without forcing a layout); the
      // observer builds the rest as it nears the viewport.
      const est = estimateGroupHeight(grp);
      if (y < viewport) buildGroup(g, viewport - y);
      else g.el.style.height = `${est}px`;
      y += est;
      io.observe(g.el);
    }
    if (arranged.length === 0) list.append(h('div', 'empty', data.rollouts.length ? 'No rollout matches the filters.' : `Step ${data.step} has no rollouts yet.`));
    updateStatus();
    if (markName && t0 !== undefined) afterPaint(() => report(markName, performance.now() - t0));
    if (tReply !== undefined) {
      const t1 = tReply;
      afterPaint(() => report('trajectory.renderPaint', performance.now() - t1));
      tReply = undefined;
    }
  }
  let tReply: number | undefined;
  /** Rollouts the step being shown has (the rest of it arrives in parts after the first). */
  let expectedTotal = 0;
  let openedAt = 0;

  function updateStatus(): void {
    if (!data) return;
    const shown = groups.reduce((a, g) => a + g.group.rollouts.length, 0);
    const groupsN = new Set(data.rollouts.map((r) => r.meta.group)).size;
    const loading = data.rollouts.length < expectedTotal ? ` (loading… ${data.rollouts.length} of ${expectedTotal})` : '';
    status.textContent = `Step ${data.step}${loading} · ${plural(data.rollouts.length, 'rollout')} in ${plural(groupsN, 'group')} · ${data.tokens.toLocaleString('en-US')} tokens · showing ${shown}${run ? ` · ${run.name} (${presetLabel(run.algorithm)}, ${run.status})` : ''}`;
  }

  function renderLegend(): void {
    legend.replaceChildren();
    const h0 = hi();
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
    legend.append(h('span', 'legend-note', def.fixedHi !== undefined ? 'fixed range' : `range fixed across the ${data?.rollouts.length ?? 0} rollouts of the step`));
  }

  function signalOptions(): void {
    const present = data?.fieldsPresent() ?? new Set();
    const avail = SIGNALS.filter((s) => s.id === 'none' || s.id === 'advantage' || (s.field && present.has(s.field)));
    if (!avail.some((s) => s.id === signal)) {
      const pick = (['rvd', 'S', 'G', 'tokenAdvantage', 'advantage'] as SignalId[]).find((id) => avail.some((s) => s.id === id)) ?? 'none';
      signal = pick;
      def = signalDef(pick);
    }
    setOptions(signalSelect, avail.map((s) => ({ value: s.id, label: s.label })), signal);
  }

  // ------------------------------------------------------------------------------------------- actions
  function setSignal(id: SignalId): void {
    if (id === signal) return;
    signal = id;
    def = signalDef(id);
    saveState();
    renderLegend();
    if (Number.isFinite(filter.threshold) || filter.sort === 'signal-desc') {
      relayout();
      return;
    }
    const t0 = performance.now();
    for (const g of groups) for (const c of g.chunks) if (c.built) recolourChunk(c);
    afterPaint(() => report('trajectory.recolour', performance.now() - t0));
  }

  function updateFilter(change: Partial<FilterState>): void {
    Object.assign(filter, change);
    saveState();
    relayout();
  }

  function saveState(): void {
    ipc.setState<ViewState>({
      step: data?.step,
      signal,
      filter: { ...filter, minReward: Number.isFinite(filter.minReward) ? filter.minReward : null, threshold: Number.isFinite(filter.threshold) ? filter.threshold : null },
    });
  }

  function moveStep(delta: number): void {
    if (!data || steps.length === 0) return;
    const i = steps.indexOf(data.step);
    const j = Math.min(steps.length - 1, Math.max(0, (i < 0 ? steps.length - 1 : i) + delta));
    if (steps[j] !== data.step) void loadStep(steps[j]);
  }

  function setFollow(on: boolean): void {
    follow = on;
    followBox.checked = on;
    ipc.command(SetFollowCommand, { follow: on, step: data?.step ?? -1 });
    if (on && steps.length && data && steps[steps.length - 1] !== data.step) void loadStep(steps[steps.length - 1]);
  }

  // Rebuilt only when the steps change (a long run has thousands: rebuilding them on every step change would cost).
  let stepOptionsKey = '';
  function updateStepOptions(): void {
    const value = String(loadingStep ?? data?.step ?? '');
    const key = `${steps.length}:${steps[0]}:${steps[steps.length - 1]}`;
    if (key === stepOptionsKey) {
      stepSelect.value = value;
      return;
    }
    stepOptionsKey = key;
    setOptions(
      stepSelect,
      steps.map((s) => ({ value: String(s), label: `Step ${s}` })),
      value,
    );
  }

  async function loadStep(step: number): Promise<void> {
    if (loadingStep === step || (data?.step === step && loadingStep === undefined)) return;
    loadingStep = step;
    pendingAppends = [];
    const t0 = performance.now();
    status.textContent = `Loading step ${step}…`;
    try {
      const { rollouts, issues, timing, total, ranges } = await ipc.request(GetStepRequest, { step });
      if (loadingStep !== step) return;
      const tMsg = performance.now();
      if (timing) {
        report('trajectory.hostRead', timing.readMs);
        report('trajectory.hostPack', timing.packMs);
        report('trajectory.transfer', Date.now() - timing.sentAt);
      }
      tReply = tMsg;
      data = new StepData(step);
      data.add(rollouts);
      for (const p of pendingAppends.splice(0)) if (p.step === step) data.add(p);
      // The step's ranges come from the host, computed over all its rollouts: the first ones drawn already use them.
      hiCache.clear();
      for (const [id, v] of Object.entries(ranges ?? {})) hiCache.set(id as SignalId, v);
      expectedTotal = total ?? rollouts.meta.length;
      openedAt = t0;
      loadingStep = undefined;
      void pullParts(step, rollouts.meta.length);
      issuesEl.hidden = issues.length === 0;
      issuesEl.textContent = issues.length ? `${issues.length} problem${issues.length === 1 ? '' : 's'} reading this step: ${issues.slice(0, 3).join(' · ')}${issues.length > 3 ? ' …' : ''}` : '';
      signalOptions();
      updateStepOptions();
      renderLegend();
      relayout('trajectory.firstPaint', t0);
      report('trajectory.reply', tMsg - t0);
      saveState();
      if (follow) ipc.command(SetFollowCommand, { follow, step });
    } catch (err) {
      if (loadingStep === step) loadingStep = undefined;
      status.textContent = `Cannot load step ${step}: ${err instanceof Error ? err.message : String(err)}`;
      ipc.command(ShowMessageCommand, { level: 'error', message: status.textContent });
    }
  }

  /** Pulls the rest of a step being opened, one part at a time, while it is still the step on show. */
  async function pullParts(step: number, from: number): Promise<void> {
    while (from < expectedTotal && data?.step === step && loadingStep === undefined) {
      let part: { rollouts: PackedRollouts; last: boolean };
      try {
        part = await ipc.request(GetStepPartRequest, { step, from });
      } catch {
        return; // the host dropped the step (another one was opened)
      }
      if (data?.step !== step || loadingStep !== undefined) return;
      from += part.rollouts.meta.length;
      enqueue({ batch: part.rollouts, received: performance.now(), opening: { last: part.last || from >= expectedTotal } });
      if (part.rollouts.meta.length === 0) return;
    }
  }

  // Live rollouts: queued and applied once per frame, appended without rebuilding what is on screen.
  let queue: Array<{ batch: PackedRollouts; sentAt?: number; received: number; opening?: { last: boolean } }> = [];
  let frameScheduled = false;
  function onAppended(batch: PackedRollouts, m: IpcMessage): void {
    if (loadingStep !== undefined) {
      if (batch.step === loadingStep) pendingAppends.push(batch);
      return;
    }
    if (!data || batch.step !== data.step) {
      if (follow && (!data || batch.step > data.step)) {
        if (!steps.includes(batch.step)) steps = [...steps, batch.step].sort((a, b) => a - b);
        void loadStep(batch.step);
      }
      return;
    }
    enqueue({ batch, sentAt: m.sentAt, received: performance.now() });
  }

  function enqueue(item: (typeof queue)[number]): void {
    queue.push(item);
    if (!frameScheduled) {
      frameScheduled = true;
      requestAnimationFrame(flushAppends);
    }
  }

  function flushAppends(): void {
    frameScheduled = false;
    const items = queue;
    queue = [];
    if (!data) return;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const added: RolloutRef[] = [];
    for (const it of items) if (it.batch.step === data.step) added.push(...data.add(it.batch));
    // Live rollouts widen (never narrow) the shared ranges; recolour what is built if the current one moved.
    // (The parts of a step being opened are covered by the ranges the host computed over the whole step.)
    const live = added.filter((ro) => !items.some((it) => it.opening && it.batch === ro.batch));
    let widened = false;
    for (const [id, old] of live.length ? hiCache : []) {
      const d = signalDef(id);
      if (d.fixedHi !== undefined) continue;
      const nh = computeHi(d, live);
      if (nh > old * 1.0001) {
        hiCache.set(id, nh);
        if (id === signal) widened = true;
      }
    }
    if (widened) {
      renderLegend();
      for (const g of groups) for (const c of g.chunks) if (c.built) recolourChunk(c);
    }
    const arranged = arrange(added, filter, def);
    for (const grp of arranged) {
      const existing = filter.grouped ? groupByKey.get(grp.key) : undefined;
      if (existing) {
        existing.group.rollouts.push(...grp.rollouts);
        if (existing.built && existing.cards) {
          const w = cardWidth(existing.group.rollouts.length);
          const fresh: ChunkBlock[] = [];
          for (const ro of grp.rollouts) existing.cards.append(rolloutCard(ro, w, Infinity, fresh));
          existing.chunks.push(...fresh);
        } else {
          existing.el.style.height = `${estimateGroupHeight(existing.group)}px`;
        }
        continue;
      }
      if (groups.length === 0) list.replaceChildren();
      const g: GroupBlock = { kind: 'group', el: h('section', 'group'), group: grp, built: false, chunks: [] };
      blockOf.set(g.el, g);
      groups.push(g);
      groupByKey.set(grp.key, g);
      list.append(g.el);
      g.el.style.height = `${estimateGroupHeight(grp)}px`;
      io.observe(g.el);
    }
    const complete = items.some((it) => it.opening?.last);
    if (complete && filter.sort !== 'natural') {
      // Parts arrive in file order: once the step is whole, put it in the chosen order (keeping the scroll).
      const top = list.scrollTop;
      relayout();
      list.scrollTop = top;
    }
    updateStatus();
    if (follow && atBottom) list.scrollTop = list.scrollHeight;
    afterPaint(() => {
      const now = performance.now();
      const wall = Date.now();
      for (const it of items) {
        if (it.opening) continue;
        report('trajectory.appendPaint', now - it.received);
        if (it.sentAt !== undefined) report('trajectory.streamLatency', wall - it.sentAt);
      }
      if (complete) report('trajectory.complete', now - openedAt);
    });
  }

  // ------------------------------------------------------------------------------------------- hover
  list.addEventListener('mouseover', (e) => {
    const t = e.target as HTMLElement;
    const tok = t.closest?.('.tok') as TokSpan | null;
    if (!tok) return;
    const c = blockOf.get(tok.parentElement!);
    if (c && c.kind === 'chunk') card.show(c.ro, tok.k, tok);
  });
  list.addEventListener('mouseout', (e) => {
    const to = e.relatedTarget as HTMLElement | null;
    if (!to || !to.closest?.('.tok')) card.hide();
  });
  list.addEventListener('click', (e) => {
    const tok = (e.target as HTMLElement).closest?.('.tok') as TokSpan | null;
    if (!tok) return;
    const c = blockOf.get(tok.parentElement!);
    if (c && c.kind === 'chunk') card.togglePin(c.ro, tok.k, tok);
  });
  list.addEventListener('scroll', () => {
    if (!card.isPinned && !cursor) card.hide();
  });

  // Keyboard: Tab to a rollout's tokens, ←/→ (Home/End) move a cursor token whose card is shown, Escape leaves.
  let cursor: { ro: RolloutRef; k: number; span: HTMLElement } | undefined;
  function tokenSpan(tokensEl: HTMLElement, k: number): HTMLElement | undefined {
    const chunkEl = tokensEl.children[Math.floor(k / CHUNK)] as HTMLElement | undefined;
    const c = chunkEl && blockOf.get(chunkEl);
    if (!c || c.kind !== 'chunk') return undefined;
    if (!c.built) buildChunk(c);
    return c.el.children[k - c.from] as HTMLElement | undefined;
  }
  function moveCursor(tokensEl: HTMLElement, k: number): void {
    const first = blockOf.get(tokensEl.firstElementChild!);
    if (!first || first.kind !== 'chunk') return;
    const ro = first.ro;
    k = Math.max(0, Math.min(tokenCount(ro) - 1, k));
    const span = tokenSpan(tokensEl, k);
    if (!span) return;
    cursor?.span.classList.remove('cursor');
    cursor = { ro, k, span };
    span.classList.add('cursor');
    span.scrollIntoView({ block: 'nearest' });
    card.hide(true);
    card.show(ro, k, span);
  }
  list.addEventListener('keydown', (e) => {
    const tokensEl = (e.target as HTMLElement).closest?.('.tokens') as HTMLElement | null;
    if (!tokensEl) return;
    const k = cursor && tokensEl.contains(cursor.span) ? cursor.k : -1;
    const moves: Record<string, number> = { ArrowRight: k + 1, ArrowLeft: k - 1, Home: 0, End: Number.MAX_SAFE_INTEGER };
    if (e.key in moves) {
      e.preventDefault();
      moveCursor(tokensEl, k < 0 && e.key === 'ArrowLeft' ? 0 : moves[e.key]);
    } else if (e.key === 'Escape' && cursor) {
      cursor.span.classList.remove('cursor');
      cursor = undefined;
      card.hide(true);
    }
  });
  list.addEventListener('focusout', (e) => {
    if (cursor && !list.contains(e.relatedTarget as Node | null)) {
      cursor.span.classList.remove('cursor');
      cursor = undefined;
      card.hide(true);
    }
  });

  // ------------------------------------------------------------------------------------------- host messages
  ipc.on(TrajectoryInitNotification, (p) => {
    run = p.run;
    steps = p.steps;
    const step = p.step ?? saved.step ?? steps[steps.length - 1];
    if (steps.length === 0) {
      empty.textContent = `${run.name} has no rollouts yet.${run.status === 'running' ? ' They appear here as the run produces them (Follow live).' : ''}`;
      list.replaceChildren(empty);
      if (run.status === 'running') setFollow(true);
      return;
    }
    updateStepOptions();
    if (run.status === 'running' && p.step === undefined) setFollow(true);
    void loadStep(step !== undefined && steps.includes(step) ? step : steps[steps.length - 1]);
  });
  ipc.on(ShowStepNotification, ({ step }) => {
    if (!steps.includes(step)) steps = [...steps, step].sort((a, b) => a - b);
    void loadStep(step);
  });
  ipc.on(StepsChangedNotification, (p) => {
    steps = p.steps;
    updateStepOptions();
    if (!data && loadingStep === undefined && steps.length) void loadStep(steps[steps.length - 1]);
  });
  ipc.on(RolloutsAppendedNotification, (p, m) => onAppended(p.rollouts, m));
  ipc.on(StatusChangedNotification, (p) => {
    if (run && p.runId === run.id) {
      run = { ...run, status: p.status };
      updateStatus();
    }
  });

  function report(name: string, ms: number): void {
    performance.mark(name, { detail: ms });
    ipc.command(PerfReportCommand, { name, ms });
  }

  // Exposed for the benchmarks and UI scenarios (read-only facts about what is shown).
  (window as unknown as { prpoTrajectory: unknown }).prpoTrajectory = {
    get step() {
      return data?.step;
    },
    get signal() {
      return signal;
    },
    get rollouts() {
      return data?.rollouts.length ?? 0;
    },
    get shown() {
      return groups.reduce((a, g) => a + g.group.rollouts.length, 0);
    },
    get renderedTokens() {
      return list.querySelectorAll('.tok').length;
    },
    setSignal: (id: SignalId) => {
      signalSelect.value = id;
      setSignal(id);
    },
    loadStep: (s: number) => loadStep(s),
  };

  ipc.ready();
}

const plural = (n: number, word: string): string => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

interface TokSpan extends HTMLSpanElement {
  k: number;
}

/** Runs `fn` after the next paint (a frame, then a task). */
export function afterPaint(fn: () => void): void {
  requestAnimationFrame(() => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => fn();
    ch.port2.postMessage(null);
  });
}


