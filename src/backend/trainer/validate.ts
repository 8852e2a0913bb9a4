/**
 * Validation accuracy, one definition for the warm start and the RL runs: avg@k — k responses sampled per
 * validation prompt at the training temperature, the mean of their exact-match accuracy (as VPPO reports
 * avg@8) — with its own random stream, so it never shifts the training streams and is reproducible; and
 * the greedy accuracy beside it.
 */
import type { PolicyEngine } from '../engine/types';
import { scoreResponse, type ShapesExample, type Tokenizer } from '../task/shapes';
import { Rng } from '../rng';

export interface ValidationResult {
  /** avg@k at the sampling temperature. */
  sampled: number;
  greedy: number;
}

export async function validationAccuracy(
  engine: PolicyEngine,
  tokenizer: Tokenizer,
  examples: ShapesExample[],
  opts: { maxNewTokens: number; temperature: number; samples: number; seed: number },
): Promise<ValidationResult> {
  const accuracy = async (temperature: number, k: number, random: () => number) => {
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
  const greedy = await accuracy(0, 1, () => 0);
  return { sampled, greedy };
}
