/**
 * The study's statistics (docs/study.md): Student-t confidence intervals over seeds, paired differences,
 * Holm's step-down correction, and the minimum detectable effect of a paired design. Pure functions.
 */

/**
 * P(T ≤ t) for Student's t with an integer number of degrees of freedom `df` ≥ 1, by the exact finite
 * series of Abramowitz & Stegun 26.7.3–4 in θ = atan(t/√df) (the study's df = seeds − 1 are integers).
 */
export function tCdf(t: number, df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`tCdf: df must be an integer ≥ 1, got ${df}`);
  const theta = Math.atan(Math.abs(t) / Math.sqrt(df));
  const s = Math.sin(theta), c2 = Math.cos(theta) ** 2;
  let a: number; // P(|T| ≤ |t|)
  if (df % 2 === 1) {
    let sum = 0;
    if (df > 1) {
      let term = 1;
      sum = 1;
      for (let k = 3; k <= df - 2; k += 2) {
        term *= ((k - 1) / k) * c2;
        sum += term;
      }
    }
    a = (2 / Math.PI) * (theta + (df > 1 ? s * Math.cos(theta) * sum : 0));
  } else {
    let term = 1, sum = 1;
    for (let k = 2; k <= df - 2; k += 2) {
      term *= ((k - 1) / k) * c2;
      sum += term;
    }
    a = s * sum;
  }
  return t >= 0 ? 0.5 + a / 2 : 0.5 - a / 2;
}

/** The p-quantile of Student's t (bisection on tCdf; |error| < 1e-10). */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`tQuantile: p must be in (0, 1), got ${p}`);
  let lo = -1e3, hi = 1e3;
  for (let i = 0; i < 200 && hi - lo > 1e-12; i++) {
    const mid = (lo + hi) / 2;
    if (tCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface MeanCi {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1). */
  sd: number;
  /** Half-width of the (1 − α) interval: t_{1−α/2, n−1} · sd / √n (NaN for n < 2). */
  half: number;
  lo: number;
  hi: number;
}

/** Mean with its two-sided (1 − α) Student-t confidence interval. */
export function meanCi(xs: readonly number[], alpha = 0.05): MeanCi {
  const n = xs.length;
  const mean = n ? xs.reduce((a, b) => a + b, 0) / n : NaN;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : NaN;
  const half = n > 1 ? tQuantile(1 - alpha / 2, n - 1) * (sd / Math.sqrt(n)) : NaN;
  return { n, mean, sd, half, lo: mean - half, hi: mean + half };
}

export interface PairedTest extends MeanCi {
  /** Two-sided p-value of the paired t-test (mean difference 0). */
  p: number;
}

/** Paired differences a_s − b_s (same seeds) with their t interval and two-sided p-value. */
export function pairedDifference(a: readonly number[], b: readonly number[], alpha = 0.05): PairedTest {
  if (a.length !== b.length) throw new RangeError(`pairedDifference: ${a.length} vs ${b.length} values`);
  const d = a.map((x, i) => x - b[i]);
  const ci = meanCi(d, alpha);
  let p = NaN;
  if (ci.n > 1) {
    if (ci.sd === 0) p = ci.mean === 0 ? 1 : 0;
    else p = 2 * (1 - tCdf(Math.abs(ci.mean) / (ci.sd / Math.sqrt(ci.n)), ci.n - 1));
  }
  return { ...ci, p };
}

/**
 * Holm's step-down adjusted p-values (family-wise error control): sort ascending, p̃_(i) =
 * max_{j ≤ i} min(1, (m − j + 1) p_(j)); returned in the input order. NaN p-values stay NaN and do not count.
 */
export function holm(ps: readonly number[]): number[] {
  const idx = ps.map((p, i) => [p, i] as const).filter(([p]) => Number.isFinite(p)).sort((x, y) => x[0] - y[0]);
  const m = idx.length;
  const out = ps.map(() => NaN);
  let running = 0;
  idx.forEach(([p, i], k) => {
    running = Math.max(running, Math.min(1, (m - k) * p));
    out[i] = running;
  });
  return out;
}

/**
 * The minimum detectable effect of a paired comparison over n seeds with difference sd `sdDiff`: the true
 * mean difference a two-sided level-α t-test finds with the given power, (t_{1−α/2} + t_{power}) · sd/√n
 * on n − 1 degrees of freedom (the usual approximation).
 */
export function minimumDetectableEffect(sdDiff: number, n: number, alpha = 0.05, power = 0.8): number {
  if (n < 2) return NaN;
  return (tQuantile(1 - alpha / 2, n - 1) + tQuantile(power, n - 1)) * (sdDiff / Math.sqrt(n));
}
