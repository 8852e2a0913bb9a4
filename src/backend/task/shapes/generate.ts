/**
 * The "shapes" task: seeded procedural images of coloured shapes on a grid, questions with verifiable
 * answers, and reasoning traces that name what is seen before answering.
 *
 * Every example is a pure function of (task seed, split, index). Train and validation never share an image:
 * the split of a scene is decided by a hash of its layout, and each split only keeps the scenes that hash to it.
 *
 * Ground-truth perceptual flags: a trace token is perceptual when the image decides it — given the question
 * and the correct trace so far, another image could make a different token correct at that position. So in
 * "see red circle red square answer 2" the listed objects and the decision to stop listing ("answer") are
 * perceptual, while the count "2" is not (it follows from the trace already written).
 */
import { hashString } from '../../../core/random';
import { Rng } from '../../rng';
import { BOS, COLORS, EOS, SHAPES, Tokenizer, type Color, type Shape } from './vocab';

export type QuestionType = 'countColor' | 'countShape' | 'countAll' | 'colorAt' | 'shapeAt' | 'compare' | 'exists';
export const QUESTION_TYPES: readonly QuestionType[] = ['countColor', 'countShape', 'countAll', 'colorAt', 'shapeAt', 'compare', 'exists'];

export type Split = 'train' | 'val';

export interface ShapesConfig {
  /** Image side in pixels (square, RGB). */
  imageSize: number;
  /** The model's patch size: recorded so the model config can be derived (image tokens = (imageSize/patch)^2). */
  patchSize: number;
  /** Grid sizes drawn uniformly from gridMin..gridMax (cells per side). */
  gridMin: number;
  gridMax: number;
  /** Objects per image, uniformly from minObjects..maxObjects (at most one per cell). */
  minObjects: number;
  maxObjects: number;
  questionTypes: QuestionType[];
  /** Share of scene layouts that belong to the validation split. */
  valFraction: number;
  /** The task's own seed: fixes the example streams (independent of a run's seed). */
  seed: number;
  /**
   * Reward-irrelevant filler words written after `see` in every reference trace (drawn uniformly from
   * FILLER_WORDS, flagged not perceptual): they dilute the perceptual tokens, as the long chains of thought
   * of the papers do. 0 (the shipped model's task) writes none.
   */
  fillers: number;
  /**
   * countColor/countShape: probability that the queried colour/shape is one present in the image (so the
   * answer needs the image more often than "0"). 0 (the shipped model's task) draws it uniformly.
   */
  countPresentProb: number;
}

/**
 * The filler words: words of the vocabulary that no reference trace uses otherwise, so no new token is
 * needed and a model trained without fillers keeps the same vocabulary.
 */
export const FILLER_WORDS: readonly string[] = ['a', 'is', 'there', 'at'];

export const defaultShapesConfig = (): ShapesConfig => ({
  imageSize: 32,
  patchSize: 8,
  gridMin: 2,
  gridMax: 4,
  minObjects: 1,
  maxObjects: 4,
  questionTypes: [...QUESTION_TYPES],
  valFraction: 0.2,
  seed: 1234,
  fillers: 0,
  countPresentProb: 0,
});

/**
 * The study's task (docs/study.md): fillers so perceptual tokens are sparse (15 %), count questions
 * about what is present, and no `exists` (its answer is mostly decided by the question's prior).
 */
export const studyShapesConfig = (): ShapesConfig => ({
  ...defaultShapesConfig(),
  questionTypes: QUESTION_TYPES.filter((q) => q !== 'exists'),
  // 12 fillers: perceptual tokens ≈ 15 % of reference tokens (19 % with 8), and prompt + response ≤ 32.
  fillers: 12,
  countPresentProb: 0.75,
});

export interface SceneObject {
  row: number;
  col: number;
  color: Color;
  shape: Shape;
}

export interface Scene {
  grid: number;
  objects: SceneObject[];
}

export interface ShapesExample {
  /** `${split}-${index}`: stable, used for image file names. */
  id: string;
  split: Split;
  index: number;
  type: QuestionType;
  scene: Scene;
  /** CHW, values in [0, 1]. */
  image: Float32Array;
  question: string[];
  /** Prompt token ids: <bos> then the question. */
  prompt: number[];
  /** The reference trace (words), ending with <eos>. */
  trace: string[];
  /** Reference trace token ids. */
  target: number[];
  /** Per trace token: 1 when the image decides it (see the file comment). */
  perceptual: number[];
  answer: string;
}

const RGB: Record<Color, [number, number, number]> = {
  red: [0.9, 0.12, 0.1],
  green: [0.1, 0.75, 0.2],
  blue: [0.15, 0.3, 0.95],
  yellow: [0.95, 0.88, 0.1],
};
const GRID_LINE = 0.3;

export class ShapesTask {
  readonly config: ShapesConfig;
  readonly tokenizer: Tokenizer;

  constructor(config: Partial<ShapesConfig> = {}, tokenizer = new Tokenizer()) {
    this.config = { ...defaultShapesConfig(), ...config };
    this.tokenizer = tokenizer;
    const c = this.config;
    if (c.imageSize % c.patchSize !== 0) throw new Error(`shapes: imageSize ${c.imageSize} is not a multiple of patchSize ${c.patchSize}`);
    if (c.gridMin < 1 || c.gridMax < c.gridMin || c.gridMax > 9) throw new Error('shapes: need 1 ≤ gridMin ≤ gridMax ≤ 9');
    if (c.minObjects < 0 || c.maxObjects < c.minObjects) throw new Error('shapes: need 0 ≤ minObjects ≤ maxObjects');
    if (c.questionTypes.length === 0) throw new Error('shapes: questionTypes is empty');
    for (const q of c.questionTypes) if (!QUESTION_TYPES.includes(q)) throw new Error(`shapes: unknown question type '${q}'`);
    if (!Number.isInteger(c.fillers) || c.fillers < 0) throw new Error(`shapes: fillers must be an integer ≥ 0, got ${c.fillers}`);
    if (!(c.countPresentProb >= 0 && c.countPresentProb <= 1)) throw new Error(`shapes: countPresentProb must be in [0, 1], got ${c.countPresentProb}`);
  }

  /** The longest prompt (with <bos>) and response (with <eos>) the task produces. */
  get maxPromptTokens(): number {
    return 8;
  }
  get maxResponseTokens(): number {
    return 1 + this.config.fillers + 2 * Math.min(this.config.maxObjects, this.config.gridMax ** 2) + 3;
  }

  /** Which split a scene layout belongs to (a pure function of the layout and the task seed). */
  splitOf(scene: Scene): Split {
    const key = `${this.config.seed}|${scene.grid}|${scene.objects.map((o) => `${o.row},${o.col},${o.color},${o.shape}`).join(';')}`;
    return hashString(key) % 10000 < this.config.valFraction * 10000 ? 'val' : 'train';
  }

  example(split: Split, index: number): ShapesExample {
    for (let attempt = 0; ; attempt++) {
      const rng = new Rng(this.config.seed, `shapes:${split}:${index}:${attempt}`);
      const scene = this.drawScene(rng);
      if (this.splitOf(scene) !== split) continue;
      const image = this.render(scene, rng);
      const { type, question, trace, perceptual, answer } = this.drawQuestion(scene, rng);
      return {
        id: `${split}-${String(index).padStart(6, '0')}`,
        split,
        index,
        type,
        scene,
        image,
        question,
        prompt: this.tokenizer.encode([BOS, ...question]),
        trace,
        target: this.tokenizer.encode(trace),
        perceptual,
        answer,
      };
    }
  }

  private drawScene(rng: Rng): Scene {
    const { gridMin, gridMax, minObjects, maxObjects } = this.config;
    const grid = gridMin + rng.int(gridMax - gridMin + 1);
    const cells = grid * grid;
    const n = Math.min(cells, minObjects + rng.int(maxObjects - minObjects + 1));
    // Choose n distinct cells (partial Fisher–Yates), then list the objects in reading order.
    const order = Array.from({ length: cells }, (_, i) => i);
    for (let i = 0; i < n; i++) {
      const j = i + rng.int(cells - i);
      [order[i], order[j]] = [order[j], order[i]];
    }
    const objects = order
      .slice(0, n)
      .sort((a, b) => a - b)
      .map((cell) => ({ row: Math.floor(cell / grid) + 1, col: (cell % grid) + 1, color: rng.pick(COLORS), shape: rng.pick(SHAPES) }));
    return { grid, objects };
  }

  /** Draws the scene: black background, faint grid lines, each shape with a little size and colour jitter. */
  render(scene: Scene, rng: Rng): Float32Array {
    const S = this.config.imageSize;
    const img = new Float32Array(3 * S * S);
    const set = (x: number, y: number, rgb: readonly number[]) => {
      for (let ch = 0; ch < 3; ch++) img[ch * S * S + y * S + x] = rgb[ch];
    };
    const edge = (k: number) => Math.floor((k * S) / scene.grid);
    for (let k = 1; k < scene.grid; k++) {
      for (let t = 0; t < S; t++) {
        set(edge(k), t, [GRID_LINE, GRID_LINE, GRID_LINE]);
        set(t, edge(k), [GRID_LINE, GRID_LINE, GRID_LINE]);
      }
    }
    for (const o of scene.objects) {
      const x0 = edge(o.col - 1) + 1, x1 = edge(o.col);
      const y0 = edge(o.row - 1) + 1, y1 = edge(o.row);
      const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
      const r = (Math.min(x1 - x0, y1 - y0) / 2) * (0.8 + 0.2 * rng.next());
      const rgb = RGB[o.color].map((v) => Math.min(1, Math.max(0, v + (rng.next() - 0.5) * 0.12)));
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
          if (inside(o.shape, dx, dy, r)) set(x, y, rgb);
        }
      }
    }
    return img;
  }

  private drawQuestion(scene: Scene, rng: Rng): { type: QuestionType; question: string[]; trace: string[]; perceptual: number[]; answer: string } {
    const type = rng.pick(this.config.questionTypes);
    const trace = new TraceBuilder();
    const objs = scene.objects;
    const fillers = this.config.fillers;
    // `see`, then the filler words (none in the shipped task: no draws, so its examples are unchanged).
    const see = () => {
      trace.push('see', 0);
      for (let k = 0; k < fillers; k++) trace.push(rng.pick(FILLER_WORDS), 0);
      return trace;
    };
    // The queried colour/shape of a count question: one present in the image with countPresentProb.
    const queried = <T extends string>(all: readonly T[], present: (o: SceneObject) => T): T =>
      this.config.countPresentProb > 0 && objs.length > 0 && rng.next() < this.config.countPresentProb ? present(rng.pick(objs)) : rng.pick(all);
    const listObjects = (list: SceneObject[], colorFlag: number, shapeFlag: number, answerFlag: number): void => {
      see();
      if (list.length === 0) trace.push('none', 1);
      for (const o of list) trace.push(o.color, colorFlag).push(o.shape, shapeFlag);
      trace.push('answer', list.length === 0 ? 0 : answerFlag).push(String(list.length), 0);
    };
    let question: string[];
    switch (type) {
      case 'countColor': {
        const color = queried(COLORS, (o) => o.color);
        question = ['how', 'many', color, '?'];
        listObjects(objs.filter((o) => o.color === color), 1, 1, 1);
        break;
      }
      case 'countShape': {
        const shape = queried(SHAPES, (o) => o.shape);
        question = ['how', 'many', shape, '?'];
        listObjects(objs.filter((o) => o.shape === shape), 1, 0, 1);
        break;
      }
      case 'countAll': {
        question = ['how', 'many', 'shapes', '?'];
        listObjects(objs, 1, 1, 1);
        break;
      }
      case 'colorAt':
      case 'shapeAt': {
        // Ask about an occupied cell most of the time, so "none" is not the usual answer.
        const g = scene.grid;
        const target = objs.length > 0 && rng.next() < 0.75 ? rng.pick(objs) : { row: 1 + rng.int(g), col: 1 + rng.int(g) };
        const o = objs.find((p) => p.row === target.row && p.col === target.col);
        question = [type === 'colorAt' ? 'color' : 'shape', 'at', 'row', String(target.row), 'col', String(target.col), '?'];
        see();
        if (o) trace.push(o.color, 1).push(o.shape, 1);
        else trace.push('empty', 1);
        trace.push('answer', 0).push(o ? (type === 'colorAt' ? o.color : o.shape) : 'none', 0);
        break;
      }
      case 'compare': {
        const a = rng.pick(COLORS);
        const b = rng.pick(COLORS.filter((c) => c !== a));
        const na = objs.filter((o) => o.color === a).length;
        const nb = objs.filter((o) => o.color === b).length;
        question = ['more', a, 'or', b, '?'];
        see().push(a, 0).push(String(na), 1).push(b, 0).push(String(nb), 1);
        trace.push('answer', 0).push(na > nb ? a : nb > na ? b : 'same', 0);
        break;
      }
      case 'exists': {
        // Half the time ask about an object that is there.
        const present = objs.length > 0 && rng.next() < 0.5;
        const q = present ? rng.pick(objs) : { color: rng.pick(COLORS), shape: rng.pick(SHAPES) };
        const found = objs.some((o) => o.color === q.color && o.shape === q.shape);
        question = ['is', 'there', 'a', q.color, q.shape, '?'];
        see();
        if (found) trace.push(q.color, 1).push(q.shape, 0);
        else trace.push('none', 1);
        trace.push('answer', 0).push(found ? 'yes' : 'no', 0);
        break;
      }
    }
    trace.push(EOS, 0);
    return { type, question, trace: trace.words, perceptual: trace.flags, answer: trace.words[trace.words.length - 2] };
  }
}

const COLOR_WORDS: ReadonlySet<string> = new Set(COLORS);
const SHAPE_WORDS: ReadonlySet<string> = new Set(SHAPES);
const isNumber = (w: string) => /^[0-9]$/.test(w);

/**
 * Ground-truth perceptual flags for any response to a question of `type` (a sampled one too), by the role
 * of each word: the same rules that label the reference traces. Before "answer", the words that report
 * what is seen are perceptual unless the question already fixes them (the shape of "how many circle ?",
 * the colours of "more red or blue ?"); "answer" itself is perceptual where it ends a list of objects (the
 * image decides when the list ends); everything after "answer" follows from the trace.
 */
export function perceptualFlags(type: QuestionType, words: readonly string[]): number[] {
  let afterAnswer = false;
  let listed = false;
  return words.map((w) => {
    if (afterAnswer) return 0;
    if (w === 'answer') {
      afterAnswer = true;
      return listed && (type === 'countColor' || type === 'countShape' || type === 'countAll') ? 1 : 0;
    }
    const color = COLOR_WORDS.has(w), shape = SHAPE_WORDS.has(w);
    if (color || shape) listed = true;
    if (w === 'none' || w === 'empty') return type === 'compare' ? 0 : 1;
    switch (type) {
      case 'countColor':
      case 'countAll':
      case 'colorAt':
      case 'shapeAt':
        return color || shape ? 1 : 0;
      case 'countShape':
      case 'exists':
        return color ? 1 : 0;
      case 'compare':
        return isNumber(w) ? 1 : 0;
    }
  });
}

class TraceBuilder {
  words: string[] = [];
  flags: number[] = [];
  push(word: string, perceptual: number): this {
    this.words.push(word);
    this.flags.push(perceptual);
    return this;
  }
}

function inside(shape: Shape, dx: number, dy: number, r: number): boolean {
  switch (shape) {
    case 'circle':
      return dx * dx + dy * dy <= r * r;
    case 'square':
      return Math.abs(dx) <= r * 0.8 && Math.abs(dy) <= r * 0.8;
    case 'triangle': {
      // Apex up: the half-width grows from 0 at the top to r at the bottom.
      const v = (dy + r) / (2 * r);
      return v >= 0 && v <= 1 && Math.abs(dx) <= r * v;
    }
    case 'cross':
      return (Math.abs(dx) <= r * 0.3 && Math.abs(dy) <= r) || (Math.abs(dy) <= r * 0.3 && Math.abs(dx) <= r);
  }
}
