/**
 * The hover card: every per-token field of ALGORITHMS.md §7 for the token under the pointer. Click a token to
 * pin the card (click again, or Escape, to unpin). Built with textContent only.
 */
import type { RunInfo } from '../../src/core/protocol/webview';
import { appendDisplayText } from '../text';
import { fmt, h, signed } from '../elements';
import { RolloutRef, alternatives, field, tokenCount, tokenText } from './model';

export class HoverCard {
  readonly el = h('div', 'hover-card');
  private pinned = false;
  current: { ro: RolloutRef; k: number } | undefined;

  constructor(private readonly run: () => RunInfo | undefined) {
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
    const row = (label: string, value: string, title?: string, cls?: string): void => {
      const l = h('span', 'hc-label', label);
      if (title) l.title = title;
      table.append(l, h('span', `hc-value${cls ? ` ${cls}` : ''}`, value));
    };
    const f = (name: Parameters<typeof field>[1]): number => field(ro, name, k);
    const logp = (name: Parameters<typeof field>[1], view: string): void => {
      const v = f(name);
      if (Number.isFinite(v)) row(`log p (${view})`, `${fmt(v)}  (p ${fmt(Math.exp(v))})`);
      else row(`log p (${view})`, '— not computed');
    };
    logp('logpImage', 'image, old');
    logp('logpBlind', 'blind');
    logp('logpPerturbed', 'perturbed');
    logp('logpMild', 'mild');
    row('S', fmt(f('S')), 'Dependency k3(image, perturbed) — VPPO; PGPO uses k3(image, blind)');
    row('G', fmt(f('G')), 'Grounding k3(image, blind) — PRPO-R');
    row('U', fmt(f('U')), 'Instability k3(image, mild) — PRPO-R');
    row('RVD', fmt(f('rvd')), 'Robust visual dependency — PRPO-R (reconstruction)');
    row('A_i', signed(ro.meta.advantage), 'Outcome advantage of the rollout (GRPO, §1)');
    row('α_i', fmt(ro.meta.alpha), 'VPPO trajectory weight (TAS, §2)');
    const alg = run?.algorithm;
    row(alg === 'pgpo' ? 'ω̃_t' : alg === 'prpo' ? 'w_t' : 'weight', fmt(f('weight')), 'Reshaping weight: PGPO ω̃_t (§3) or PRPO-R w_t (§4)');
    const m = f('mask');
    row('mask m', Number.isFinite(m) ? (m >= 0.5 ? '1 (kept)' : '0 (masked)') : '—', 'VPPO token mask (TGF, §2)');
    row('Ã', signed(f('tokenAdvantage')), 'Final token advantage, the factor of the ratio in the loss', 'hc-strong');
    const p = f('perceptual');
    row('perceptual', Number.isFinite(p) ? (p >= 0.5 ? 'yes (ground truth)' : 'no') : '—', 'Built-in task ground truth: the token is determined by the image');
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
