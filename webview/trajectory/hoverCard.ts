/**
 * The hover card: every per-token field of ALGORITHMS.md §7 (the catalogue, core/run/tokenFields.ts) for the
 * token under the pointer. Click a token to
 * pin the card (click again, or Escape, to unpin). Built with textContent only.
 */
import type { WebviewRunInfo } from '../../src/core/protocol/webview';
import { ROLLOUT_NUMBERS, fieldRows, type TokenField } from '../../src/core/run/tokenFields';
import { appendDisplayText } from '../text';
import { fmt, h, signed } from '../elements';
import { RolloutRef, alternatives, field, tokenCount, tokenText } from './model';

export class HoverCard {
  readonly el = h('div', 'hover-card');
  private pinned = false;
  current: { ro: RolloutRef; k: number } | undefined;

  constructor(private readonly run: () => WebviewRunInfo | undefined) {
    this.el.setAttribute('role', 'tooltip');
    this.el.hidden = true;
    document.body.appendChild(this.el);
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.hide(true);
    });
  }

  get isPinned(): boolean {
    return this.pinned;
  }

  togglePin(ro: RolloutRef, k: number, anchor: HTMLElement): void {
    if (this.pinned && this.current?.ro === ro && this.current.k === k) {
      this.pinned = false;
      this.el.classList.remove('pinned');
      return;
    }
    this.pinned = false;
    this.show(ro, k, anchor);
    this.pinned = true;
    this.el.classList.add('pinned');
    this.fill(ro, k);
  }

  show(ro: RolloutRef, k: number, anchor: HTMLElement): void {
    if (this.pinned) return;
    this.current = { ro, k };
    this.fill(ro, k);
    this.el.hidden = false;
    this.place(anchor);
  }

  hide(force = false): void {
    if (this.pinned && !force) return;
    this.pinned = false;
    this.el.classList.remove('pinned');
    this.el.hidden = true;
    this.current = undefined;
  }

  private place(anchor: HTMLElement): void {
    const r = anchor.getBoundingClientRect();
    const w = this.el.offsetWidth;
    const hgt = this.el.offsetHeight;
    let x = r.left;
    let y = r.bottom + 6;
    if (x + w > window.innerWidth - 8) x = Math.max(8, window.innerWidth - w - 8);
    if (y + hgt > window.innerHeight - 8) y = Math.max(8, r.top - hgt - 6);
    this.el.style.left = `${Math.round(x)}px`;
    this.el.style.top = `${Math.round(y)}px`;
  }

  private fill(ro: RolloutRef, k: number): void {
    const run = this.run();
    const el = this.el;
    el.replaceChildren();
    const head = h('div', 'hc-head');
    const tok = h('span', 'hc-token');
    appendDisplayText(tok, tokenText(ro, k));
    head.append(tok);
    const id = ro.batch.tokenIds?.[ro.start + k];
    head.append(h('span', 'hc-sub', `id ${id !== undefined && id >= 0 ? id : '—'} · token ${k + 1} of ${tokenCount(ro)}`));
    el.append(head);

    const table = h('div', 'hc-grid');
    const row = (label: string, value: string, title: string, cls?: string): void => {
      const l = h('span', 'hc-label', label);
      l.title = title;
      table.append(l, h('span', `hc-value${cls ? ` ${cls}` : ''}`, value));
    };
    // Every field of the catalogue, recorded or not ("—" says the run did not compute it).
    for (const r of fieldRows((def) => field(ro, def.column as TokenField, k), () => true, run?.algorithm)) {
      const missing = !Number.isFinite(r.value);
      const value = r.def.logProb
        ? missing ? '— not computed' : `${fmt(r.value)}  (p ${fmt(Math.exp(r.value))})`
        : r.def.states ? r.text ?? '—' : r.def.kind === 'diverging' && !r.def.scale?.centre ? signed(r.value) : fmt(r.value);
      const strong = r.def.column === 'tokenAdvantage';
      row(r.symbol, value, r.label, strong ? 'hc-strong' : undefined);
      if (strong) for (const n of ROLLOUT_NUMBERS) row(n.symbol, n.key === 'advantage' ? signed(ro.meta.advantage) : fmt(ro.meta.alpha), n.label);
    }
    el.append(table);

    const alts = alternatives(ro, k);
    if (alts.length) {
      el.append(h('div', 'hc-section', 'Top alternatives'));
      const list = h('div', 'hc-alts');
      for (const [text, lp] of alts.slice(0, 10)) {
        const t = h('span', 'hc-alt-token');
        appendDisplayText(t, String(text));
        list.append(t, h('span', 'hc-value', `${fmt(lp)}  (p ${fmt(Math.exp(lp))})`));
      }
      el.append(list);
    }
    el.append(h('div', 'hc-foot', this.pinned ? 'Pinned — click the token or press Escape to release' : 'Click to pin'));
  }
}
