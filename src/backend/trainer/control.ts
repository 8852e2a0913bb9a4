/**
 * Run control: the loop that trains step after step, and the requests that act on it between steps (the
 * safe point): pause holds the state in memory, a checkpoint request writes one, stop checkpoints and ends
 * the run. A request that comes while the loop is not running is answered at once.
 */
import type { BackendStatus, CheckpointInfo } from '../../core/protocol/backend';
import type { RunStatus, RunWriter } from '../../core/run';
import type { TrainerHooks } from './open';
import { runRelative } from './records';

export abstract class RunControl {
  private state: RunStatus | 'idle' = 'idle';
  private pauseRequested = false;
  private stopRequested = false;
  private resumeWaiter: (() => void) | undefined;
  private pausedWaiters: Array<() => void> = [];
  private checkpointWaiters: Array<{ resolve: (c: CheckpointInfo) => void; reject: (e: Error) => void }> = [];
  private loop: Promise<RunStatus> | undefined;

  protected constructor(
    readonly writer: RunWriter,
    protected readonly hooks: TrainerHooks,
    /** The step of the latest checkpoint written or restored from; -1 for none. */
    private lastCheckpointStep: number,
  ) {}

  /** The step reached (the last one trained). */
  abstract get currentStep(): number;
  /** The step the run ends at. */
  abstract get steps(): number;
  /** A checkpoint every this many steps (0: on request, stop and end only). */
  protected abstract get checkpointEvery(): number;
  /** Work before the first step of a run (the step-0 validation). */
  protected abstract beforeFirstStep(): Promise<void>;
  /** One training step, from currentStep to currentStep + 1. */
  protected abstract trainStep(): Promise<void>;
  /** Writes a checkpoint of the current step; returns its folder. */
  protected abstract saveCheckpoint(): string;
  /** Lifecycle state, step and provider, as the protocol reports them. */
  abstract status(): BackendStatus;

  protected get runState(): RunStatus | 'idle' {
    return this.state;
  }

  /** Trains until `steps` or a stop; resolves with the final status ('completed' or 'stopped'). */
  run(): Promise<RunStatus> {
    if (!this.loop) this.loop = this.loopBody();
    return this.loop;
  }

  /** Asks the loop to pause at the next safe point; resolves once paused (or at once if not running). */
  pause(): Promise<BackendStatus> {
    if (this.state !== 'running') return Promise.resolve(this.status());
    this.pauseRequested = true;
    return new Promise((resolve) => this.pausedWaiters.push(() => resolve(this.status())));
  }

  /** Continues a paused loop. */
  resume(): BackendStatus {
    this.pauseRequested = false;
    if (this.state === 'paused') {
      this.setState('running');
      this.writer.appendEvent({ type: 'resumed', step: this.currentStep });
      this.resumeWaiter?.();
      this.resumeWaiter = undefined;
    }
    return this.status();
  }

  /** A checkpoint at the next safe point (at once when paused or not running). */
  checkpointNow(): Promise<CheckpointInfo> {
    if (this.state !== 'running') {
      try {
        return Promise.resolve(this.writeCheckpoint());
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return new Promise((resolve, reject) => this.checkpointWaiters.push({ resolve, reject }));
  }

  /** Stop: the loop ends at the next safe point, writes a checkpoint and a 'stopped' event. */
  async stop(): Promise<BackendStatus> {
    this.stopRequested = true;
    if (this.state === 'idle') {
      // Never ran: still leave a checkpoint and a stopped event so the run is resumable.
      this.writeCheckpointIfNew();
      this.writer.appendEvent({ type: 'stopped', step: this.currentStep });
      this.setState('stopped');
      return this.status();
    }
    this.resumeWaiter?.();
    if (this.loop) await this.loop;
    return this.status();
  }

  /** Marks the run failed (the caller reports `reason`); the last checkpoint stays resumable. */
  markFailed(reason: string): void {
    if (this.state === 'failed') return;
    this.writer.appendEvent({ type: 'failed', step: this.currentStep, reason });
    this.setState('failed');
  }

  private setState(s: RunStatus): void {
    this.state = s;
    this.hooks.onState?.(this.status());
  }

  private async loopBody(): Promise<RunStatus> {
    this.setState('running');
    try {
      await this.beforeFirstStep();
      while (this.currentStep < this.steps) {
        await this.safePoint();
        if (this.stopRequested) break;
        await this.trainStep();
        const every = this.checkpointEvery;
        if (every > 0 && this.currentStep % every === 0) this.writeCheckpoint();
      }
      await this.safePoint();
      this.writeCheckpointIfNew();
      const final: RunStatus = this.stopRequested && this.currentStep < this.steps ? 'stopped' : 'completed';
      this.writer.appendEvent({ type: final, step: this.currentStep });
      this.setState(final);
      return final;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.markFailed(message);
      for (const w of this.checkpointWaiters.splice(0)) w.reject(e as Error);
      throw e;
    } finally {
      for (const w of this.pausedWaiters.splice(0)) w();
    }
  }

  /** Between steps: answer checkpoint requests, hold while paused. */
  private async safePoint(): Promise<void> {
    // Let pending I/O (control requests) in, even when the engine's calls resolve without waiting.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (;;) {
      for (const w of this.checkpointWaiters.splice(0)) {
        try {
          w.resolve(this.writeCheckpoint());
        } catch (e) {
          w.reject(e as Error);
        }
      }
      if (!this.pauseRequested || this.stopRequested) return;
      this.setState('paused');
      this.writer.appendEvent({ type: 'paused', step: this.currentStep });
      for (const w of this.pausedWaiters.splice(0)) w();
      // A checkpoint asked for while paused is written by checkpointNow directly.
      await new Promise<void>((resolve) => {
        this.resumeWaiter = resolve;
      });
      if (this.stopRequested) {
        this.setState('running');
        return;
      }
    }
  }

  private writeCheckpointIfNew(): void {
    if (this.lastCheckpointStep !== this.currentStep) this.writeCheckpoint();
  }

  private writeCheckpoint(): CheckpointInfo {
    const step = this.currentStep;
    const path = this.saveCheckpoint();
    this.lastCheckpointStep = step;
    this.writer.appendEvent({ type: 'checkpoint', step, checkpoint: runRelative(this.writer.dir, path) });
    const info = { runId: this.writer.manifest.id, step, path };
    this.hooks.onCheckpoint?.(info);
    return info;
  }
}
