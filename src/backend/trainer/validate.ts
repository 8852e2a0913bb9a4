/**
 * Validation accuracy, one definition for the warm start and the RL runs: avg@k — k responses sampled per
 * validation prompt at the training temperature, the mean of their exact-match accuracy (as VPPO reports
 * avg@8) — with its own random stream, so it never shifts the training streams and is reproducible; and
 * the greedy accuracy beside it.
 */
import type { PolicyEngine } from '../engine/types';
import { FILLER_WORDS, scoreResponse, type ShapesExample, type Tokenizer } from '../task/shapes';
import { Rng } from '../rng';

export interface ValidationResult {
  /** avg@k at the sampling temperature. */
  sampled: number;
  greedy: number;
}

export async function validationAccuracy(
  engine: PolicyEngine,
  tokenizer: Tokenizer,
  all: ShapesExample[],
  opts: { maxNewTokens: number; temperature: number; samples: number; seed: number; greedyExamples?: ShapesExample[] },
): Promise<ValidationResult> {
  const accuracy = async (temperature: number, k: number, random: () => number, examples = all) => {
    const res = await engine.sample({
      images: examples.flatMap((e) => Array(k).fill(e.image)),
      prompts: examples.flatMap((e) => Array(k).fill(e.prompt)),
      maxNewTokens: opts.maxNewTokens,
      temperature,
      topP: 1,
      stopToken: tokenizer.eos,
      random,
    });
    let correct = 0;
    res.tokens.forEach((t, i) => {
      if (scoreResponse(tokenizer.decode(t), examples[Math.floor(i / k)].answer).correct) correct++;
    });
    return correct / res.tokens.length;
  };
  const rng = new Rng(opts.seed, 'validation');
  const sampled = await accuracy(opts.temperature, opts.samples, rng.uniform());
  const greedy = await accuracy(0, 1, () => 0, opts.greedyExamples ?? all);
  return { sampled, greedy };
}

/** Greedy accuracy per question type, with the real images or (the text-only baseline) black ones. */
export async function greedyAccuracyByType(
  engine: PolicyEngine,
  tokenizer: Tokenizer,
  examples: ShapesExample[],
  opts: { maxNewTokens: number; blackImage?: boolean },
): Promise<Record<string, number> & { all: number }> {
  const res = await engine.sample({
    images: examples.map((e) => (opts.blackImage ? new Float32Array(e.image.length) : e.image)),
    prompts: examples.map((e) => e.prompt),
    maxNewTokens: opts.maxNewTokens,
    temperature: 0,
    topP: 1,
    stopToken: tokenizer.eos,
    random: () => 0,
  });
  const hits = new Map<string, [number, number]>();
  let all = 0;
  res.tokens.forEach((t, i) => {
    const e = examples[i];
    const ok = scoreResponse(tokenizer.decode(t), e.answer).correct ? 1 : 0;
    const h = hits.get(e.type) ?? [0, 0];
    hits.set(e.type, [h[0] + ok, h[1] + 1]);
    all += ok;
  });
  return { ...Object.fromEntries([...hits].map(([k, [c, n]]) => [k, c / n])), all: all / Math.max(1, examples.length) };
}

/**
 * Teacher-forced fit on the reference traces, split by the ground-truth perceptual flags. Filler words
 * (free random choices, ≈ ln 4 nats each at best) count in neither group: "non-perceptual" means the
 * tokens the question and the trace so far determine.
 */
export interface TeacherForced {
  /** Share of positions whose most likely token is the reference token. */
  perceptualTop1: number;
  nonPerceptualTop1: number;
  /** Mean log-prob of the reference token. */
  perceptualLogp: number;
  nonPerceptualLogp: number;
  /** Share of reference tokens that are perceptual (fillers included in the denominator). */
  perceptualShare: number;
}

export async function teacherForced(engine: PolicyEngine, examples: ShapesExample[]): Promise<TeacherForced> {
  const V = engine.config.vocabSize;
  const scored = await engine.score(examples.map((e) => ({ image: e.image, prompt: e.prompt, response: e.target })), { fullDistribution: true });
  const acc = { p: [0, 0, 0], n: [0, 0, 0] }; // [top-1 hits, log-prob sum, count]
  examples.forEach((e, i) => {
    const full = scored.logProbs![i];
    e.target.forEach((tok, t) => {
      let best = 0;
      for (let v = 1; v < V; v++) if (full[t * V + v] > full[t * V + best]) best = v;
      if (e.perceptual[t] === 0 && FILLER_WORDS.includes(e.trace[t])) return;
      const a = e.perceptual[t] ? acc.p : acc.n;
      a[0] += best === tok ? 1 : 0;
      a[1] += scored.logp[i][t];
      a[2]++;
    });
  });
  const div = (x: number, n: number) => (n > 0 ? x / n : NaN);
  return {
    perceptualTop1: div(acc.p[0], acc.p[2]),
    nonPerceptualTop1: div(acc.n[0], acc.n[2]),
    perceptualLogp: div(acc.p[1], acc.p[2]),
    nonPerceptualLogp: div(acc.n[1], acc.n[2]),
    perceptualShare: div(acc.p[2], examples.reduce((a, e) => a + e.target.length, 0)),
  };
}
