/**
 * prpo-studio pretrain [--study] [--out DIR] [--seed S] [--target ACC] [--max-steps N] [--batch B] [--lr LR]
 * The supervised warm start of the tiny VLM on the shapes task (src/backend/trainer/pretrain.ts); writes
 * weights.safetensors and config.json to models/tiny-vlm-shapes by default. `npm run pretrain` runs it.
 * `--study`: the study's task (studyShapesConfig) and stopping rule (text-determined tokens learned:
 * teacher-forced non-perceptual top-1 ≥ 0.98, at most 1500 steps), into models/tiny-vlm-shapes-study, with
 * what RL starts from measured on the first 1024 validation prompts (config.json `pretrain.startMeasures`).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { BUILTIN_MODEL } from '../backend/trainer/model';
import { defaultPretrainSettings, pretrain, startMeasures, writeModelFolder } from '../backend/trainer/pretrain';
import { ShapesTask, studyShapesConfig } from '../backend/task/shapes';
import { defaultEngineFactory } from '../backend/trainer/trainer';
import { UsageError, intOption, parse } from './args';
import { reportStartError } from './train';

const USAGE = 'usage: prpo-studio pretrain [--study] [--out DIR] [--seed S] [--target ACC] [--max-steps N] [--batch B] [--lr LR]';

/** The study's model folder name (docs/study.md). */
export const STUDY_MODEL = 'tiny-vlm-shapes-study';

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
      study: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    const study = values.study === true;
    const base = defaultPretrainSettings();
    const d = study ? { ...base, task: studyShapesConfig(), stopAt: 'textLearned' as const, maxSteps: 1500 } : base;
    const name = study ? STUDY_MODEL : BUILTIN_MODEL;
    const settings = {
      ...d,
      seed: intOption(values.seed, 'seed', 0, d.seed),
      targetAccuracy: numberOption(values.target, 'target', d.targetAccuracy, 0, 1),
      textTop1Target: study ? numberOption(values.target, 'target', d.textTop1Target, 0, 1) : d.textTop1Target,
      maxSteps: intOption(values['max-steps'], 'max-steps', 1, d.maxSteps),
      batchSize: intOption(values.batch, 'batch', 1, d.batchSize),
      lr: numberOption(values.lr, 'lr', d.lr, 0, 1),
    };
    const out = resolve(values.out ?? join(packageRoot(), 'models', name));
    const t0 = Date.now();
    const log = (line: string) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);
    const rule = study ? `teacher-forced non-perceptual top-1 ${settings.textTop1Target}` : `val accuracy ${settings.targetAccuracy}`;
    log(`pretraining ${name}: seed ${settings.seed}, batch ${settings.batchSize}, lr ${settings.lr}, stop at ${rule} (≤ ${settings.maxSteps} steps)`);
    const result = await pretrain(settings, defaultEngineFactory, log);
    let extra: Record<string, unknown> = {};
    if (study) {
      const task = new ShapesTask(settings.task);
      const measured = await startMeasures(result.engine, task, Array.from({ length: 1024 }, (_, i) => task.example('val', i)));
      log(`RL start (greedy, 1024 val prompts): ${JSON.stringify(measured)}`);
      extra = { startMeasures: measured };
    }
    writeModelFolder(out, name, result, settings, extra);
    log(`wrote ${out}: ${result.steps} steps, val accuracy ${(result.valAccuracy * 100).toFixed(1)}%`);
    await result.engine.dispose();
    return 0;
  } catch (e) {
    return reportStartError(e, USAGE);
  }
}
