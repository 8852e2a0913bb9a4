/**
 * The colour range (`hi`) of each signal for the step on show, shared by every token drawn so that a colour
 * means the same value everywhere. Opening a step takes the ranges the host computed over the whole step; a
 * signal the host sent none for is computed here from what has arrived; live rollouts widen a range, never
 * narrow it (what is already drawn keeps meaning the same). Every range is computed by core's `signalHi`
 * (through model.ts `signalHiOf`), the function the host uses for the whole step.
 */
import { SignalDef, SignalId, signalDef } from '../scales';
import { RolloutRef, signalHiIn, signalHiOf } from './model';

export class SignalRanges {
  private readonly his = new Map<SignalId, number>();

  /** The range of `def`, computed from `rollouts` (and kept) when the host sent none. */
  hi(def: SignalDef, rollouts: readonly RolloutRef[]): number {
    let v = this.his.get(def.id);
    if (v === undefined) this.his.set(def.id, (v = signalHiOf(def, rollouts)));
    return v;
  }

  /**
   * A new step: the ranges the host computed over the rollouts it has read (the first ones drawn already use
   * them); again once it has read the whole step. Says whether `current`'s range moved (to recolour).
   */
  reset(fromHost: Partial<Record<SignalId, number>> | undefined, current?: SignalId): boolean {
    const before = current && this.his.get(current);
    this.his.clear();
    for (const [id, v] of Object.entries(fromHost ?? {})) this.his.set(id as SignalId, v as number);
    return current !== undefined && before !== this.his.get(current);
  }

  /** Widens the ranges known so far to cover live rollouts; says whether `current`'s moved (to recolour). */
  widen(live: readonly RolloutRef[], current: SignalId): boolean {
    let widened = false;
    for (const [id, old] of live.length ? this.his : []) {
      const d = signalDef(id);
      if (d.fixedHi !== undefined) continue;
      // Live rollouts without the signal say nothing about its range.
      const nh = signalHiIn(d, live);
      if (nh !== undefined && nh > old * 1.0001) {
        this.his.set(id, nh);
        if (id === current) widened = true;
      }
    }
    return widened;
  }
}
