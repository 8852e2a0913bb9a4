/**
 * Small statistics over plain arrays, shared by the estimators, the trainer's metrics and the tests.
 * Every function takes `ArrayLike<number>` so Float32Array/Float64Array rows pass without copies.
 */

/** ε of `minmax` (ALGORITHMS.md, Notation). */
export const MINMAX_EPS = 1e-6;

export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** `mean(x) = Σ x / n`; NaN for an empty array. */
export function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return x.length ? s / x.length : NaN;
}

/** Unbiased standard deviation `sqrt(Σ (x − mean)² / (n − 1))`; NaN for fewer than two values. */
export function std(x: ArrayLike<number>): number {
  const n = x.length;
  if (n < 2) return NaN;
  const m = mean(x);
  let s = 0;
  for (let i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
  return Math.sqrt(s / (n - 1));
}

/**
 * The q-quantile with linear interpolation between order statistics (numpy's default, "linear"):
 * `pos = q (n − 1)`, `Q = x₍⌊pos⌋₎ + (pos − ⌊pos⌋)(x₍⌈pos⌉₎ − x₍⌊pos⌋₎)` over the sorted values.
 */
export function quantile(x: ArrayLike<number>, q: number): number {
  return quantileSorted(sortedCopy(x), q);
}

/** The values of `x` in ascending order, as a new row. */
export function sortedCopy(x: ArrayLike<number>): Float64Array {
  const sorted = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) sorted[i] = x[i];
  return sorted.sort();
}

/** `quantile` over values already in ascending order. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = clamp(q, 0, 1) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/** `minmax(x)_t = (x_t − min x) / (max x − min x + ε)`, ε = 1e-6, over one response. */
export function minmax(x: ArrayLike<number>, eps = MINMAX_EPS): Float64Array {
  return minmaxFloor(x, 0, eps);
}

/**
 * `minmax_f(x)_t = (x_t − min x) / max(max x − min x + ε, log1p(f))` for log1p-scores, with a floor `f` in
 * nats: when every score of a response is tiny, nothing in it is ranked "high" merely for being the largest
 * of nothing. `f = 0` is `minmax`.
 */
export function minmaxFloor(x: ArrayLike<number>, floor: number, eps = MINMAX_EPS): Float64Array {
  const n = x.length;
  const out = new Float64Array(n);
  if (n === 0) return out;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  const den = Math.max(hi - lo + eps, Math.log1p(floor));
  for (let i = 0; i < n; i++) out[i] = (x[i] - lo) / den;
  return out;
}

/**
 * Area under the ROC curve of `scores` against binary `labels` (a label > 0.5 is positive): the
 * probability that a random positive outscores a random negative, ties counting one half
 * (Mann–Whitney U / (n₊ n₋), with mid-ranks). NaN when either class is absent. Pairs whose score
 * is NaN are skipped.
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (scores.length !== labels.length) {
    throw new RangeError(`auroc: ${scores.length} scores but ${labels.length} labels`);
  }
  const idx: number[] = [];
  for (let i = 0; i < scores.length; i++) if (!Number.isNaN(scores[i])) idx.push(i);
  idx.sort((a, b) => scores[a] - scores[b]);
  let nPos = 0;
  let rankSumPos = 0;
  for (let start = 0; start < idx.length; ) {
    let end = start;
    while (end + 1 < idx.length && scores[idx[end + 1]] === scores[idx[start]]) end++;
    const midRank = (start + end) / 2 + 1; // 1-based mid-rank of the tied run
    for (let j = start; j <= end; j++) {
      if (labels[idx[j]] > 0.5) {
        nPos++;
        rankSumPos += midRank;
      }
    }
    start = end + 1;
  }
  const nNeg = idx.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** A plain-array copy of a row (for JSON and the run files); a plain loop beats Array.from on typed arrays. */
export function toNumbers(row: ArrayLike<number>): number[] {
  const out = new Array<number>(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i];
  return out;
}

/** `row` itself when it is a Float64Array, else a Float64Array copy (the estimators' output rows). */
export function asFloat64(row: ArrayLike<number>): Float64Array {
  return row instanceof Float64Array ? row : Float64Array.from(row);
}
