/**
 * The headless run used by `prpo-studio train` and `resume`: progress on the terminal, SIGINT →
 * checkpoint and stop (a second SIGINT exits at once), errors with what to do.
 */
import type { MetricsRow } from '../../core/run';
import type { Trainer } from './trainer';

export interface ProgressSink {
  update(done: number, total: number, detail: string): void;
  message(text: string): void;
  end(): void;
}

const f = (x: number | undefined, d = 3) => (x === undefined ? '–' : x.toFixed(d));

export function describe(row: MetricsRow): string {
  const parts = [`reward ${f(row.reward)}`, `acc ${f(row.accuracy)}`];
  if (row.valAccuracy !== undefined) parts.push(`val ${f(row.valAccuracy)}`);
  if (row.timeStepMs !== undefined) parts.push(`${(row.timeStepMs / 1000).toFixed(2)} s/step`);
  return parts.join('  ');
}

/** Runs `trainer` to its end; returns the process exit code (0 done, 130 interrupted by SIGINT, 1 failed). */
export async function runHeadless(trainer: Trainer, progress: ProgressSink): Promise<number> {
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) {
      progress.end();
      process.stderr.write('Second interrupt: exiting without a checkpoint (the run will be marked failed on resume).\n');
      process.exit(130);
    }
    interrupted = true;
    progress.message(`Interrupted: finishing step ${trainer.currentStep + 1}, then writing a checkpoint (Ctrl-C again to quit at once)…`);
    void trainer.stop();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const final = await trainer.run();
    progress.end();
    if (final === 'stopped') {
      process.stdout.write(`Stopped at step ${trainer.currentStep} with a checkpoint; continue with: prpo-studio resume ${trainer.dir} --steps ${trainer.steps}\n`);
      return interrupted ? 130 : 0;
    }
    process.stdout.write(`Completed step ${trainer.currentStep}: ${trainer.dir}\n`);
    return 0;
  } catch (e) {
    progress.end();
    process.stderr.write(`Training failed at step ${trainer.currentStep + 1}: ${(e as Error).message}\nThe run is marked failed; it can be resumed from its last checkpoint: prpo-studio resume ${trainer.dir} --steps ${trainer.steps}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}
