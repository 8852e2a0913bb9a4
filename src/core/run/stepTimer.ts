/**
 * How long a live run will still take, from its measured step time: the status bar says "~6 min left".
 * Steps are timed by wall clock as their metrics arrive; an interval that spans a pause is not a step time,
 * so a pause restarts the clock (`restart`). The first steps are slower (warm-up), hence a moving average
 * that forgets them rather than the mean since the start. Pure: no imports.
 */
export class StepTimer {
  private last: { step: number; at: number } | undefined;
  private perStep: number | undefined;

  /** Metrics of `step` arrived at `atMs` (ms, any clock that only goes forward). */
  observe(step: number, atMs: number): void {
    const last = this.last;
    if (last && step > last.step && atMs >= last.at) {
      const s = (atMs - last.at) / 1000 / (step - last.step);
      this.perStep = this.perStep === undefined ? s : 0.7 * this.perStep + 0.3 * s;
    }
    if (!last || step >= last.step) this.last = { step, at: atMs };
  }

  /** The run paused (or resumed): the next interval would include the pause. */
  restart(): void {
    this.last = undefined;
  }

  /** Seconds a step takes, once two steps have been seen in a row. */
  get secondsPerStep(): number | undefined {
    return this.perStep;
  }

  /** Seconds until `steps`, from `step`; undefined before a step time is known. */
  remaining(step: number, steps: number | undefined): number | undefined {
    if (this.perStep === undefined || !steps) return undefined;
    return Math.max(0, steps - step) * this.perStep;
  }
}

/** A rough duration: "<1 min", "~6 min", "~1 h 20 min". */
export function roughDuration(seconds: number): string {
  if (seconds < 60) return '<1 min';
  const min = Math.round(seconds / 60);
  if (min < 60) return `~${min} min`;
  const h = Math.floor(min / 60);
  return `~${h} h${min % 60 ? ` ${min % 60} min` : ''}`;
}
