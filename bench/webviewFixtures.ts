/**
 * Synthetic rollouts for the webview benchmarks and the static test page: every per-token field of
 * ALGORITHMS.md §7, with plausible shapes (sparse dependency, rewards 0/1, GRPO advantages per group).
 */
import type { RolloutRecord } from '../src/core/run/schema';
import { mulberry32 } from '../src/core/random';

export const rng = mulberry32;

const WORDS = ['I', ' see', ' a', ' red', ' blue', ' green', ' circle', ' square', ' triangle', ' in', ' the', ' top', ' left', ' cell', ',', ' so', ' there', ' are', ' 3', ' 2', ' shapes', '.', ' Answer', ':', ' yes', ' no', ' row', ' column', ' count', ' is'];
const PERCEPTUAL = new Set([' red', ' blue', ' green', ' circle', ' square', ' triangle', ' 3', ' 2', ' top', ' left']);

export const HOSTILE_TOKENS = [
  '<img src=x onerror=alert(1)>',
  '</script><script>alert(2)</script>',
  '\u202Eevil\u202C',
  'a\u2066b\u2069',
  '\u0000\u0007\u001b[31m',
  '\u200B',
  '<b>bold</b>',
  '&lt;escaped&gt;',
  '{{constructor}}',
  '\r\n',
];

export function makeRollout(step: number, index: number, group: string, tokens: number, seed: number, opts: { hostile?: boolean; image?: string; prompt?: string } = {}): RolloutRecord {
  const rand = rng(seed);
  const toks: string[] = [];
  for (let t = 0; t < tokens; t++) {
    if (opts.hostile && t % 7 === 3) toks.push(HOSTILE_TOKENS[Math.floor(t / 7) % HOSTILE_TOKENS.length]);
    else if (rand() < 0.02) toks.push('\n');
    else toks.push(WORDS[(rand() * WORDS.length) | 0]);
  }
  const reward = rand() < 0.5 ? 1 : 0;
  const advantage = (reward - 0.5) * 2 * (0.5 + rand());
  const lp = (scale: number): number[] => toks.map(() => -Math.abs(scale * Math.log(rand() + 1e-3)) * 0.3);
  const logpImage = lp(1);
  const perceptual = toks.map((s) => (PERCEPTUAL.has(s) ? 1 : 0));
  const blind = logpImage.map((v, t) => v - (perceptual[t] ? 1 + 3 * rand() : 0.1 * rand()));
  const G = logpImage.map((v, t) => {
    const d = Math.max(-20, Math.min(20, blind[t] - v));
    return Math.max(0, Math.min(10, Math.exp(d) - d - 1));
  });
  const U = toks.map(() => 0.05 * rand() * rand());
  const mm = (x: number[]): number[] => {
    const lo = Math.min(...x);
    const hi = Math.max(...x);
    return x.map((v) => (v - lo) / (hi - lo + 1e-6));
  };
  const lg = mm(G.map((g) => Math.log1p(g)));
  const lu = mm(U.map((u) => Math.log1p(u)));
  const rvd = lg.map((g, t) => g * Math.exp(-lu[t]));
  const weights = rvd.map((r) => 1 + Math.min(1, Math.max(0, (r - 0.4) / 0.6)));
  const order = G.map((g, t) => [g, t]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const mask = new Array(tokens).fill(0);
  for (let i = 0; i < Math.ceil(0.4 * tokens); i++) mask[order[i][1]] = 1;
  const topAlternatives = toks.map((_, t) => (t % 3 === 0 ? ([[WORDS[t % WORDS.length], -1.2], [WORDS[(t + 5) % WORDS.length], -2.3], ['<b>', -4]] as Array<[string, number]>) : []));
  return {
    id: `s${step}-r${index}`,
    step,
    group,
    prompt: opts.prompt ?? `Question ${group}: how many red shapes are in the grid? Think step by step, name what you see, then answer.`,
    image: opts.image,
    answer: String(2 + (index % 2)),
    response: toks.join(''),
    reward,
    correct: reward > 0,
    advantage,
    alpha: 0.9 + 0.2 * rand(),
    tokens: toks,
    tokenIds: toks.map((s) => WORDS.indexOf(s)),
    logp: { image: logpImage, blind, mild: logpImage.map((v) => v - 0.01 * rand()) },
    scores: { G, U, rvd, S: G },
    weights,
    mask,
    tokenAdvantages: weights.map((w) => advantage * w),
    perceptual,
    topAlternatives,
  };
}

/** A step of `rollouts` rollouts in groups of `groupSize`, each `tokens` long (± jitter). */
export function makeStep(step: number, rollouts: number, groupSize: number, tokens: number, seed = 1, image?: string): RolloutRecord[] {
  const out: RolloutRecord[] = [];
  const rand = rng(seed * 7919 + step);
  for (let i = 0; i < rollouts; i++) {
    const n = Math.max(1, Math.round(tokens * (0.7 + 0.6 * rand())));
    out.push(makeRollout(step, i, `g${Math.floor(i / groupSize)}`, rollouts === 1 ? tokens : n, seed * 1_000_003 + step * 10_007 + i, { image }));
  }
  return out;
}
