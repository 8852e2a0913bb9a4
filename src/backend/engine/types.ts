/**
 * What the trainer needs from the engine. The engine (onnxruntime-node) implements it; the trainer and
 * its tests program against it. Sequences are token ids; images are Float32Array in CHW order, values
 * in [0, 1], of the size the model config names.
 */
import type { PolicyLossOptions, PolicyLossResult } from '../../core/algorithms/loss';
import type { ExecutionProvider } from '../../core/protocol/backend';
import type { ModelConfig } from './model';

/** One sequence for teacher-forced scoring or training: [image tokens; prompt; response]. */
export interface SequenceInput {
  image: Float32Array;
  prompt: number[];
  response: number[];
  /** Mask attention to all image tokens (the `blind` view); positions and shapes unchanged. */
  blind?: boolean;
}

export interface SampleRequest {
  images: Float32Array[];
  prompts: number[][];
  maxNewTokens: number;
  temperature: number;
  topP: number;
  /** Generation ends for a sequence after it emits this token (which is kept). */
  stopToken: number;
  /** Uniform [0,1) source, so sampling is reproducible from the trainer's RNG stream. */
  random: () => number;
}

export interface SampleResult {
  /** The sampled response tokens per sequence (stop token included when reached). */
  tokens: number[][];
  /** log π(o_t | s_t) of each sampled token under the (untempered) policy. */
  logp: Float32Array[];
}

export interface ScoreResult {
  /** Per sequence, the log-prob of each response token. */
  logp: Float32Array[];
  /** Per sequence, the policy entropy at each response position. */
  entropy: Float32Array[];
  /** Per sequence, the full log-distribution [L × vocab] at each response position (only when asked). */
  logProbs?: Float32Array[];
}

export interface PolicyBatch {
  sequences: SequenceInput[];
  /** Final per-token advantages Ã (masked tokens carry 0 but still count in the token-mean). */
  advantages: Float32Array[];
  /** log π_old of each response token. */
  oldLogp: Float32Array[];
  /** log π_ref of each response token (for the KL term; required when klCoef > 0). */
  refLogp?: Float32Array[];
}

/**
 * What one policy update reports: §5's loss terms, clip fraction and approximate KL as core's reference
 * defines them (loss.ts), plus the policy entropy and the gradient norm (before clipping).
 */
export type StepStats = Pick<PolicyLossResult, 'loss' | 'pgLoss' | 'entropyLoss' | 'klLoss' | 'clipFraction' | 'approxKl'> & {
  entropy: number;
  gradNorm: number;
};

/** The statistics of an update over no tokens, and the start of a sum of them. */
export function zeroStepStats(): StepStats {
  return { loss: 0, pgLoss: 0, entropyLoss: 0, klLoss: 0, clipFraction: 0, entropy: 0, approxKl: 0, gradNorm: 0 };
}

export interface PolicyEngine {
  readonly config: ModelConfig;
  /** The provider actually in use (after any fallback). */
  readonly ep: ExecutionProvider;
  sample(req: SampleRequest): Promise<SampleResult>;
  /** Teacher-forced scoring of many sequences (all views of a batch) in one call. */
  score(seqs: SequenceInput[], opts?: { fullDistribution?: boolean }): Promise<ScoreResult>;
  /** One clipped-surrogate update (gradient, clipping, AdamW) on the batch. */
  policyStep(batch: PolicyBatch, loss: PolicyLossOptions): Promise<StepStats>;
  /** The optimizer's learning rate from the next update on (the trainer schedules a warm-up). */
  setLearningRate(lr: number): void;
  /** One supervised cross-entropy update on the response tokens (warm start). */
  supervisedStep(seqs: SequenceInput[]): Promise<{ loss: number; gradNorm: number }>;
  /** Weights and optimizer state as safetensors bytes. */
  saveState(): { weights: Uint8Array; optimizer: Uint8Array };
  loadState(state: { weights: Uint8Array; optimizer?: Uint8Array }): void;
  dispose(): Promise<void>;
}
