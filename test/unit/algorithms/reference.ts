/**
 * An independent implementation of shared/ALGORITHMS.md §1–§4, for checking src/core/algorithms and the
 * `advantages` CLI. Written straight from the spec in a deliberately naive, scalar-loop style and sharing
 * no code with src/: O(n²) group scans, selection by repeated argmax instead of sorting, every constant
 * spelled out where the spec gives it.
 */

export interface RefRollout {
  id: string;
  group: string;
  reward: number;
  logp: { image: number[]; blind?: number[]; perturbed?: number[] | number[][]; mild?: number[] };
}

export interface RefResult {
  id: string;
  advantage: number;
  tokenAdvantages: number[];
  S?: number[];
  G?: number[];
  U?: number[];
  rvd?: number[];
  weights?: number[];
  mask?: number[];
  alpha?: number;
}

/** The defaults of ALGORITHMS.md, by preset. */
function defaults(algorithm: string): Record<string, unknown> {
  return {
    normalizeByStd: true,
    topK: 0.4,
    betaMin: 0.9,
    tau: 0.4,
    beta: algorithm === 'pgpo' ? 2.0 : 1.0,
    rvd: 'soft',
    lambda: 1,
    quantile: 0.8,
    groundingFloor: 0.01,
    instabilityFloor: 0.05,
    kappa: 1,
    massConserving: false,
    threshold: null,
  };
}

export function refK3(a: number, b: number): number {
  let d = b - a;
  if (d > 20) d = 20;
  if (d < -20) d = -20;
  let v = Math.exp(d) - d - 1;
  if (v < 0) v = 0;
  if (v > 10) v = 10;
  return v;
}

/** minmax_f: `(x − min) / max(max − min + 1e-6, ln(1 + f))`; f = 0 is the plain minmax. */
function refMinmax(x: number[], floor = 0): number[] {
  let lo = x[0];
  let hi = x[0];
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  let den = hi - lo + 1e-6;
  if (Math.log(1 + floor) > den) den = Math.log(1 + floor);
  const out: number[] = [];
  for (const v of x) out.push((v - lo) / den);
  return out;
}

/** numpy's "linear" quantile, by insertion sort. */
export function refQuantile(x: number[], q: number): number {
  const s: number[] = [];
  for (const v of x) {
    let j = s.length;
    s.push(v);
    while (j > 0 && s[j - 1] > v) {
      s[j] = s[j - 1];
      j--;
    }
    s[j] = v;
  }
  const h = (s.length - 1) * q;
  const below = Math.floor(h);
  if (below >= s.length - 1) return s[s.length - 1];
  return s[below] + (h - below) * (s[below + 1] - s[below]);
}

function log1pAll(x: number[]): number[] {
  const out: number[] = [];
  for (const v of x) out.push(Math.log(1 + v));
  return out;
}

function scoresOf(image: number[], view: number[]): number[] {
  const out: number[] = [];
  for (let t = 0; t < image.length; t++) out.push(refK3(image[t], view[t]));
  return out;
}

/** §1 */
function outcome(rollouts: RefRollout[], normalizeByStd: boolean): number[] {
  const A: number[] = [];
  for (const r of rollouts) {
    const rewards: number[] = [];
    for (const o of rollouts) if (o.group === r.group) rewards.push(o.reward);
    let mean = 0;
    let sd = 1;
    if (rewards.length > 1) {
      let sum = 0;
      for (const x of rewards) sum += x;
      mean = sum / rewards.length;
      let sq = 0;
      for (const x of rewards) sq += (x - mean) * (x - mean);
      sd = Math.sqrt(sq / (rewards.length - 1));
    }
    A.push(normalizeByStd ? (r.reward - mean) / (sd + 1e-6) : r.reward - mean);
  }
  return A;
}

/** TGF by repeated argmax: each round takes the largest unselected S, the earliest on a tie. */
function tgf(S: number[], k: number): number[] {
  const L = S.length;
  const count = Math.ceil(Number((k * L).toPrecision(12))); // ceil of the real product k·L
  const m: number[] = new Array(L).fill(0);
  for (let round = 0; round < count && round < L; round++) {
    let best = -1;
    for (let t = 0; t < L; t++) {
      if (m[t] === 1) continue;
      if (best === -1 || S[t] > S[best]) best = t;
    }
    m[best] = 1;
  }
  return m;
}

function massConserve(w: number[]): number[] {
  let total = 0;
  for (const v of w) total += v;
  if (total <= 1e-6) return w.map(() => 1);
  return w.map((v) => (v * w.length) / total);
}

export function referenceAdvantages(algorithm: string, config: Record<string, unknown>, rollouts: RefRollout[]): RefResult[] {
  const c = { ...defaults(algorithm), ...config } as Record<string, any>;
  const A = outcome(rollouts, c.normalizeByStd);
  const results: RefResult[] = [];

  if (algorithm === 'grpo' || algorithm === 'dapo') {
    rollouts.forEach((r, i) => results.push({ id: r.id, advantage: A[i], tokenAdvantages: r.logp.image.map(() => A[i]) }));
    return results;
  }

  if (algorithm === 'vppo') {
    const S: number[][] = [];
    const Sbar: number[] = [];
    for (const r of rollouts) {
      const p = Array.isArray(r.logp.perturbed![0]) ? (r.logp.perturbed as number[][])[0] : (r.logp.perturbed as number[]);
      const s = scoresOf(r.logp.image, p);
      S.push(s);
      let sum = 0;
      for (const v of s) sum += v;
      Sbar.push(sum / s.length);
    }
    const gmin = Math.min(...Sbar);
    const gmax = Math.max(...Sbar);
    const alpha: number[] = [];
    if (gmax - gmin <= 1e-6) {
      for (let i = 0; i < rollouts.length; i++) alpha.push(1);
    } else {
      const n: number[] = [];
      for (const s of Sbar) n.push(Math.min(1, Math.max(0, (s - gmin) / (gmax - gmin))));
      let mu = 0;
      for (const v of n) mu += v / n.length;
      const betaMax = c.betaMin + (1 - c.betaMin) / (mu + 1e-8);
      for (const v of n) alpha.push(c.betaMin + v * (betaMax - c.betaMin));
    }
    rollouts.forEach((r, i) => {
      const m = tgf(S[i], c.topK);
      results.push({ id: r.id, advantage: A[i], tokenAdvantages: m.map((mt) => alpha[i] * A[i] * mt), S: S[i], mask: m, alpha: alpha[i] });
    });
    return results;
  }

  if (algorithm === 'pgpo') {
    rollouts.forEach((r, i) => {
      const S = scoresOf(r.logp.image, r.logp.blind!);
      const I = refMinmax(log1pAll(S));
      const omega: number[] = [];
      for (const It of I) {
        if (It < c.tau) omega.push(It / (c.tau + 1e-6));
        else omega.push(1 + (c.beta * (It - c.tau)) / (1 - c.tau + 1e-6));
      }
      const w = massConserve(omega);
      results.push({ id: r.id, advantage: A[i], tokenAdvantages: w.map((x) => A[i] * x), S, weights: w });
    });
    return results;
  }

  if (algorithm === 'prpo') {
    rollouts.forEach((r, i) => {
      const L = r.logp.image.length;
      const out: RefResult = { id: r.id, advantage: A[i], tokenAdvantages: [] };
      let rvd: number[] = [];
      if (c.rvd === 'multimask') {
        const masks = r.logp.perturbed as number[][];
        const per: number[][] = masks.map((p) => scoresOf(r.logp.image, p));
        const robust: number[] = [];
        const meanS: number[] = [];
        for (let t = 0; t < L; t++) {
          let mu = 0;
          for (const s of per) mu += s[t];
          mu /= per.length;
          let v = 0;
          for (const s of per) v += (s[t] - mu) ** 2;
          robust.push(mu - c.kappa * Math.sqrt(v / (per.length - 1)));
          meanS.push(mu);
        }
        rvd = refMinmax(robust);
        out.S = meanS;
      } else {
        const G = scoresOf(r.logp.image, r.logp.blind!);
        const U = scoresOf(r.logp.image, r.logp.mild!);
        const g = refMinmax(log1pAll(G), c.groundingFloor);
        if (c.rvd === 'gate') {
          const qU = refQuantile(U, c.quantile);
          for (let t = 0; t < L; t++) rvd.push(U[t] <= qU ? g[t] : 0);
        } else {
          const u = refMinmax(log1pAll(U), c.instabilityFloor);
          for (let t = 0; t < L; t++) rvd.push(g[t] * Math.exp(-c.lambda * u[t]));
        }
        out.G = G;
        out.U = U;
      }
      const tau = c.threshold ? refQuantile(rvd, c.threshold.quantile) : c.tau;
      let w: number[] = [];
      for (const x of rvd) {
        let z = (x - tau) / (1 - tau);
        if (!(z > 0)) z = 0;
        if (z > 1) z = 1;
        w.push(1 + c.beta * z);
      }
      if (c.massConserving) w = massConserve(w);
      out.rvd = rvd;
      out.weights = w;
      out.tokenAdvantages = w.map((x) => A[i] * x);
      results.push(out);
    });
    return results;
  }
  throw new Error(`reference: unknown algorithm ${algorithm}`);
}
