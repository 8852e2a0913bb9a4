/**
 * prpo-studio pretrain [--out DIR] [--seed S] [--target ACC] [--max-steps N] [--batch B] [--lr LR]
 * The supervised warm start of the tiny VLM on the shapes task (src/backend/trainer/pretrain.ts); writes
 * weights.safetensors and config.json to models/tiny-vlm-shapes by default. `npm run pretrain` runs it.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { BUILTIN_MODEL } from '../backend/trainer/model';
import { defaultPretrainSettings, pretrain, writeModelFolder } from '../backend/trainer/pretrain';
import { defaultEngineFactory } from '../backend/trainer/trainer';
import { UsageError, intOption, parse } from './args';
import { reportStartError } from './train';

const USAGE = 'usage: prpo-studio pretrain [--out DIR] [--seed S] [--target ACC] [--max-steps N] [--batch B] [--lr LR]';

/** The package root: the nearest parent folder of this file with a package.json (dist/ or src/cli/). */
function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

function numberOption(v: string | undefined, name: string, fallback: number, lo: number, hi: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < lo || n > hi) throw new UsageError(`--${name}: expected a number in [${lo}, ${hi}], got '${v}'`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const { values } = parse(argv, {
      out: { type: 'string' },
      seed: { type: 'string' },
      target: { type: 'string' },
      'max-steps': { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    const d = defaultPretrainSettings();
    const settings = {
      ...d,
      seed: intOption(values.seed, 'seed', 0, d.seed),
      targetAccuracy: numberOption(values.target, 'target', d.targetAccuracy, 0, 1),
      maxSteps: intOption(values['max-steps'], 'max-steps', 1, d.maxSteps),
      batchSize: intOption(values.batch, 'batch', 1, d.batchSize),
      lr: numberOption(values.lr, 'lr', d.lr, 0, 1),
    };
    const out = resolve(values.out ?? join(packageRoot(), 'models', BUILTIN_MODEL));
    const t0 = Date.now();
    const log = (line: string) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);
    log(`pretraining ${BUILTIN_MODEL}: seed ${settings.seed}, batch ${settings.batchSize}, lr ${settings.lr}, target val accuracy ${settings.targetAccuracy}`);
    const result = await pretrain(settings, defaultEngineFactory, log);
    writeModelFolder(out, BUILTIN_MODEL, result, settings);
    log(`wrote ${out}: ${result.steps} steps, val accuracy ${(result.valAccuracy * 100).toFixed(1)}%`);
    await result.engine.dispose();
    return 0;
  } catch (e) {
    return reportStartError(e, USAGE);
  }
}
