/**
 * Small seeded randomness shared by every layer (browser-safe: no Node API).
 *
 * mulberry32: a tiny seeded PRNG for things that need repeatable numbers but no saved state — weight
 * initialisation, test and benchmark data, the webview's illustrations. (The trainer's random streams, which
 * checkpoints must capture, are the xoshiro128** `Rng` in src/backend/rng.ts.)
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

/** FNV-1a over a string: names a stream or an example stably. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** One standard normal from two uniforms in [0, 1) (Box–Muller; `1 − u` keeps the log finite). */
export function standardNormal(uniform: () => number): number {
  const u = 1 - uniform();
  const v = uniform();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
