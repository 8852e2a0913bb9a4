/**
 * prpo-studio train --preset prpo --steps N --checkpoint-every K --seed S --runs-dir DIR
 *                   [--ep cpu|cuda|webgpu] [--config FILE] [--name NAME]
 * Creates one run directory under DIR (its path is the first line printed) and trains it.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/algorithms/config';
import { parseConfigText } from '../backend/trainer/config';
import { describe, runHeadless } from '../backend/trainer/headless';
import { Trainer } from '../backend/trainer/trainer';
import { Progress, UsageError, epOption, intOption, parse } from './args';

const USAGE = `usage: prpo-studio train --preset grpo|dapo|vppo|pgpo|prpo --steps N [--checkpoint-every K] [--seed S]
                         [--runs-dir DIR] [--ep cpu|cuda|webgpu] [--config FILE] [--name NAME]`;

export async function main(argv: string[]): Promise<number> {
  let trainer: Trainer;
  const progress = new Progress();
  try {
    const { values } = parse(argv, {
      preset: { type: 'string', default: 'prpo' },
      steps: { type: 'string' },
      'checkpoint-every': { type: 'string' },
      seed: { type: 'string' },
      'runs-dir': { type: 'string', default: 'runs' },
      ep: { type: 'string' },
      config: { type: 'string' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    const steps = intOption(values.steps, 'steps', 1);
    const config = values.config ? parseConfigText(readText(values.config), values.config) : {};
    trainer = await Trainer.start({
      runsDir: values['runs-dir']!,
      preset: values.preset!,
      steps,
      seed: intOption(values.seed, 'seed', 0, 0),
      ep: epOption(values.ep),
      name: values.name,
      config,
      checkpointEvery: values['checkpoint-every'] === undefined ? undefined : intOption(values['checkpoint-every'], 'checkpoint-every', 0),
      hooks: {
        onMetrics: (row) => (row.step > 0 ? progress.update(row.step, steps, describe(row)) : progress.message(`step 0 (initial policy): val ${row.valAccuracy?.toFixed(3)}`)),
        onLog: (level, message) => progress.message(`${level}: ${message}`),
      },
    });
    process.stdout.write(trainer.dir + '\n');
  } catch (e) {
    return reportStartError(e, USAGE);
  }
  return runHeadless(trainer, progress);
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--config: cannot read ${file} (${(e as Error).message})`);
  }
}

/** Usage and configuration errors: exit code 2 with one line that names what was wrong. */
export function reportStartError(e: unknown, usage: string): number {
  if (e instanceof UsageError) {
    process.stderr.write(`prpo-studio: ${e.message}\n${usage}\n`);
    return 2;
  }
  if (e instanceof ConfigError) {
    process.stderr.write(`prpo-studio: invalid configuration: ${e.message}\n`);
    return 2;
  }
  process.stderr.write(`prpo-studio: ${(e as Error).message}\n`);
  return 1;
}
