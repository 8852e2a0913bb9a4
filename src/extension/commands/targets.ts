/**
 * What a command acts on. Commands are invoked from the palette (no argument: ask with a quick pick), the
 * explorer (an ExplorerNode, plus the selection), the editor title or file explorer (a Uri inside a run),
 * the status bar, notifications and webviews (a run directory as a string).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseStepName } from '../../core/run/schema';
import type { BackendManager, LiveRun } from '../backend/backendManager';
import type { ExplorerNode } from '../explorer/runExplorer';
import { presetLabel } from '../../core/presets';
import type { RunEntry, RunStore } from '../runs/runStore';
import { escapeLabel, escapeNotice } from '../../core/format';

export type CommandArg = ExplorerNode | vscode.Uri | string | undefined;

export interface Target {
  entry: RunEntry;
  /** A step named by the argument (a step node, a rollouts/step-N.jsonl file). */
  step?: number;
  /** A checkpoint folder named by the argument. */
  checkpoint?: string;
}

function isNode(arg: unknown): arg is ExplorerNode {
  return typeof arg === 'object' && arg !== null && 'kind' in arg && 'runDir' in arg;
}

/** The run (and step/checkpoint) an argument names, or undefined when it names none. */
export function targetOf(store: RunStore, arg: CommandArg): Target | undefined {
  if (isNode(arg)) {
    const entry = store.get(arg.runDir);
    if (!entry) return undefined;
    if (arg.kind === 'step') return { entry, step: arg.step };
    if (arg.kind === 'checkpoint') return { entry, checkpoint: arg.checkpoint.path, step: arg.checkpoint.step };
    return { entry };
  }
  const fsPath = arg instanceof vscode.Uri ? arg.fsPath : typeof arg === 'string' ? arg : undefined;
  if (!fsPath) return undefined;
  const entry = store.get(fsPath) ?? store.findByPath(fsPath);
  if (!entry) return undefined;
  const step = parseStepName(path.basename(fsPath));
  const inCheckpoints = path.basename(path.dirname(fsPath)) === 'checkpoints';
  return inCheckpoints ? { entry, checkpoint: fsPath, step } : { entry, step };
}

/** A run picked by the user among `entries` (at once when there is only one). */
export async function pickRun(entries: RunEntry[], placeHolder: string): Promise<RunEntry | undefined> {
  if (entries.length === 0) return undefined;
  if (entries.length === 1) return entries[0];
  const picked = await vscode.window.showQuickPick(
    entries.map((entry) => ({ label: escapeLabel(entry.info.name), description: runDescription(entry), detail: entry.info.dir, entry })),
    { placeHolder, matchOnDescription: true, matchOnDetail: true },
  );
  return picked?.entry;
}

export function runDescription(entry: RunEntry): string {
  const algo = entry.info.manifest ? presetLabel(entry.info.manifest.algorithm) : 'invalid run.json';
  const step = entry.lastMetrics ? `step ${entry.lastMetrics.step}` : '';
  return [algo, entry.status, step].filter(Boolean).join(' · ');
}

/**
 * The live run a control command acts on: the one the argument names, else the only candidate, else one
 * the user picks. Says why when there is none (never fails silently).
 */
export async function liveRunFor(
  store: RunStore,
  backends: BackendManager,
  arg: CommandArg,
  accepts: (run: LiveRun) => boolean,
  verb: string,
): Promise<LiveRun | undefined> {
  const target = targetOf(store, arg);
  if (target) {
    const run = backends.get(target.entry.info.dir);
    if (!run) {
      vscode.window.showWarningMessage(`Cannot ${verb} "${escapeNotice(target.entry.info.name)}": it is not running in this window (${target.entry.status}).`);
      return undefined;
    }
    if (!accepts(run)) {
      vscode.window.showWarningMessage(`Cannot ${verb} "${escapeNotice(target.entry.info.name)}" while it is ${run.phase}.`);
      return undefined;
    }
    return run;
  }
  const candidates = backends.all().filter(accepts);
  if (candidates.length === 0) {
    vscode.window.showInformationMessage(`No training run in this window can ${verb} now.`);
    return undefined;
  }
  const active = backends.active;
  if (candidates.length === 1) return candidates[0];
  const entries = candidates.map((r) => store.get(r.runDir)).filter((e): e is RunEntry => !!e);
  // The active run first; the others keep their order (sort is stable).
  const first = (e: RunEntry): number => (e.info.dir === active?.runDir ? 0 : 1);
  const picked = await pickRun(entries.sort((a, b) => first(a) - first(b)), `Which run to ${verb}?`);
  return picked && backends.get(picked.info.dir);
}
