/**
 * Pointer and keyboard access to a token's fields. Pointer: hovering a token shows its card, a click pins it.
 * Keyboard: Tab to a rollout's tokens, ←/→ (Home/End) move a cursor token whose card is shown, Escape leaves.
 */
import { RolloutRef, tokenCount } from './model';
import { HoverCard } from './hoverCard';
import { TokSpan, WindowedList } from './windowedList';

export function attachTokenCursor(list: WindowedList, card: HoverCard): void {
  const el = list.el;
  let cursor: { ro: RolloutRef; k: number; span: HTMLElement } | undefined;

  el.addEventListener('mouseover', (e) => {
    const t = e.target as HTMLElement;
    const tok = t.closest?.('.tok') as TokSpan | null;
    if (!tok) return;
    const c = list.chunkAt(tok.parentElement!);
    if (c) card.show(c.ro, tok.k, tok);
  });
  el.addEventListener('mouseout', (e) => {
    const to = e.relatedTarget as HTMLElement | null;
    if (!to || !to.closest?.('.tok')) card.hide();
  });
  el.addEventListener('click', (e) => {
    const tok = (e.target as HTMLElement).closest?.('.tok') as TokSpan | null;
    if (!tok) return;
    const c = list.chunkAt(tok.parentElement!);
    if (c) card.togglePin(c.ro, tok.k, tok);
  });
  el.addEventListener('scroll', () => {
    if (!card.isPinned && !cursor) card.hide();
  });

  function moveCursor(tokensEl: HTMLElement, k: number): void {
    const first = list.chunkAt(tokensEl.firstElementChild);
    if (!first) return;
    const ro = first.ro;
    k = Math.max(0, Math.min(tokenCount(ro) - 1, k));
    const span = list.tokenSpan(tokensEl, k);
    if (!span) return;
    cursor?.span.classList.remove('cursor');
    cursor = { ro, k, span };
    span.classList.add('cursor');
    span.scrollIntoView({ block: 'nearest' });
    card.hide(true);
    card.show(ro, k, span);
  }
  function leave(): void {
    cursor?.span.classList.remove('cursor');
    cursor = undefined;
    card.hide(true);
  }
  el.addEventListener('keydown', (e) => {
    const tokensEl = (e.target as HTMLElement).closest?.('.tokens') as HTMLElement | null;
    if (!tokensEl) return;
    const k = cursor && tokensEl.contains(cursor.span) ? cursor.k : -1;
    const moves: Record<string, number> = { ArrowRight: k + 1, ArrowLeft: k - 1, Home: 0, End: Number.MAX_SAFE_INTEGER };
    if (e.key in moves) {
      e.preventDefault();
      moveCursor(tokensEl, k < 0 && e.key === 'ArrowLeft' ? 0 : moves[e.key]);
    } else if (e.key === 'Escape' && cursor) {
      leave();
    }
  });
  el.addEventListener('focusout', (e) => {
    if (cursor && !el.contains(e.relatedTarget as Node | null)) leave();
  });
}
