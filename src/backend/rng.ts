/**
 * A seedable PRNG with serializable state (xoshiro128**, seeded through splitmix32), so a checkpoint can
 * hold every random stream and a resumed run draws exactly the numbers the straight run would have drawn.
 */
import { hashString, standardNormal } from '../core/random';

export interface RngState {
  s: [number, number, number, number];
}

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  private s: Uint32Array;

  /** `seed` and an optional stream name: different names give independent streams for one seed. */
  constructor(seed: number, stream = '') {
    const next = splitmix32((seed >>> 0) ^ hashString(stream));
    this.s = new Uint32Array([next(), next(), next(), next()]);
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    if (!Array.isArray(state?.s) || state.s.length !== 4 || state.s.some((v) => !Number.isInteger(v))) {
      throw new Error('invalid RNG state: expected {s: [4 unsigned 32-bit integers]}');
    }
    r.s = new Uint32Array(state.s);
    return r;
  }

  state(): RngState {
    return { s: [this.s[0], this.s[1], this.s[2], this.s[3]] };
  }

  /** The next unsigned 32-bit integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** Standard normal (Box–Muller; no cached spare, so the state is just the four words). */
  normal(): number {
    return standardNormal(() => this.next());
  }

  /**
   * Fills `out` with standard normals, two per accepted pair (Marsaglia's polar method: no trigonometry,
   * about half the cost of calling normal() per value). Nothing is cached between calls.
   */
  fillNormal(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; ) {
      const u = 2 * this.next() - 1;
      const v = 2 * this.next() - 1;
      const s = u * u + v * v;
      if (s >= 1 || s === 0) continue;
      const f = Math.sqrt((-2 * Math.log(s)) / s);
      out[i++] = u * f;
      if (i < out.length) out[i++] = v * f;
    }
    return out;
  }

  /** A bound `() => number` for APIs that take a uniform source. */
  uniform(): () => number {
    return () => this.next();
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
