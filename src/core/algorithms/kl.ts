/**
 * KL estimates between two views of the policy (ALGORITHMS.md, Notation).
 */

/** Clamp of the log-ratio inside k3, as in verl's `kl_penalty(..., "low_var_kl")`. */
export const K3_LOG_RATIO_CLAMP = 20;
/** Clamp of the k3 value itself. */
export const K3_MAX = 10;

/**
 * The sampled-token estimate of KL(π_a ‖ π_b) ("k3", Schulman's low-variance estimator):
 *   d = clamp(b − a, −20, 20),   k3 = clamp(exp(d) − d − 1, 0, 10)
 * where `a = log π_a(o_t)`, `b = log π_b(o_t)` at the sampled token o_t ~ π_a.
 */
export function k3(a: number, b: number): number {
  let d = b - a;
  if (d < -K3_LOG_RATIO_CLAMP) d = -K3_LOG_RATIO_CLAMP;
  else if (d > K3_LOG_RATIO_CLAMP) d = K3_LOG_RATIO_CLAMP;
  const kl = Math.exp(d) - d - 1;
  return kl < 0 ? 0 : kl > K3_MAX ? K3_MAX : kl;
}

/** `S_t = k3(a_t, b_t)` for every token of a response. */
export function k3Row(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let t = 0; t < a.length; t++) out[t] = k3(a[t], b[t]);
  return out;
}

/**
 * The exact full-vocabulary KL at one position, from the two views' log-probs over the vocabulary:
 *   KL(π_a ‖ π_b) = Σ_v π_a(v) (log π_a(v) − log π_b(v))
 * Terms with π_a(v) = 0 contribute 0; a v with π_a(v) > 0 and π_b(v) = 0 makes it +∞.
 * Clamped at 0 below (rounding can leave a tiny negative sum when the rows are nearly equal).
 */
export function exactKl(logpA: ArrayLike<number>, logpB: ArrayLike<number>): number {
  if (logpA.length !== logpB.length) {
    throw new RangeError(`exactKl: vocabularies differ (${logpA.length} vs ${logpB.length} entries)`);
  }
  let kl = 0;
  for (let v = 0; v < logpA.length; v++) {
    const a = logpA[v];
    if (a === -Infinity) continue;
    kl += Math.exp(a) * (a - logpB[v]);
  }
  return kl > 0 ? kl : 0;
}

/** Full-vocabulary entropy at one position: H = −Σ_v π(v) log π(v), from log-probs. */
export function tokenEntropy(logp: ArrayLike<number>): number {
  let h = 0;
  for (let v = 0; v < logp.length; v++) {
    const a = logp[v];
    if (a !== -Infinity) h -= Math.exp(a) * a;
  }
  return h;
}

/**
 * Per-token exact KL(π_a ‖ π_b) over a response, from the two views' log-prob matrices stored row-major
 * (L rows of `vocabSize` log-probs, e.g. the engine's log-softmax output): out[t] = exactKl(row_a t, row_b t).
 * The result is what `RolloutInput.dependency` carries when config.kl is "exact".
 */
export function exactKlRows(logpA: ArrayLike<number>, logpB: ArrayLike<number>, vocabSize: number): Float64Array {
  if (logpA.length !== logpB.length || logpA.length % vocabSize !== 0) {
    throw new RangeError(`exactKlRows: ${logpA.length} and ${logpB.length} entries are not both L × ${vocabSize}`);
  }
  const L = logpA.length / vocabSize;
  const out = new Float64Array(L);
  for (let t = 0; t < L; t++) {
    let kl = 0;
    for (let v = t * vocabSize; v < (t + 1) * vocabSize; v++) {
      const a = logpA[v];
      if (a !== -Infinity) kl += Math.exp(a) * (a - logpB[v]);
    }
    out[t] = kl > 0 ? kl : 0;
  }
  return out;
}

/** log softmax of one row of logits: x_v − log Σ_u exp(x_u), computed stably. */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let v = 0; v < logits.length; v++) if (logits[v] > max) max = logits[v];
  let sum = 0;
  for (let v = 0; v < logits.length; v++) sum += Math.exp(logits[v] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let v = 0; v < logits.length; v++) out[v] = logits[v] - lse;
  return out;
}
