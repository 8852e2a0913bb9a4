/**
 * prpo-studio resume RUN_DIR --steps N [--checkpoint DIR] [--ep cpu|cuda|webgpu]
 * Continues a run from its latest complete checkpoint (or the one named) up to step N. A run left
 * 'running' by a backend that died is first marked failed (with the reason) in events.jsonl.
 */
import { describe, runHeadless } from '../backend/trainer/headless';
import { Trainer } from '../backend/trainer/trainer';
import { Progress, UsageError, epOption, intOption, parse } from './args';
import { reportStartError } from './train';

const USAGE = 'usage: prpo-studio resume RUN_DIR --steps N [--checkpoint DIR] [--ep cpu|cuda|webgpu]';

export async function main(argv: string[]): Promise<number> {
  let trainer: Trainer;
  const progress = new Progress();
  try {
    const { values, positionals } = parse(
      argv,
      { steps: { type: 'string' }, checkpoint: { type: 'string' }, ep: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      true,
    );
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError('expected exactly one RUN_DIR');
    const steps = intOption(values.steps, 'steps', 1);
    trainer = await Trainer.resume({
      runDir: positionals[0],
      steps,
      checkpoint: values.checkpoint,
      ep: epOption(values.ep),
      hooks: {
        onMetrics: (row) => progress.update(row.step, steps, describe(row)),
        onLog: (level, message) => progress.message(`${level}: ${message}`),
      },
    });
    process.stdout.write(`${trainer.dir}\nresuming at step ${trainer.currentStep} → ${steps}\n`);
  } catch (e) {
    return reportStartError(e, USAGE);
  }
  return runHeadless(trainer, progress);
}
