/** AdamW (decoupled weight decay) and global gradient-norm clipping over Float32Arrays. */
export interface AdamWConfig { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number }

export class AdamW {
  step = 0;
  readonly m = new Map<string, Float32Array>();
  readonly v = new Map<string, Float32Array>();

  /** `decay(name)` says which parameters get weight decay (matrices, not gains and biases). */
  constructor(public cfg: AdamWConfig, private decay: (name: string) => boolean) {}

  /** One update of `params` in place from `grads` (same names). */
  update(params: Map<string, Float32Array>, grads: Map<string, Float32Array>) {
    this.step++;
    const { lr, beta1, beta2, eps, weightDecay } = this.cfg;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      let m = this.m.get(name), v = this.v.get(name);
      if (!m || !v) { m = new Float32Array(p.length); v = new Float32Array(p.length); this.m.set(name, m); this.v.set(name, v); }
      const keep = 1 - (this.decay(name) ? lr * weightDecay : 0);
      const a1 = 1 - beta1, a2 = 1 - beta2, step = lr / c1, rc2 = 1 / c2;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        const mi = (m[i] = beta1 * m[i] + a1 * gi);
        const vi = (v[i] = beta2 * v[i] + a2 * gi * gi);
        // p ← p − lr·wd·p − lr·m̂/(√v̂ + ε)
        p[i] = p[i] * keep - (step * mi) / (Math.sqrt(vi * rc2) + eps);
      }
    }
  }
}

/** Global L2 norm of all gradients; scales them in place to at most `maxNorm` (when > 0). Returns the norm before clipping. */
export function clipGradNorm(grads: Iterable<Float32Array>, maxNorm: number): number {
  const list = [...grads];
  let sq = 0;
  for (const g of list) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  if (maxNorm > 0 && norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (const g of list) for (let i = 0; i < g.length; i++) g[i] *= s;
  }
  return norm;
}
