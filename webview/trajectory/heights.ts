/**
 * Height estimates for blocks that are not built: the windowed list gives an unbuilt group or chunk this height
 * so the scrollbar and the observer see roughly the right page. Pure arithmetic on the styles.css box model, no
 * DOM reads (reading sizes per card would force a layout each time). An estimate only has to be close: a block
 * takes its real height once built, and keeps its measured height when emptied.
 */
import { Group, RolloutRef, tokenCount } from './model';

/** `.tokens { line-height: 20px }` in styles.css. */
export const LINE_HEIGHT_PX = 20;
/** The advance of one character of the 13 px editor font (`.tokens`' default size; monospace ≈ 0.6 em). */
export const CHAR_WIDTH_PX = 7.8;
/** Fewest characters a line is assumed to hold, however narrow the card. */
const MIN_CHARS_PER_LINE = 10;
/** The list's width before it has been laid out (clientWidth 0). */
export const FALLBACK_LIST_WIDTH_PX = 900;
/** Horizontal space around the cards, ungrouped: the list's side padding (`.list`, 2 × 12 px). */
const FLAT_CHROME_PX = 24;
/** Grouped: the list's padding, plus the image column beside the cards (`.group-body`: 170 px and a 12 px gap), rounded up. */
const GROUPED_CHROME_PX = 210;
/** A card's least width in a group's grid (`.cards`: minmax(280px, 1fr), 10 px gap), rounded up. */
const MIN_CARD_PX = 300;
/** A card's width less its text's: `.tokens`' side padding (2 × 8 px). */
const CARD_PADDING_PX = 16;
/** A card's height besides its text: the `.rollout-head` line and `.tokens`' vertical padding (2 × 6 px). */
const CARD_HEAD_PX = 44;
/** A group's height besides its cards: its padding (`.group`, 10 + 12 px), head line and prompt summary. */
const GROUP_HEAD_PX = 56;
/** A grouped group with an image is at least as tall as its image panel (160 px image, view buttons, caption). */
const IMAGE_PANEL_PX = 290;

const chrome = (grouped: boolean): number => (grouped ? GROUPED_CHROME_PX : FLAT_CHROME_PX);

/** A rollout this long takes a row of its own in its group's grid (`.rollout.long`), at the full width. */
export const LONG_ROLLOUT_TOKENS = 1000;
export const isLong = (ro: RolloutRef): boolean => tokenCount(ro) >= LONG_ROLLOUT_TOKENS;

/** The text width of a card that takes the whole row. */
export function fullTextWidth(listWidth: number, grouped: boolean): number {
  return listWidth - chrome(grouped) - CARD_PADDING_PX;
}

/**
 * The measured over the estimated height of the chunks built so far: the estimate's character width and line
 * breaks are approximations (the editor font, wide characters, escapes), so unbuilt blocks are scaled by what
 * the built ones turned out to be, and the scrollbar stays true as parts render.
 */
export class HeightCalibration {
  private measured = 0;
  private estimated = 0;
  private readonly last = new WeakMap<object, [number, number]>();

  /** The built text of `key` (a rollout's card) measures `measured` px where `estimated` was estimated; replaces its last. */
  set(key: object, estimated: number, measured: number): void {
    const prev = this.last.get(key);
    if (prev) {
      this.estimated -= prev[0];
      this.measured -= prev[1];
      this.last.delete(key);
    }
    if (!(estimated > 0) || !(measured > 0)) return;
    this.last.set(key, [estimated, measured]);
    this.estimated += estimated;
    this.measured += measured;
  }

  /** The factor to multiply estimates by (1 until something is measured; bounded against outliers). */
  get factor(): number {
    if (this.estimated < 200) return 1;
    return Math.min(4, Math.max(0.25, this.measured / this.estimated));
  }

}

/** Estimated height of tokens [from, to) of a rollout wrapped at `width` px: its characters and newlines. */
export function estimateChunkHeight(ro: RolloutRef, from: number, to: number, width: number): number {
  const b = ro.batch;
  const chars = b.textStart[ro.start + to] - b.textStart[ro.start + from];
  let newlines = 0;
  const text = b.text;
  for (let i = b.textStart[ro.start + from]; i < b.textStart[ro.start + to]; i++) if (text.charCodeAt(i) === 10) newlines++;
  const perLine = Math.max(MIN_CHARS_PER_LINE, Math.floor(width / CHAR_WIDTH_PX));
  return Math.ceil(chars / perLine + newlines + 1) * LINE_HEIGHT_PX;
}

/** The text width of each of a group's `n` cards in a list `listWidth` px wide. */
export function cardTextWidth(listWidth: number, grouped: boolean, n: number): number {
  const avail = listWidth - chrome(grouped);
  if (!grouped || n <= 1) return avail;
  const cols = Math.max(1, Math.min(n, Math.floor(avail / MIN_CARD_PX)));
  return avail / cols - CARD_PADDING_PX;
}

/** Estimated height of a group whose cards' text is `textWidth` px wide, in rows of the tallest card. */
export function estimateGroupHeight(g: Group, grouped: boolean, textWidth: number, listWidth: number): number {
  const cols = Math.max(1, Math.round((listWidth - chrome(grouped)) / (textWidth + CARD_PADDING_PX)));
  const rows: number[] = [];
  // Rows as CSS grid places the cards: in order, `cols` to a row; a long rollout on a row of its own.
  let col = 0;
  for (const ro of g.rollouts) {
    const long = g.rollouts.length > 1 && isLong(ro);
    const hgt = estimateChunkHeight(ro, 0, tokenCount(ro), long ? fullTextWidth(listWidth, grouped) : textWidth) + CARD_HEAD_PX;
    if (long) {
      rows.push(hgt);
      col = cols;
    } else if (col === 0 || col >= cols) {
      rows.push(hgt);
      col = 1;
    } else {
      rows[rows.length - 1] = Math.max(rows[rows.length - 1], hgt);
      col++;
    }
  }
  const total = rows.reduce((a, b) => a + b, 0);
  return Math.max(total + GROUP_HEAD_PX, grouped && g.image ? IMAGE_PANEL_PX : 0);
}
