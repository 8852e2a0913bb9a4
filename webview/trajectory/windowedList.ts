/**
 * The list of a step's rollouts, windowed at two levels — groups, and chunks of CHUNK tokens inside a rollout —
 * with one IntersectionObserver: a block is built when it comes near the viewport and emptied (keeping its
 * measured height) when it goes far away, so a 20,000-token rollout or a 1,000-rollout step stays fluid.
 * Unbuilt blocks take an estimated height (heights.ts).
 */
import { hashString } from '../../src/core/random';
import { binClass, signalDef } from '../scales';
import { appendDisplayText, displayString, isPlain, promptDetails } from '../text';
import { fmt, h, signed } from '../elements';
import { Group, RolloutRef, arrange, isCorrect, signalRaw, textMatches, tokenCount } from './model';
import { imagePanel } from './imageViews';
import { FALLBACK_LIST_WIDTH_PX, HeightCalibration, cardTextWidth, estimateChunkHeight, estimateGroupHeight, fullTextWidth, isLong } from './heights';
import { ViewState, advantageHi, currentHi } from './viewState';

/** Tokens per rendered chunk. */
const CHUNK = 256;
/** How far outside the viewport blocks are kept built (px). */
const MARGIN = 1200;
/** Built at once below the first screen, so the first scroll finds text (px). */
const FIRST_SCREEN_EXTRA = 200;

export interface ChunkBlock {
  kind: 'chunk';
  el: HTMLElement;
  ro: RolloutRef;
  from: number;
  to: number;
  built: boolean;
  matches?: Set<number>;
  /** The estimated height before calibration (what a measurement is compared with). */
  estimate: number;
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

/** A token's span knows its index in the rollout (for the hover card and the cursor). */
export interface TokSpan extends HTMLSpanElement {
  k: number;
}

export class WindowedList {
  readonly el = h('div', 'list');
  private readonly empty = h('div', 'empty', 'Waiting for the run…');
  private groups: GroupBlock[] = [];
  private readonly groupByKey = new Map<string, GroupBlock>();
  private readonly blockOf = new WeakMap<Element, Block>();
  private readonly io: IntersectionObserver;
  // The list's width, read once per layout (reading clientWidth per card would force a layout each time).
  private listWidth = 0;
  /** Measured over estimated chunk heights: unbuilt blocks are scaled by it (heights.ts). */
  private readonly calibration = new HeightCalibration();
  /** The factor the unbuilt blocks' heights were last set with. */
  private appliedFactor = 1;
  /** Each card's `.tokens` and its chunks: their sizes (from a ResizeObserver, no forced layout) calibrate the estimates. */
  private readonly chunksOf = new WeakMap<Element, ChunkBlock[]>();
  private readonly sizes = new ResizeObserver((entries) => {
    for (const e of entries) {
      const chunks = this.chunksOf.get(e.target);
      if (!chunks) continue;
      // The built chunks' real height: the text's height less what the unbuilt ones were given.
      let estimated = 0;
      let unbuilt = 0;
      for (const c of chunks) {
        if (c.built) estimated += c.estimate;
        else unbuilt += parseFloat(c.el.style.height) || 0;
      }
      this.calibration.set(e.target, estimated, e.contentRect.height - unbuilt);
    }
    this.recalibrate();
  });

  constructor(
    private readonly state: ViewState,
    private readonly on: {
      loadImage(path: string): Promise<HTMLImageElement>;
      /** A new layout: the hover card's token is gone. */
      hideCard(): void;
      /** A step has been laid out (the status line counts what is shown). */
      laidOut(): void;
    },
  ) {
    this.el.setAttribute('role', 'list');
    this.el.append(this.empty);
    this.io = new IntersectionObserver(
      (entries) => {
        for (const e of entries) {
          const b = this.blockOf.get(e.target);
          if (!b) continue;
          if (e.isIntersecting && !b.built) this.build(b);
          else if (!e.isIntersecting && b.built) this.unbuild(b, e.boundingClientRect.height);
        }
      },
      { root: this.el, rootMargin: `${MARGIN}px 0px` },
    );
    new ResizeObserver(() => {
      this.listWidth = this.el.clientWidth;
    }).observe(this.el);
  }

  /**
   * Rescales the unbuilt blocks when the measured/estimated factor has moved by more than 5 % since they were
   * sized, so the scrollbar matches what the rest will be (a drag to the bottom lands at the end). Style writes
   * only; Chromium's scroll anchoring keeps what is on screen in place.
   */
  private recalibrate(): void {
    const f = this.calibration.factor;
    if (Math.abs(f / this.appliedFactor - 1) < 0.05) return;
    this.appliedFactor = f;
    for (const g of this.groups) {
      if (!g.built) g.el.style.height = `${this.estimateGroupHeight(g.group)}px`;
      else for (const c of g.chunks) if (!c.built) c.el.style.height = `${Math.round(c.estimate * f)}px`;
    }
  }

  /** Rollouts shown (those that pass the filters). */
  get shown(): number {
    return this.groups.reduce((a, g) => a + g.group.rollouts.length, 0);
  }

  /** Shows a message instead of rollouts (no step yet). */
  showEmpty(text: string): void {
    this.empty.textContent = text;
    this.el.replaceChildren(this.empty);
  }

  /** Lays out the step on show from scratch: filtered, sorted, grouped; the first screen built now. */
  relayout(): void {
    const { data, filter, def } = this.state;
    this.io.disconnect();
    this.sizes.disconnect();
    this.on.hideCard();
    this.groups = [];
    this.groupByKey.clear();
    this.el.replaceChildren();
    this.el.scrollTop = 0;
    this.listWidth = this.el.clientWidth;
    if (!data) {
      this.el.append(this.empty);
      return;
    }
    const arranged = arrange(data.rollouts, filter, def);
    let y = 0;
    const viewport = (this.el.clientHeight || window.innerHeight) + FIRST_SCREEN_EXTRA;
    for (const grp of arranged) {
      const g = this.addGroup(grp);
      // Build what the first screen shows now (by estimated heights, without forcing a layout); the
      // observer builds the rest as it nears the viewport.
      const est = this.estimateGroupHeight(grp);
      if (y < viewport) this.buildGroup(g, viewport - y);
      else g.el.style.height = `${est}px`;
      y += est;
      this.io.observe(g.el);
    }
    if (arranged.length === 0) this.el.append(h('div', 'empty', data.rollouts.length ? 'No rollout matches the filters.' : `Step ${data.step} has no rollouts yet.`));
    this.on.laidOut();
  }

  /** Adds rollouts that arrived after the layout, without rebuilding what is on screen. */
  append(added: readonly RolloutRef[]): void {
    const { filter, def } = this.state;
    for (const grp of arrange(added, filter, def)) {
      const existing = filter.grouped ? this.groupByKey.get(grp.key) : undefined;
      if (existing) {
        existing.group.rollouts.push(...grp.rollouts);
        if (existing.built && existing.cards) {
          const w = this.cardWidth(existing.group.rollouts.length);
          const fresh: ChunkBlock[] = [];
          for (const ro of grp.rollouts) existing.cards.append(this.rolloutCard(ro, w, Infinity, fresh));
          existing.chunks.push(...fresh);
        } else {
          existing.el.style.height = `${this.estimateGroupHeight(existing.group)}px`;
        }
        continue;
      }
      if (this.groups.length === 0) this.el.replaceChildren();
      const g = this.addGroup(grp);
      g.el.style.height = `${this.estimateGroupHeight(grp)}px`;
      this.io.observe(g.el);
    }
  }

  /** Recolours the built tokens (the signal or its range changed; the layout did not). */
  recolour(): void {
    for (const g of this.groups) for (const c of g.chunks) if (c.built) this.recolourChunk(c);
  }

  /** The chunk an element (a token's parent) is, if it is one. */
  chunkAt(el: Element | null): ChunkBlock | undefined {
    const c = el ? this.blockOf.get(el) : undefined;
    return c?.kind === 'chunk' ? c : undefined;
  }

  /** The span of token k in a rollout's `.tokens` element, building its chunk if need be. */
  tokenSpan(tokensEl: HTMLElement, k: number): HTMLElement | undefined {
    const c = this.chunkAt(tokensEl.children[Math.floor(k / CHUNK)] ?? null);
    if (!c) return undefined;
    if (!c.built) this.buildChunk(c);
    return c.el.children[k - c.from] as HTMLElement | undefined;
  }

  private addGroup(grp: Group): GroupBlock {
    const g: GroupBlock = { kind: 'group', el: h('section', 'group'), group: grp, built: false, chunks: [] };
    this.blockOf.set(g.el, g);
    this.groups.push(g);
    this.groupByKey.set(grp.key, g);
    this.el.append(g.el);
    return g;
  }

  private cardWidth(n: number): number {
    return cardTextWidth(this.listWidth || this.el.clientWidth || FALLBACK_LIST_WIDTH_PX, this.state.filter.grouped, n);
  }

  private estimateGroupHeight(g: Group): number {
    const est = estimateGroupHeight(g, this.state.filter.grouped, this.cardWidth(g.rollouts.length), this.listWidth || FALLBACK_LIST_WIDTH_PX);
    return Math.round(est * this.calibration.factor);
  }

  private build(b: Block): void {
    if (b.kind === 'group') this.buildGroup(b);
    else this.buildChunk(b);
  }

  /** Empties a block far from the viewport, keeping its height (from the observer entry: no forced layout). */
  private unbuild(b: Block, hgt: number): void {
    if (b.kind === 'group') {
      for (const c of b.chunks) this.io.unobserve(c.el);
      for (const t of b.el.querySelectorAll('.tokens')) this.sizes.unobserve(t);
      b.chunks = [];
      b.cards = undefined;
    }
    b.el.replaceChildren();
    b.el.style.height = `${hgt}px`;
    b.built = false;
  }

  private tokenClass(ro: RolloutRef, k: number, h0: number): string {
    const c = binClass(this.state.def, h0, signalRaw(this.state.def, ro, k));
    return c ? `tok ${c}` : 'tok';
  }

  private buildChunk(c: ChunkBlock): void {
    const frag = document.createDocumentFragment();
    const h0 = currentHi(this.state);
    const { ro } = c;
    const b = ro.batch;
    const text = b.text;
    for (let k = c.from; k < c.to; k++) {
      const t = ro.start + k;
      const s = text.slice(b.textStart[t], b.textStart[t + 1]);
      const span = document.createElement('span');
      span.className = c.matches?.has(k) ? `${this.tokenClass(ro, k, h0)} hit` : this.tokenClass(ro, k, h0);
      if (isPlain(s)) span.textContent = s;
      else appendDisplayText(span, s);
      (span as TokSpan).k = k;
      frag.appendChild(span);
    }
    c.el.style.height = '';
    c.el.replaceChildren(frag);
    c.built = true;
  }

  private recolourChunk(c: ChunkBlock): void {
    const h0 = currentHi(this.state);
    let k = c.from;
    for (const span of c.el.children) {
      (span as HTMLElement).className = c.matches?.has(k) ? `${this.tokenClass(c.ro, k, h0)} hit` : this.tokenClass(c.ro, k, h0);
      k++;
    }
  }

  /** A rollout's card: its head (correctness, id, reward, advantage, α, length) and its tokens in chunks. */
  private rolloutCard(ro: RolloutRef, width: number, eagerPx: number, into: ChunkBlock[]): HTMLElement {
    const m = ro.meta;
    // A long rollout takes a row of its own, at the full width (styles.css `.rollout.long`).
    const long = isLong(ro);
    const el = h('div', long ? 'rollout long' : 'rollout');
    if (long) width = fullTextWidth(this.listWidth || this.el.clientWidth || FALLBACK_LIST_WIDTH_PX, this.state.filter.grouped);
    el.setAttribute('role', 'listitem');
    // The rollout's context menu (package.json "webview/context") passes this to its commands: Compare Prompt
    // Across Steps… opens on this prompt and step.
    const runDir = this.state.run?.runDir;
    if (runDir) el.dataset.vscodeContext = JSON.stringify({ webviewSection: 'rollout', runDir, step: ro.batch.step, group: m.group });
    const head = h('div', 'rollout-head');
    const correct = isCorrect(m) === true;
    head.append(h('span', `badge ${correct ? 'ok' : 'bad'}`, correct ? '✓' : '✗'));
    const rid = h('span', 'rollout-id');
    rid.textContent = displayString(m.id);
    head.append(rid);
    head.append(h('span', 'stat', `R ${fmt(m.reward)}`));
    const advDef = signalDef('advantage');
    const adv = h('span', `stat chip ${binClass(advDef, advantageHi(this.state), m.advantage)}`, `A ${signed(m.advantage)}`);
    adv.title = 'Outcome advantage Aᵢ (coloured on the shared advantage scale)';
    head.append(adv);
    if (m.alpha !== undefined) head.append(h('span', 'stat', `α ${fmt(m.alpha)}`));
    head.append(h('span', 'stat dim', `${tokenCount(ro)} tok`));
    el.append(head);
    const tokens = h('div', 'tokens');
    tokens.tabIndex = 0;
    tokens.setAttribute('aria-label', `Tokens of rollout ${displayString(m.id)}: arrow keys move between tokens and show their fields`);
    const n = tokenCount(ro);
    const text = this.state.filter.text;
    const matches = text ? new Set(textMatches(ro, text)) : undefined;
    let y = 0;
    for (let from = 0; from < n || from === 0; from += CHUNK) {
      const to = Math.min(n, from + CHUNK);
      const estimate = estimateChunkHeight(ro, from, to, width);
      const est = Math.round(estimate * this.calibration.factor);
      const c: ChunkBlock = { kind: 'chunk', el: h('span', 'chunk'), ro, from, to, built: false, matches, estimate };
      this.blockOf.set(c.el, c);
      into.push(c);
      tokens.append(c.el);
      if (y < eagerPx) this.buildChunk(c);
      else c.el.style.height = `${est}px`;
      y += est;
      if (to >= n) break;
    }
    this.chunksOf.set(tokens, into.slice(into.length - Math.max(1, Math.ceil(n / CHUNK))));
    this.sizes.observe(tokens);
    el.append(tokens);
    return el;
  }

  /** A group: (grouped) its head, prompt and image panel, then its rollouts' cards. */
  private buildGroup(g: GroupBlock, eagerPx = 0): void {
    const grp = g.group;
    const grouped = this.state.filter.grouped;
    g.el.style.height = '';
    g.el.replaceChildren();
    g.chunks = [];
    if (grouped) {
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
      g.el.append(promptDetails(grp.prompt, 120));
    }
    const bodyRow = h('div', grouped ? 'group-body' : 'group-body flat');
    if (grouped && grp.image) {
      bodyRow.append(imagePanel(this.on.loadImage(grp.image), this.state.run, hashString(grp.key)));
    } else if (grouped) {
      bodyRow.append(h('div', 'image-panel none', 'No image recorded'));
    }
    const cards = h('div', 'cards');
    const w = this.cardWidth(grp.rollouts.length);
    for (const ro of grp.rollouts) cards.append(this.rolloutCard(ro, w, eagerPx, g.chunks));
    bodyRow.append(cards);
    g.el.append(bodyRow);
    g.cards = cards;
    for (const c of g.chunks) if (!c.built) this.io.observe(c.el);
    g.built = true;
  }
}
