/**
 * Every message between the extension host and the PRPO Studio webviews, declared once (GitLens-style):
 *  - IpcCommand<P>:      webview → host, fire and forget;
 *  - IpcRequest<P, R>:   webview → host, the host answers with a typed reply (matched by `id`);
 *  - IpcNotification<P>: host → webview.
 * The host holds its notifications until the webview sends `ReadyCommand`.
 *
 * A step's rollouts travel as columns (`PackedRollouts`, view/pack.ts); the colour scales are view/signals.ts.
 * This file holds the messages only.
 *
 * Pure types: no Node, vscode or DOM imports.
 */
import type { MetricsRow, RunManifest, RunStatus } from '../run/schema';
import type { PackedDetails, PackedRollouts, TokenField } from '../view/pack';
import type { SignalId } from '../view/signals';
import type { CompareView } from '../view/compare';

export type IpcScope = 'trajectory' | 'charts' | 'compare';

export class IpcCommand<P = void> {
  readonly kind = 'command' as const;
  declare readonly _params: P;
  constructor(readonly scope: IpcScope | 'common', readonly method: string) {}
}

export class IpcRequest<P = void, R = void> {
  readonly kind = 'request' as const;
  declare readonly _params: P;
  declare readonly _response: R;
  constructor(readonly scope: IpcScope | 'common', readonly method: string) {}
}

export class IpcNotification<P = void> {
  readonly kind = 'notification' as const;
  declare readonly _params: P;
  constructor(readonly scope: IpcScope | 'common', readonly method: string) {}
}

export type IpcParams<T> = T extends IpcCommand<infer P> | IpcNotification<infer P> ? P : T extends IpcRequest<infer P, unknown> ? P : never;
export type IpcResponse<T> = T extends IpcRequest<unknown, infer R> ? R : never;

/** What actually crosses postMessage. `id` pairs a request with its reply. */
export interface IpcMessage {
  method: string;
  params?: unknown;
  /** Set on requests and on their replies. */
  id?: number;
  /** Set on a reply whose request failed. */
  error?: string;
  /** Host clock (ms since the epoch) when a notification was posted, for latency measurements. */
  sentAt?: number;
}

/** Any declared message. */
export type IpcType = IpcCommand<unknown> | IpcRequest<unknown, unknown> | IpcNotification<unknown>;

/** The method a message crosses postMessage under, `scope/method`: the one name both sides key handlers by. */
export const methodOf = (t: IpcType): string => `${t.scope}/${t.method}`;

/** A request's reply travels under the request's method plus `/reply`, with the request's `id`. */
export const replyMethod = (method: string): string => `${method}/reply`;
export const isReply = (m: IpcMessage): boolean => m.id !== undefined && m.method.endsWith('/reply');

/** The message of a notification (host → webview) or a command (webview → host). */
export function messageOf<T extends IpcNotification<unknown> | IpcCommand<unknown>>(t: T, params: IpcParams<T>): IpcMessage {
  return { method: methodOf(t), params };
}

/** The message of a request (webview → host) with its id. */
export function requestOf<T extends IpcRequest<unknown, unknown>>(t: T, params: IpcParams<T>, id: number): IpcMessage {
  return { method: methodOf(t), params, id };
}

/** The reply to request message `m`: its result, or the error that failed it. */
export function replyOf<T extends IpcRequest<unknown, unknown>>(_t: T, m: IpcMessage, outcome: { result: IpcResponse<T> } | { error: string }): IpcMessage {
  return 'error' in outcome ? { method: replyMethod(m.method), id: m.id, error: outcome.error } : { method: replyMethod(m.method), id: m.id, params: outcome.result };
}

// ---------------------------------------------------------------------------------------------- data shapes

/** What a trajectory view knows of its run (run/schema.ts RunInfo is the explorer's view of a run directory). */
export interface WebviewRunInfo {
  id: string;
  name: string;
  algorithm: RunManifest['algorithm'];
  source: RunManifest['source'];
  status: RunStatus;
  /** Patch size of the model's image embedding, when the manifest says (for the perturbed-view illustration). */
  patchSize?: number;
  /** Mild-view noise σ from the config, when given (ALGORITHMS.md: 0.1). */
  mildSigma?: number;
  /** Perturbed-view patch drop probability, the run config's `patchDropProb` (ALGORITHMS.md: 0.5). */
  patchDropProb?: number;
  /** The algorithm keys of run.json's config (the what-if panel starts from them). */
  algorithmConfig?: Record<string, unknown>;
  /** The run directory: a rollout's context menu names it to the command it runs (Compare Prompt Across Steps…). */
  runDir?: string;
}

export interface ChartRun {
  id: string;
  name: string;
  algorithm: string;
  status: RunStatus;
  rows: MetricsRow[];
  /** Lines of its metrics file that could not be read, as `file:line: reason` (the rest is in `rows`). */
  issues: string[];
  /** The study arm the run belongs to (study.json: "<arm>-s<seed>"); without one, groups go by preset. */
  arm?: string;
  seed?: number;
}

/** How the charts view draws several runs: each run, or per group the mean with its 95 % CI band. */
export type ChartsGrouping = 'runs' | 'groups';

// ---------------------------------------------------------------------------------------------- messages

/**
 * The webview has loaded and listens; the host flushes what it held. A trajectory view says which step it would
 * open (its saved one) and the columns its first screen needs, so the host can answer with that step's first part
 * in `init` (no request round trip).
 */
export const ReadyCommand = new IpcCommand<{ scope: IpcScope; want?: { step?: number; fields?: TokenField[] } }>('common', 'ready');
/** Something the webview wants the user to see (errors of its own). */
export const ShowMessageCommand = new IpcCommand<{ level: 'info' | 'warning' | 'error'; message: string }>('common', 'showMessage');

/** Load a step's rollouts; `fields`: the columns the first screen needs (the colour in view), else every one. */
export const GetStepRequest = new IpcRequest<{ step: number; fields?: TokenField[] }, StepReply>('trajectory', 'getStep');
/** The answer to GetStepRequest (also the first step, sent with `init` when the webview said what it wants). */
export interface StepReply {
  /**
   * The first rollouts of the step — with `fields` asked for, only those columns (GetDetailsRequest brings the
   * rest after the first paint); the webview asks for the other rollouts with GetStepPartRequest.
   */
  rollouts: PackedRollouts;
  /** How many rollouts the step has, when the host has read it whole (else the last part says). */
  total?: number;
  /** Every signal's range over the rollouts read so far (the whole step when `total` is given). */
  ranges: Partial<Record<SignalId, number>>;
  /** Problems reading the step, so far. */
  issues: string[];
  /** Host-side milliseconds, for the benchmarks. */
  timing?: { readMs: number; packMs: number; sentAt: number };
}
/**
 * The next part of a step being opened, from rollout `from` on. Pulled one at a time by the webview, so leaving
 * a step stops its transfer and a newly opened step never queues behind the rest of the old one. The last part
 * brings what is known once the step is read whole: its total, the ranges over all of it, every problem.
 */
export const GetStepPartRequest = new IpcRequest<
  { step: number; from: number },
  { rollouts: PackedRollouts; last: boolean; total?: number; ranges?: Partial<Record<SignalId, number>>; issues?: string[] }
>('trajectory', 'getStepPart');
/** What the first reply left out of rollouts `from` .. `to` of the step on show: every column but `except`, token ids, top alternatives. */
export const GetDetailsRequest = new IpcRequest<{ step: number; from: number; to: number; except: TokenField[] }, PackedDetails>('trajectory', 'getDetails');
/** A task image as a data: URL (so the webview may read its pixels for the blind/perturbed/mild views). */
export const GetImageRequest = new IpcRequest<{ image: string }, { dataUrl?: string; error?: string }>('trajectory', 'getImage');
/** Live follow on/off: while on, the host streams new rollouts of the current step and moves to new steps. */
export const SetFollowCommand = new IpcCommand<{ follow: boolean; step: number }>('trajectory', 'setFollow');

/**
 * A run config file's contents (commands/startRun.ts readStartConfig) with the what-if panel's settings: save it
 * where the user picks, or start a run from it.
 */
export interface WhatIfRunConfig {
  preset: RunManifest['algorithm'];
  name: string;
  config: Record<string, unknown>;
}
export const SaveWhatIfConfigCommand = new IpcCommand<{ runConfig: WhatIfRunConfig }>('trajectory', 'saveWhatIfConfig');
export const StartWhatIfRunCommand = new IpcCommand<{ runConfig: WhatIfRunConfig }>('trajectory', 'startWhatIfRun');

/**
 * First message to a trajectory view: the run, its steps, the step to show, and `first`: the step it will open,
 * already answered with the columns it asked for in ReadyCommand (no request round trip on opening a view).
 */
export const TrajectoryInitNotification = new IpcNotification<{
  run: WebviewRunInfo;
  steps: number[];
  step?: number;
  first?: { step: number; fields?: TokenField[]; reply: StepReply };
}>('trajectory', 'init');
/** Show another step (the host was asked to, e.g. from the run explorer). */
export const ShowStepNotification = new IpcNotification<{ step: number }>('trajectory', 'showStep');
/** Open the what-if panel (the command *What-If: Re-reshape This Step…*), at `step` when given. */
export const OpenWhatIfNotification = new IpcNotification<{ step?: number }>('trajectory', 'openWhatIf');
/** The set of steps changed (a live run wrote a new step file). */
export const StepsChangedNotification = new IpcNotification<{ steps: number[] }>('trajectory', 'stepsChanged');
/** New rollouts of a step (live); `sentAt`: when the trainer sent them (ms since the epoch), where it says. */
export const RolloutsAppendedNotification = new IpcNotification<{ rollouts: PackedRollouts; sentAt?: number }>('trajectory', 'rolloutsAppended');
export const StatusChangedNotification = new IpcNotification<{ runId: string; status: RunStatus }>('common', 'status');

/** First message to a charts view: every run's metrics so far. */
export const ChartsInitNotification = new IpcNotification<{
  runs: ChartRun[];
  /** The view to start in (a study opens grouped); without it the view keeps the user's last choice, else runs. */
  grouping?: ChartsGrouping;
}>('charts', 'init');
/** New metrics rows of one run (live). */
export const MetricsAppendedNotification = new IpcNotification<{ runId: string; rows: MetricsRow[] }>('charts', 'metricsAppended');

/**
 * The comparison of one prompt across steps or runs (view/compare.ts), sent whole: one prompt's rollouts are few.
 * `issues`: lines of the step files that could not be read, as `file:line: reason`.
 */
export const CompareInitNotification = new IpcNotification<{ view: CompareView; issues: string[] }>('compare', 'init');
