/**
 * A step's rollouts as a view reads them: records come from a stream (core/run/reader.ts, the one line-reading
 * rule) and whoever waits for the first N gets them as soon as they are read, not when the whole file is — the
 * first screen of a 1,000-rollout step need not wait for the other 950. Reading can stop after a first part (a
 * step read ahead, not opened yet) and goes on when more is asked for.
 *
 * Pure: no Node, vscode or DOM imports.
 */
import type { RolloutRecord } from '../run/schema';
import { stepRanges, type SignalId } from './signals';

export class StepRead {
  readonly rollouts: RolloutRecord[] = [];
  /** Problems reading the step (`file:line: reason`), as found so far. */
  readonly issues: string[] = [];
  /** The whole step has been read (or reading failed or was cancelled). */
  complete = false;
  /** Resolves when the whole step has been read. */
  readonly done: Promise<void>;
  private wanted: number;
  private cancelled = false;
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  private resume?: () => void;
  private readonly records: AsyncIterator<RolloutRecord>;
  private rangesMemo: { count: number; ranges: Partial<Record<SignalId, number>> } | undefined;

  /** `open(onIssue)` starts the stream; it is read up to `wanted` records, then as far as `want` asks. */
  constructor(open: (onIssue: (message: string) => void) => AsyncIterable<RolloutRecord>, wanted = Infinity) {
    this.wanted = wanted;
    this.records = open((m) => this.issues.push(m))[Symbol.asyncIterator]();
    this.done = this.pump();
  }

  /** Read on to `n` records (Infinity: the whole step). */
  want(n: number): void {
    if (n <= this.wanted) return;
    this.wanted = n;
    this.resume?.();
  }

  /** Resolves once `n` rollouts have been read, or the whole step (asking for them first). */
  has(n: number): Promise<void> {
    this.want(n);
    if (this.complete || this.rollouts.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  /** Every signal's range over the rollouts read so far (computed once per count: a step read ahead has it ready). */
  ranges(): Partial<Record<SignalId, number>> {
    if (this.rangesMemo?.count !== this.rollouts.length) this.rangesMemo = { count: this.rollouts.length, ranges: stepRanges(this.rollouts) };
    return this.rangesMemo.ranges;
  }

  /** Stops reading and closes the file; waiters get what was read. */
  cancel(): void {
    if (this.complete) return;
    this.cancelled = true;
    this.resume?.();
  }

  private async pump(): Promise<void> {
    try {
      while (!this.cancelled) {
        if (this.rollouts.length >= this.wanted) {
          await new Promise<void>((r) => (this.resume = r));
          this.resume = undefined;
          continue;
        }
        const next = await this.records.next();
        if (next.done) break;
        this.rollouts.push(next.value);
        this.wake();
      }
    } catch (e) {
      this.issues.push(`reading the step stopped: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.complete = true;
      if (this.cancelled) await this.records.return?.().catch(() => undefined);
      this.wake();
    }
  }

  private wake(): void {
    const n = this.rollouts.length;
    this.waiters = this.waiters.filter((w) => {
      if (!this.complete && n < w.n) return true;
      w.resolve();
      return false;
    });
  }
}

/** A step read whole by a reader that only has arrays (the importers of other trainers' logs), as a stream. */
export async function* fromArray(read: Promise<RolloutRecord[]>): AsyncIterable<RolloutRecord> {
  yield* await read;
}
