/**
 * prpo-studio export-task shapes --out DIR --n N [--seed S] [--split train|val] [--image-size PX]
 *
 * Writes the built-in shapes task as a dataset folder, the format the PyTorch backend (and a user's own data) uses,
 * so both backends train on the same task:
 *
 *   DIR/data.jsonl        one example per line:
 *                           {"id": "train-000000", "image": "images/train-000000.png", "prompt": "how many red ?",
 *                            "answer": "2", "perceptual": ["answer", "circle", "red", "square"],
 *                            "type": "countColor", "reference": "see red circle red square answer 2"}
 *                         `id`, `image` (relative to DIR), `prompt` and `answer` are what every dataset needs;
 *                         `perceptual` (optional) lists the words whose tokens depend on the image — here the words
 *                         of the reference trace that the image decides (src/backend/task/shapes/generate.ts);
 *                         `type` and `reference` (a correct response) are extra fields, kept as they are
 *   DIR/images/*.png      the task's images (RGB)
 *
 * Examples are a pure function of (task seed, split, index): the same arguments write the same files.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EOS, ShapesTask, type Split } from '../backend/task/shapes';
import { encodePng } from '../core/run/png';
import { UsageError, intOption, parse } from './args';

const USAGE = 'usage: prpo-studio export-task shapes --out DIR --n N [--seed S] [--split train|val] [--image-size PX]';

/** One line of data.jsonl. */
export interface DatasetLine {
  id: string;
  image: string;
  prompt: string;
  answer: string;
  /** Words whose tokens depend on the image (the PyTorch backend labels a response token 1 when its text is one). */
  perceptual: string[];
  type: string;
  reference: string;
}

export interface ExportOptions {
  out: string;
  n: number;
  /** The task's seed (fixes the example stream); the built-in task's default when omitted. */
  seed?: number;
  split?: Split;
  /** Image side in pixels (a multiple of 8); the built-in model's 32 when omitted. */
  imageSize?: number;
}

/** Writes the dataset folder and returns its lines. data.jsonl is written last, through a rename. */
export function exportShapes(opts: ExportOptions): DatasetLine[] {
  const task = new ShapesTask({ ...(opts.seed === undefined ? {} : { seed: opts.seed }), ...(opts.imageSize === undefined ? {} : { imageSize: opts.imageSize }) });
  const split = opts.split ?? 'train';
  const out = resolve(opts.out);
  mkdirSync(join(out, 'images'), { recursive: true });
  const S = task.config.imageSize;
  const lines: DatasetLine[] = [];
  for (let i = 0; i < opts.n; i++) {
    const ex = task.example(split, i);
    const image = `images/${ex.id}.png`;
    writeFileSync(join(out, image), encodePng(ex.image, S, S, 3));
    // The trace ends with <eos>, which is the model's stop token, not a word of the response.
    const words = ex.trace[ex.trace.length - 1] === EOS ? ex.trace.slice(0, -1) : ex.trace;
    lines.push({
      id: ex.id,
      image,
      prompt: ex.question.join(' '),
      answer: ex.answer,
      perceptual: [...new Set(words.filter((_, k) => ex.perceptual[k] === 1))].sort(),
      type: ex.type,
      reference: words.join(' '),
    });
  }
  const tmp = join(out, `.data.jsonl.${process.pid}.tmp`);
  writeFileSync(tmp, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  renameSync(tmp, join(out, 'data.jsonl'));
  return lines;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parse(
      argv,
      {
        out: { type: 'string' },
        n: { type: 'string' },
        seed: { type: 'string' },
        split: { type: 'string' },
        'image-size': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      true,
    );
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const [taskName, ...extra] = positionals;
    if (taskName !== 'shapes') throw new UsageError(taskName ? `unknown task '${taskName}' (the built-in task is 'shapes')` : 'name the task: shapes');
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
    if (!values.out) throw new UsageError('--out DIR is required');
    const split = values.split ?? 'train';
    if (split !== 'train' && split !== 'val') throw new UsageError(`--split: expected train or val, got '${split}'`);
    const imageSize = values['image-size'] === undefined ? undefined : intOption(values['image-size'], 'image-size', 8);
    if (imageSize !== undefined && imageSize % 8 !== 0) throw new UsageError(`--image-size: expected a multiple of 8, got ${imageSize}`);
    const lines = exportShapes({
      out: values.out,
      n: intOption(values.n, 'n', 1),
      seed: values.seed === undefined ? undefined : intOption(values.seed, 'seed', 0),
      split,
      imageSize,
    });
    process.stdout.write(`${resolve(values.out)}\n`);
    process.stderr.write(`wrote ${lines.length} ${split} examples of the shapes task (data.jsonl + images/)\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`prpo-studio export-task: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
}
