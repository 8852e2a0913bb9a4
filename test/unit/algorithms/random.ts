/**
 * Seeded random batches for the property and CLI tests: quantized log-probs (so scores tie), views far
 * enough apart to hit the k3 clamps, L = 1 responses, groups of one, groups whose rewards are all equal.
 */
import { mulberry32 } from '../../../src/core/random';
export const rng = mulberry32;

export interface RandomRollout {
  id: string;
  group: string;
  reward: number;
  logp: { image: number[]; blind: number[]; perturbed: number[]; mild: number[] };
  masks: number[][];
}

export function randomBatch(seed: number, options: { groups?: number; maxLen?: number; masks?: number } = {}): RandomRollout[] {
  const rand = rng(seed);
  const groups = options.groups ?? 6;
  const maxLen = options.maxLen ?? 30;
  const M = options.masks ?? 3;
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  /** A log-prob near `base`: often equal (tie), sometimes far (clamps), else a quantized shift. */
  const view = (base: number): number => {
    const u = rand();
    if (u < 0.3) return base;
    if (u < 0.38) return base - 25 * rand() - 1; // k3 hits its clamps
    if (u < 0.42) return base + 22; // log-ratio beyond +20
    return Math.round((base + (rand() - 0.5) * 6) * 4) / 4;
  };
  const out: RandomRollout[] = [];
  for (let g = 0; g < groups; g++) {
    const kind = g % 4; // 0: normal, 1: all rewards equal, 2: a group of one, 3: binary rewards
    const n = kind === 2 ? 1 : 2 + Math.floor(rand() * 5);
    for (let j = 0; j < n; j++) {
      const L = rand() < 0.15 ? 1 : 1 + Math.floor(rand() * maxLen);
      const image = Array.from({ length: L }, () => Math.round(-rand() * 12) / 4);
      out.push({
        id: `g${g}-r${j}`,
        group: `g${g}`,
        reward: kind === 1 ? 0.5 : kind === 3 ? (rand() < 0.5 ? 1 : 0) : Math.round(rand() * 10) / 10,
        logp: { image, blind: image.map(view), perturbed: image.map(view), mild: image.map(view) },
        masks: Array.from({ length: M }, () => image.map(view)),
      });
    }
  }
  return out;
}
