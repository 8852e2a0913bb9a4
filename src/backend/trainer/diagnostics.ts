/**
 * Dependency diagnostics (`diagnostics: true`): every probe view scored for every preset, with k3 and the
 * exact KL, and judged against the task's ground-truth perceptual flags — none of it enters the loss.
 *
 * Per score (VPPO's S over the perturbed view, PGPO's S over the blind view, PRPO-R's G, U, RVD and RVD
 * with λ = 0; each k3 and exact) the pooled AUROC over the step's tokens and the within-response AUROC
 * (the mean over responses that hold both classes: what per-response normalisation acts on), beside two
 * baselines that need no probe at all: the policy's entropy and −logp of the sampled token. The pooled
 * AUROCs again within each policy-entropy quintile (does a score add anything beyond uncertainty?).
 * Precision and recall of each preset's reshaped set (VPPO's kept tokens, PGPO's and PRPO-R's boosted
 * ones). The share of correct answers reached through a wrong trace, and where the first error of a
 * wrong answer falls. Metric names: `diag.<what>.<score>.<kl>`; numbers only.
 */
import { auroc, computeAdvantages, quantile, resolveConfig, viewsFor, type AlgorithmConfig, type RolloutAdvantage, type RolloutInput, type ViewRequirements } from '../../core/algorithms';
import { FILLER_WORDS, perceptualFlags } from '../task/shapes';
import type { Probes, Sampled } from './step';

type Kl = 'k3' | 'exact';

/** The presets whose scores and reshaped sets are diagnosed, as configurations of the run's constants. */
function diagnosedPresets(run: AlgorithmConfig, kl: Kl): Record<string, AlgorithmConfig> {
  const keep = { tau: run.tau, kl };
  return {
    vppo: resolveConfig('vppo', { kl }),
    pgpo: resolveConfig('pgpo', { kl }),
    prpo: resolveConfig('prpo', keep),
    prpo0: resolveConfig('prpo', { ...keep, lambda: 0 }),
  };
}

/** The scores a preset's result holds, under the names the metrics use. */
function scoresOf(name: string, a: RolloutAdvantage): Record<string, Float64Array> {
  const s = a.scores ?? {};
  if (name === 'vppo') return s.S ? { Svppo: s.S } : {};
  if (name === 'pgpo') return s.S ? { Spgpo: s.S } : {};
  if (name === 'prpo') return { ...(s.G ? { G: s.G } : {}), ...(s.U ? { U: s.U } : {}), ...(s.rvd ? { RVD: s.rvd } : {}) };
  return s.rvd ? { RVD0: s.rvd } : {};
}

/** Which tokens a preset reshapes upward (VPPO: kept by its mask). */
function reshapedSet(name: string, a: RolloutAdvantage): Float64Array | undefined {
  if (name === 'vppo') return a.mask;
  return a.weights?.map((w) => (w > 1 + 1e-9 ? 1 : 0));
}

/** Mean within-response AUROC over the responses that hold both classes (NaN when none does). */
export function withinResponseAuroc(scores: number[][], labels: number[][]): number {
  let sum = 0;
  let n = 0;
  scores.forEach((row, i) => {
    const v = auroc(row, labels[i]);
    if (Number.isFinite(v)) {
      sum += v;
      n++;
    }
  });
  return n > 0 ? sum / n : NaN;
}

/** The words of a trace before `answer`, fillers left out (they are free choices, not errors). */
function seen(words: readonly string[]): string[] {
  const end = words.indexOf('answer');
  return (end < 0 ? words : words.slice(0, end)).filter((w) => !FILLER_WORDS.includes(w));
}

/**
 * Lucky-correct share (correct answers whose trace before `answer` differs from the reference, fillers
 * aside) and, over wrong answers, the share whose first divergence from the reference is at a perceptual
 * reference token, and its mean relative position in the trace.
 */
export function traceDiagnostics(batch: Sampled[]): { luckyCorrectShare?: number; firstErrorPerceptualShare?: number; firstErrorPosition?: number } {
  let correct = 0, lucky = 0, wrong = 0, perceptualFirst = 0, position = 0;
  for (const s of batch) {
    const ref = s.example.trace;
    const refFlags = s.example.perceptual.filter((_, t) => !FILLER_WORDS.includes(ref[t]));
    const refWords = ref.filter((w) => !FILLER_WORDS.includes(w));
    const mine = seen(s.words);
    const refSeen = seen(ref);
    if (s.correct) {
      correct++;
      if (mine.length !== refSeen.length || mine.some((w, t) => w !== refSeen[t])) lucky++;
      continue;
    }
    const words = s.words.filter((w) => !FILLER_WORDS.includes(w));
    let t = 0;
    while (t < words.length && t < refWords.length && words[t] === refWords[t]) t++;
    wrong++;
    if (t < refFlags.length && refFlags[t]) perceptualFirst++;
    position += t / Math.max(1, refWords.length);
  }
  return {
    ...(correct > 0 ? { luckyCorrectShare: lucky / correct } : {}),
    ...(wrong > 0 ? { firstErrorPerceptualShare: perceptualFirst / wrong, firstErrorPosition: position / wrong } : {}),
  };
}

/**
 * The diagnostics of one step. `inputsFor(views)` gives the advantage inputs of the step for a preset's
 * view requirements (every view was scored, with the exact KL rows beside the log-probs).
 */
export function diagnosticsMetrics(
  run: AlgorithmConfig,
  batch: Sampled[],
  probes: Probes,
  inputsFor: (views: ViewRequirements) => RolloutInput[],
): Record<string, number> {
  const out: Record<string, number> = {};
  const put = (k: string, v: number | undefined) => {
    if (v !== undefined && Number.isFinite(v)) out[k] = v;
  };
  const labels = batch.map((s) => perceptualFlags(s.example.type, s.words));
  const pooledLabels = labels.flat();
  // Baselines: the policy's entropy (image view, full vocabulary) and the sampled token's surprise.
  const scoreRows: Record<string, number[][]> = {
    entropy: probes.entropy ? probes.entropy.map((r) => Array.from(r)) : [],
    negLogp: batch.map((s) => Array.from(s.logp, (x) => -x)),
  };
  const sets: Record<string, number[][]> = {};
  for (const kl of ['k3', 'exact'] as const) {
    for (const [name, cfg] of Object.entries(diagnosedPresets(run, kl))) {
      const views = viewsFor(cfg);
      const adv = computeAdvantages(cfg, inputsFor(views));
      for (const [score] of Object.entries(scoresOf(name, adv[0] ?? { id: '', advantage: 0, tokenAdvantages: new Float64Array() }))) {
        scoreRows[`${score}.${kl}`] = adv.map((a) => Array.from(scoresOf(name, a)[score]));
      }
      sets[`${name}.${kl}`] = adv.map((a) => Array.from(reshapedSet(name, a) ?? []));
    }
  }
  const entropyPooled = scoreRows.entropy.flat();
  const quintileEdges = entropyPooled.length ? [0.2, 0.4, 0.6, 0.8].map((q) => quantile(entropyPooled, q)) : [];
  const quintile = (h: number) => quintileEdges.filter((e) => h > e).length;
  for (const [score, rows] of Object.entries(scoreRows)) {
    if (rows.length !== batch.length) continue;
    const pooled = rows.flat();
    put(`diag.auroc.${score}`, auroc(pooled, pooledLabels));
    put(`diag.aurocWithin.${score}`, withinResponseAuroc(rows, labels));
    if (entropyPooled.length === pooled.length) {
      for (let q = 0; q < 5; q++) {
        const idx = entropyPooled.map((h, i) => (quintile(h) === q ? i : -1)).filter((i) => i >= 0);
        put(`diag.aurocQ${q + 1}.${score}`, auroc(idx.map((i) => pooled[i]), idx.map((i) => pooledLabels[i])));
      }
    }
  }
  if (entropyPooled.length === pooledLabels.length) {
    for (let q = 0; q < 5; q++) {
      const idx = entropyPooled.map((h, i) => (quintile(h) === q ? i : -1)).filter((i) => i >= 0);
      put(`diag.perceptualShareQ${q + 1}`, idx.length ? idx.reduce((a, i) => a + pooledLabels[i], 0) / idx.length : undefined);
    }
  }
  for (const [name, rows] of Object.entries(sets)) {
    const marked = rows.flat();
    if (marked.length !== pooledLabels.length) continue;
    let tp = 0, fp = 0, fn = 0;
    marked.forEach((m, i) => {
      if (m && pooledLabels[i]) tp++;
      else if (m) fp++;
      else if (pooledLabels[i]) fn++;
    });
    put(`diag.precision.${name}`, tp + fp > 0 ? tp / (tp + fp) : undefined);
    put(`diag.recall.${name}`, tp + fn > 0 ? tp / (tp + fn) : undefined);
    put(`diag.marked.${name}`, marked.length ? (tp + fp) / marked.length : undefined);
  }
  const trace = traceDiagnostics(batch);
  put('diag.luckyCorrectShare', trace.luckyCorrectShare);
  put('diag.firstErrorPerceptualShare', trace.firstErrorPerceptualShare);
  put('diag.firstErrorPosition', trace.firstErrorPosition);
  put('diag.perceptualShare', pooledLabels.length ? pooledLabels.reduce((a, b) => a + b, 0) / pooledLabels.length : undefined);
  // Perceptual vs non-perceptual log-prob of the sampled tokens under the current policy.
  const lp = batch.flatMap((s) => Array.from(s.logp));
  const meanWhere = (want: number) => {
    let sum = 0, n = 0;
    lp.forEach((x, i) => {
      if (pooledLabels[i] === want) {
        sum += x;
        n++;
      }
    });
    return n ? sum / n : undefined;
  };
  put('diag.logpPerceptual', meanWhere(1));
  put('diag.logpNonPerceptual', meanWhere(0));
  return out;
}
