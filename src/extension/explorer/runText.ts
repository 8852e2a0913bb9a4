/**
 * What the run explorer says about a run, as plain strings (no vscode, so unit-tested in test/unit/explorer):
 * its label, description and Markdown tooltip, and a cluster job's tooltip. Every piece of run text in them —
 * the name, model, task, source, folder, failure reason, the cluster's message — is someone else's (a shared
 * folder, a cluster job): it goes through displayString (labels) or escapeMarkdown (tooltips).
 */
import * as path from 'node:path';
import { escapeMarkdown } from '../../core/format';
import { presetLabel } from '../../core/presets';
import type { LineIssue, MetricsRow, RunDisplayStatus } from '../../core/run/schema';
import { displayString } from '../../core/visibleText';
import type { ClusterJobView } from '../cluster/view';
import type { RunEntry } from '../runs/runStore';

export const STATUS_ICON: Record<RunDisplayStatus, [string, string | undefined]> = {
  running: ['sync~spin', 'charts.green'],
  paused: ['debug-pause', 'charts.yellow'],
  stopped: ['debug-stop', 'descriptionForeground'],
  completed: ['pass-filled', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  interrupted: ['warning', 'list.warningForeground'],
};

export function stepText(entry: RunEntry): string | undefined {
  const step = entry.lastMetrics?.step ?? entry.info.events.at(-1)?.step;
  const total = entry.live?.status.steps ?? entry.info.manifest?.steps;
  if (step === undefined) return undefined;
  return total ? `step ${step}/${total}` : `step ${step}`;
}

export function describeRow(row: MetricsRow): string {
  const parts: string[] = [];
  if (row.reward !== undefined) parts.push(`R ${row.reward.toFixed(2)}`);
  if (row.accuracy !== undefined) parts.push(`acc ${row.accuracy.toFixed(2)}`);
  if (row.valAccuracy !== undefined) parts.push(`val ${row.valAccuracy.toFixed(2)}`);
  return parts.join(' · ');
}

/** file:line: reason, the file relative to the run. */
export function issueText(runDir: string, issue: LineIssue, relative = true): string {
  const file = relative ? path.relative(runDir, issue.file) || path.basename(issue.file) : issue.file;
  return displayString(`${file}${issue.line ? `:${issue.line}` : ''}: ${issue.reason}`);
}

/**
 * How many problems the explorer lists under a run. A run whose files have thousands of bad lines would
 * otherwise be thousands of rows (and tree items); the rest are one row that opens the log, which has them all.
 */
export const MAX_ISSUE_ROWS = 20;

/** One problem row under a run: `issue` when it names one problem (a click opens its file:line), else the rest. */
export interface IssueRow {
  label: string;
  tooltip: string;
  issue?: LineIssue;
  /** How many problems the row stands for when it is the "… and N more" row. */
  more?: number;
}

/** The problem rows under a run: the first MAX_ISSUE_ROWS as `file:line: reason`, then one "… and N more" row. */
export function issueRows(runDir: string, issues: readonly LineIssue[]): IssueRow[] {
  const rows: IssueRow[] = issues.slice(0, MAX_ISSUE_ROWS).map((issue) => ({ label: issueText(runDir, issue), tooltip: issueText(runDir, issue, false), issue }));
  const more = issues.length - rows.length;
  if (more > 0) {
    rows.push({
      label: `… and ${more.toLocaleString('en-US')} more — open the log`,
      tooltip: `${issues.length.toLocaleString('en-US')} problems reading this run; the first: ${issueText(runDir, issues[0], false)}. The PRPO Studio log lists every one.`,
      more,
    });
  }
  return rows;
}

export function runLabel(entry: RunEntry): string {
  return displayString(entry.info.name);
}

/**
 * The line beside the run's name. The side bar's default width shows about 30 characters of it, so what
 * changes — the step and the reward — comes first, then the status and the algorithm.
 */
export function runDescription(entry: RunEntry, job?: ClusterJobView): string {
  const { info, status, live } = entry;
  const phase = live && live.phase !== 'running' && live.phase !== 'paused' ? live.phase : status;
  // Other trainers' logs do not say which estimator ran (unless the importer was told).
  const algorithmUnknown = entry.imported && info.manifest?.config.algorithmKnown === false;
  const parts = [
    !info.manifest ? 'run.json missing or invalid' : undefined,
    stepText(entry),
    entry.lastMetrics?.reward !== undefined ? `R ${entry.lastMetrics.reward.toFixed(2)}` : undefined,
    // Imported logs say nothing about whether the run goes on: name where they came from instead.
    info.manifest && !entry.imported ? phase : undefined,
    info.manifest && !algorithmUnknown ? presetLabel(info.manifest.algorithm) : undefined,
    entry.imported ? `imported from ${info.manifest!.source}` : undefined,
    // Ray's word on the job beside ours: they differ while Ray starts or stops it.
    job ? `Ray ${job.status}` : undefined,
  ];
  return displayString(parts.filter(Boolean).join(' · '));
}

/** The run's tooltip (Markdown; theme icons on, commands off). */
export function runTooltipMarkdown(entry: RunEntry, job?: ClusterJobView): string {
  const { info, status, live } = entry;
  const m = info.manifest;
  const out: string[] = [];
  out.push(`**${escapeMarkdown(info.name)}** — $(${STATUS_ICON[status][0].replace('~spin', '')}) ${status}${live ? ' (live in this window)' : ''}\n\n`);
  const rows: Array<[string, string | undefined]> = [
    ['Algorithm', m && presetLabel(m.algorithm)],
    ['Source', m?.source],
    ['Created', m?.created],
    ['Model', m?.model.name],
    ['Task', m?.task.name],
    ['Seed', m ? String(m.seed) : undefined],
    ['Step', stepText(entry)],
    ['Reward', entry.lastMetrics?.reward?.toFixed(4)],
    ['Accuracy', entry.lastMetrics?.accuracy?.toFixed(4)],
    ['Execution provider', live?.status.ep],
    ['Ray job', job && `${job.id} on ${job.cluster}: ${job.status}`],
    ['Checkpoints', String(info.checkpoints.length)],
    ['Folder', info.dir],
  ];
  out.push('| | |\n|---|---|\n');
  for (const [k, v] of rows) if (v !== undefined) out.push(`| ${k} | ${escapeMarkdown(v)} |\n`);
  const lastFailure = info.events.filter((e) => e.type === 'failed').at(-1);
  if (status === 'failed' && lastFailure?.reason) out.push(`\n**Failed:** ${escapeMarkdown(lastFailure.reason)}\n`);
  if (status === 'interrupted') out.push('\nThe process that wrote this run is gone; resume it from a checkpoint.\n');
  if (info.issues.length) {
    // Name the problems (file:line: reason), not "see the log": the first few, then how many more.
    const shown = info.issues.slice(0, 3).map((i) => `- ${escapeMarkdown(issueText(info.dir, i))}\n`);
    out.push(`\n**${info.issues.length.toLocaleString('en-US')} problem(s) reading the run:**\n\n${shown.join('')}`);
    if (info.issues.length > shown.length) out.push(`- … and ${(info.issues.length - shown.length).toLocaleString('en-US')} more (${info.issues.length > MAX_ISSUE_ROWS ? 'the log lists them all' : 'listed under the run'})\n`);
  }
  return out.join('');
}

/** A Ray job's tooltip (Markdown, nothing trusted). */
export function clusterJobTooltipMarkdown(id: string, job: ClusterJobView): string {
  const head = `**Ray job** ${escapeMarkdown(id)} on cluster **${escapeMarkdown(job.cluster)}** (${escapeMarkdown(job.address)}): ${escapeMarkdown(job.status)}`;
  return job.message ? `${head}\n\n${escapeMarkdown(job.message)}` : head;
}

/**
 * The run a picker ticks first: the one on screen (its trajectory view), else the one training in this window,
 * else the newest (`runs` come newest first).
 */
export function preferredRun(runs: readonly RunEntry[], onScreen: string | undefined, live: string | undefined): string | undefined {
  const has = (dir: string | undefined) => dir !== undefined && runs.some((e) => e.info.dir === dir);
  return has(onScreen) ? onScreen : has(live) ? live : runs[0]?.info.dir;
}

/** The run row's contextValue, on which its menus key (see the list at the top of runExplorer.ts). */
export function runContextValue(entry: RunEntry, job?: ClusterJobView): string {
  if (!entry.info.manifest) return 'run.broken';
  if (entry.imported) return 'run.imported';
  if (job) return `run.cluster.${job.status.toLowerCase()}${resumable(entry)}`;
  if (entry.live) return entry.status === 'paused' ? 'run.paused' : 'run.running';
  if (entry.status === 'running' || entry.status === 'paused') return `run.${entry.status}.external`;
  return `run.${entry.status}${resumable(entry)}`;
}

/** "Resume from Checkpoint…" keys on this: a finished run without a complete checkpoint has nothing to resume. */
function resumable(entry: RunEntry): string {
  return entry.info.checkpoints.some((c) => c.complete) ? '' : '.nocheckpoint';
}
