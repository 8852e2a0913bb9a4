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

/**
 * What a viewer shows: the RunStatus, or 'interrupted' when the events say running/paused but the process
 * that wrote them is gone (a crash, a kill -9, a closed editor). The backend marks such a run 'failed'.
 */
export type RunDisplayStatus = RunStatus | 'interrupted';

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
  /** The step the run trains to: what it was started with, or the target of its latest resume (more or fewer). */
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
  /** `perturbedMasks`: every perturbed mask's row where several were scored (PRPO-R multimask); `perturbed` is the first. */
  logp: Partial<Record<ViewName, number[]>> & { image: number[]; perturbedMasks?: number[][] };
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
  /**
   * Set by importers of other trainers' logs: the fields that were not recorded but filled in so the
   * record has the usual shape (e.g. ["tokens", "logp.image", "tokenAdvantages"] for response-level dumps:
   * tokens split on whitespace, log-probs NaN, the advantage repeated). Absent for the built-in trainer.
   */
  synthetic?: string[];
  /** Fields of an imported record that have no place above (e.g. verl's reward_extra_info), kept for hovers. */
  extra?: Record<string, unknown>;
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
  /** For 'started'/'resumed': os.hostname() of that process; a pid is only checked on the same host. */
  host?: string;
}

/** checkpoints/step-NNNNNN/manifest.json: lets a reader refuse a truncated or corrupt checkpoint. */
export interface CheckpointManifest {
  step: number;
  time: string;
  files: Record<string, { bytes: number; sha256: string }>;
}

/** A checkpoint folder as listed (cheap checks: manifest present, every file present with its size). */
export interface CheckpointEntry {
  step: number;
  /** Absolute path of checkpoints/step-NNNNNN. */
  path: string;
  complete: boolean;
}

/** Everything the run explorer needs about one run directory (or an imported run). */
export interface RunInfo {
  /** Absolute path of the run directory (for an import: the folder that was read). */
  dir: string;
  /** manifest.id, or the folder name when run.json is missing or broken. */
  id: string;
  /** manifest.name, or the folder name. */
  name: string;
  /** Undefined when run.json is missing or broken; `issues` says why. */
  manifest: RunManifest | undefined;
  status: RunDisplayStatus;
  events: RunEvent[];
  checkpoints: CheckpointEntry[];
  /** Steps that have a rollouts file, ascending. */
  rolloutSteps: number[];
  /** Every malformed line met while reading (run.json, events.jsonl), as `file:line: reason`. */
  issues: LineIssue[];
}

/** A problem with one line of one file; its text form is `file:line: reason` (lines.ts formatIssue). */
export interface LineIssue {
  file: string;
  /** 1-based; 0 when the problem is with the file as a whole (missing, unreadable). */
  line: number;
  reason: string;
}

export const stepName = (step: number): string => `step-${String(step).padStart(6, '0')}`;

/** The inverse of stepName ("step-000012" or "step-000012.jsonl" → 12); undefined for other names. */
export function parseStepName(name: string): number | undefined {
  const m = /^step-(\d+)(?:\.jsonl)?$/.exec(name);
  return m ? Number(m[1]) : undefined;
}
