/**
 * mulberry32: a tiny seeded PRNG for things that need repeatable numbers but no saved state — weight
 * initialisation, test and benchmark data, the webview's illustrations. (The trainer's random streams, which
 * checkpoints must capture, are the xoshiro128** `Rng` in src/backend/trainer/rng.ts.)
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
