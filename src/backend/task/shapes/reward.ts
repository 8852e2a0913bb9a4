/**
 * The verifiable reward of the shapes task (PGPO's form): R = 0.9 · accuracy + 0.1 · format.
 * Format: "see … answer X <eos>" with exactly one "answer", followed by exactly one word, then <eos>.
 * Accuracy: the word after "answer" equals the ground-truth answer.
 */
import { EOS } from './vocab';

export interface RewardResult {
  reward: number;
  correct: boolean;
  formatOk: boolean;
  /** The answer the response gives ('' when it gives none). */
  predicted: string;
}

export const ACCURACY_WEIGHT = 0.9;
export const FORMAT_WEIGHT = 0.1;

export function scoreResponse(words: readonly string[], answer: string): RewardResult {
  const at = words.indexOf('answer');
  const predicted = at >= 0 && at + 1 < words.length && words[at + 1] !== EOS ? words[at + 1] : '';
  const formatOk =
    words[0] === 'see' &&
    at >= 1 &&
    words.lastIndexOf('answer') === at &&
    words.length === at + 3 &&
    words[at + 2] === EOS &&
    predicted !== '' &&
    !predicted.startsWith('<');
  const correct = predicted === answer;
  return { reward: ACCURACY_WEIGHT * (correct ? 1 : 0) + FORMAT_WEIGHT * (formatOk ? 1 : 0), correct, formatOk, predicted };
}
