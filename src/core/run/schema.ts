/**
 * The run directory — the contract between trainers and the viewer (DESIGN.md, "The run directory").
 *
 *   <runsRoot>/<runId>/
 *     run.json                      RunManifest
 *     metrics.jsonl                 one MetricsRow per step
 *     rollouts/step-NNNNNN.jsonl    one RolloutRecord per rollout
 *     images/                       task images (PNG), referenced by RolloutRecord.image
 *     checkpoints/step-NNNNNN/      weights + optimizer (safetensors) + trainer.json + manifest.json
 *     events.jsonl                  one RunEvent per lifecycle change
 *
 * Every file but run.json is append-only JSONL. Pure types: no Node, vscode or DOM imports.
 */

export const RUN_SCHEMA = 'prpo-studio/run@1';

export type AlgorithmName = 'grpo' | 'dapo' | 'vppo' | 'pgpo' | 'prpo';

/** Where the run came from: our own trainer, or an importer of another trainer's logs. */
export type RunSource = 'prpo-studio' | 'verl' | 'easyr1' | 'trl';

/** The lifecycle of a run, derived from events.jsonl (the last event wins). */
export type RunStatus = 'running' | 'paused' | 'stopped' | 'completed' | 'failed';

export interface RunManifest {
  schema: typeof RUN_SCHEMA;
  id: string;
  name: string;
  /** ISO-8601 time of creation. */
  created: string;
  source: RunSource;
  /** The preset the run started from. */
  algorithm: AlgorithmName;
  /** The full, resolved configuration (preset defaults merged with user overrides). */
  config: Record<string, unknown>;
  model: { name: string; config: Record<string, unknown> };
  task: { name: string; config: Record<string, unknown> };
  seed: number;
  /** Total steps the run was asked for (may grow on resume). */
  steps?: number;
}

/**
 * One row of metrics.jsonl. Flat and numeric so any field can be charted and runs overlaid.
 * Well-known keys are listed; trainers may add others (all numbers).
 */
export interface MetricsRow {
  step: number;
  /** Seconds since the Unix epoch when the step finished. */
  time?: number;
  reward?: number;
  accuracy?: number;
  /** Present on the steps that ran validation. */
  valAccuracy?: number;
  loss?: number;
  pgLoss?: number;
  entropyLoss?: number;
  klLoss?: number;
  clipFraction?: number;
  entropy?: number;
  approxKl?: number;
  gradNorm?: number;
  /** Fraction of response tokens whose dependency score marks them perceptual. */
  dependencySparsity?: number;
  /** AUROC of each dependency score against the ground-truth perceptual flags: aurocS, aurocG, aurocU, aurocRvd. */
  aurocS?: number;
  aurocG?: number;
  aurocU?: number;
  aurocRvd?: number;
  timeSampleMs?: number;
  timeProbeMs?: number;
  timeUpdateMs?: number;
  timeStepMs?: number;
  [key: string]: number | undefined;
}

/** The teacher-forced log-probs of the sampled response under each view (ALGORITHMS.md, Notation). */
export type ViewName = 'image' | 'blind' | 'perturbed' | 'mild';

/**
 * One rollout: a line of rollouts/step-NNNNNN.jsonl. Per-token arrays all have `tokens.length` entries
 * (ALGORITHMS.md §7). Optional arrays are present when the algorithm computed them.
 */
export interface RolloutRecord {
  id: string;
  step: number;
  /** The GRPO group: rollouts of one prompt share it. */
  group: string;
  prompt: string;
  /** Image path relative to the run directory (e.g. "images/train-000123.png"). */
  image?: string;
  /** The verifiable ground-truth answer, when the task has one. */
  answer?: string;
  /** The full response text (the concatenation of `tokens`). */
  response: string;
  reward: number;
  correct?: boolean;
  /** Outcome advantage A_i (§1). */
  advantage: number;
  /** VPPO's trajectory weight α_i (§2). */
  alpha?: number;
  tokens: string[];
  tokenIds?: number[];
  logp: Partial<Record<ViewName, number[]>> & { image: number[] };
  /** Dependency scores: S (VPPO/PGPO), G (grounding), U (instability), rvd (PRPO-R). */
  scores?: { S?: number[]; G?: number[]; U?: number[]; rvd?: number[] };
  /** Reshaping weight per token: PGPO ω̃_t or PRPO-R w_t. */
  weights?: number[];
  /** VPPO's token mask m_{i,t} (0 or 1). */
  mask?: number[];
  /** Final per-token advantage Ã_{i,t}, the factor of the ratio in the loss. */
  tokenAdvantages: number[];
  /** Ground truth from the built-in task: 1 where the token is determined by the image. */
  perceptual?: number[];
  /** Top alternatives per token, where recorded: [token text, log-prob] pairs. */
  topAlternatives?: Array<Array<[string, number]>>;
}

export type RunEventType = 'started' | 'paused' | 'resumed' | 'checkpoint' | 'stopped' | 'completed' | 'failed';

export interface RunEvent {
  type: RunEventType;
  /** ISO-8601 time. */
  time: string;
  step: number;
  /** For 'failed' (and optionally 'stopped'): why. */
  reason?: string;
  /** For 'checkpoint': the checkpoint folder relative to the run directory. */
  checkpoint?: string;
  /** For 'started'/'resumed': the process that writes the run (to tell a dead writer from a live one). */
  pid?: number;
}

/** checkpoints/step-NNNNNN/manifest.json: lets a reader refuse a truncated or corrupt checkpoint. */
export interface CheckpointManifest {
  step: number;
  time: string;
  files: Record<string, { bytes: number; sha256: string }>;
}

export const stepName = (step: number): string => `step-${String(step).padStart(6, '0')}`;
