/**
 * The shapes task's word-level tokenizer: a small fixed vocabulary, one token per word. Token ids are the
 * positions in VOCAB, so the list is append-only (shipped weights depend on it).
 */

export const COLORS = ['red', 'green', 'blue', 'yellow'] as const;
export const SHAPES = ['circle', 'square', 'triangle', 'cross'] as const;
export type Color = (typeof COLORS)[number];
export type Shape = (typeof SHAPES)[number];

export const PAD = '<pad>';
export const BOS = '<bos>';
export const EOS = '<eos>';

export const VOCAB: readonly string[] = [
  PAD, BOS, EOS,
  // structure of questions and traces
  'see', 'answer', 'none', 'empty', 'how', 'many', '?', 'color', 'shape', 'at', 'row', 'col',
  'more', 'or', 'same', 'is', 'there', 'a', 'yes', 'no', 'shapes',
  ...COLORS,
  ...SHAPES,
  '0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
];

export class Tokenizer {
  readonly vocab: readonly string[];
  private readonly ids: Map<string, number>;
  readonly pad: number;
  readonly bos: number;
  readonly eos: number;

  constructor(vocab: readonly string[] = VOCAB) {
    this.vocab = vocab;
    this.ids = new Map(vocab.map((w, i) => [w, i]));
    this.pad = this.id(PAD);
    this.bos = this.id(BOS);
    this.eos = this.id(EOS);
  }

  get size(): number {
    return this.vocab.length;
  }

  id(word: string): number {
    const id = this.ids.get(word);
    if (id === undefined) throw new Error(`shapes tokenizer: '${word}' is not in the vocabulary`);
    return id;
  }

  encode(words: readonly string[]): number[] {
    return words.map((w) => this.id(w));
  }

  /** Token texts; ids outside the vocabulary decode as `<unk:ID>` (a policy may emit anything). */
  decode(ids: readonly number[]): string[] {
    return ids.map((i) => this.vocab[i] ?? `<unk:${i}>`);
  }
}
