/**
 * Compare Prompt Across Steps… (`prpoStudio.compareAcrossSteps`): pick a run, a prompt (with its text and how
 * many steps sampled it; validation prompts first) and the steps to show — or several runs, one step and a
 * prompt — and open the comparison (panels/comparePanel.ts). From the explorer (a run or a step) the run, and
 * the step, are given; from a rollout's context menu in the trajectory view the run, the step and the prompt.
 * It only reads, so it works in untrusted workspaces.
 */
import * as vscode from 'vscode';
import type { RolloutRecord } from '../../core/run/schema';
import { DEFAULT_MAX_COLUMNS, PromptCatalogue, comparePrompt, packComparison, spreadSteps, type CompareColumnInput, type PromptEntry } from '../../core/view/compare';
import { escapeLabel, escapeNotice } from '../../core/format';
import { displayString } from '../../core/visibleText';
import { ComparePanel } from '../panels';
import type { RunSource } from '../panels/runSource';
import type { RunEntry, RunStore } from '../runs/runStore';
import { pickRun, runDescription, targetOf, type CommandArg } from './targets';

/** Most columns one comparison shows: more would make each too narrow to read. */
export const MAX_COLUMNS = 16;

/** What a rollout card in the trajectory view carries as its `data-vscode-context` (webview/trajectory/windowedList.ts). */
export interface RolloutContext {
  webviewSection: 'rollout';
  runDir: string;
  step: number;
  group: string;
}

function isRolloutContext(arg: unknown): arg is RolloutContext {
  const a = arg as Partial<RolloutContext> | null;
  return typeof a === 'object' && a !== null && a.webviewSection === 'rollout' && typeof a.runDir === 'string' && typeof a.step === 'number' && typeof a.group === 'string';
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const preview = (s: string, max = 160): string => {
  const d = displayString(s);
  return d.length > max ? `${d.slice(0, max)}…` : d;
};

export interface CompareDeps {
  context: vscode.ExtensionContext;
  store: RunStore;
  sourceOf: (entry: RunEntry) => RunSource;
}

/** Runs the command for `arg` (palette: undefined; explorer: a node; trajectory view: a RolloutContext). */
export async function compareAcrossSteps(deps: CompareDeps, arg?: CommandArg | RolloutContext): Promise<ComparePanel | undefined> {
  const { store } = deps;
  const withRollouts = (e: RunEntry): boolean => !!e.info.manifest && e.info.rolloutSteps.length > 0;

  if (isRolloutContext(arg)) {
    const entry = store.get(arg.runDir);
    if (!entry) throw new Error(`The run at ${arg.runDir} is no longer in the runs list.`);
    const source = deps.sourceOf(entry);
    const catalogue = await scanPrompts(entry, source);
    if (!catalogue) return undefined;
    const sampled = catalogue.entries().find((p) => p.group === arg.group)?.steps ?? [arg.step];
    // The steps that sampled the prompt, spread, and always the one the menu was opened on.
    const steps = [...new Set([...spreadSteps(sampled, DEFAULT_MAX_COLUMNS - 1), arg.step])].sort((a, b) => a - b);
    return open(deps, [{ entry, source }], steps, arg.group);
  }

  const target = targetOf(store, arg as CommandArg);
  let entry = target?.entry;
  if (!entry) {
    const candidates = store.runs().filter(withRollouts);
    if (candidates.length === 0) {
      void vscode.window.showInformationMessage(store.runs().length ? 'No run has rollouts to compare yet.' : `No runs in ${store.root ?? 'the runs directory'} yet.`);
      return undefined;
    }
    if (candidates.length > 1) {
      const mode = await vscode.window.showQuickPick(
        [
          { label: 'Across steps of one run', detail: 'How training changed the answers to one prompt', across: 'steps' as const },
          { label: 'The same step across runs', detail: 'How several runs answered one prompt at one step', across: 'runs' as const },
        ],
        { title: 'Compare a prompt', placeHolder: 'Compare across steps or across runs?' },
      );
      if (!mode) return undefined;
      if (mode.across === 'runs') return acrossRuns(deps, candidates);
    }
    entry = await pickRun(candidates, 'Compare a prompt across the steps of which run?');
    if (!entry) return undefined;
  }
  if (!withRollouts(entry)) {
    void vscode.window.showInformationMessage(`"${escapeNotice(entry.info.name)}" has no rollouts to compare.`);
    return undefined;
  }
  const source = deps.sourceOf(entry);
  const catalogue = await scanPrompts(entry, source);
  if (!catalogue) return undefined;
  const allSteps = await source.steps();
  const prompt = await pickPrompt(catalogue.entries(), allSteps.length, `Compare which prompt of "${escapeLabel(entry.info.name)}"?`, target?.step);
  if (!prompt) return undefined;
  const steps = await pickSteps(allSteps, prompt, target?.step);
  if (!steps) return undefined;
  return open(deps, [{ entry, source }], steps, prompt.group);
}

/** The same step of several runs: pick the runs, the step, then a prompt of that step. */
async function acrossRuns(deps: CompareDeps, candidates: RunEntry[]): Promise<ComparePanel | undefined> {
  const picked = await vscode.window.showQuickPick(
    candidates.map((entry) => ({ label: escapeLabel(entry.info.name), description: runDescription(entry), detail: entry.info.dir, entry })),
    { canPickMany: true, title: 'Compare a prompt across runs', placeHolder: 'Which runs? (two or more)', matchOnDetail: true },
  );
  if (!picked) return undefined;
  if (picked.length < 2) {
    void vscode.window.showInformationMessage('Pick two or more runs to compare one step across them.');
    return undefined;
  }
  const runs = picked.map((p) => ({ entry: p.entry, source: deps.sourceOf(p.entry) }));
  const stepsOf = await Promise.all(runs.map((r) => r.source.steps()));
  const union = [...new Set(stepsOf.flat())].sort((a, b) => b - a);
  const stepPick = await vscode.window.showQuickPick(
    union.map((s) => {
      const n = stepsOf.filter((st) => st.includes(s)).length;
      return { label: `step ${s}`, description: n === runs.length ? `in all ${n} runs` : `in ${n} of ${runs.length} runs`, step: s };
    }),
    { title: 'Compare a prompt across runs', placeHolder: 'At which step?' },
  );
  if (!stepPick) return undefined;
  const step = stepPick.step;
  const catalogue = new PromptCatalogue();
  for (let i = 0; i < runs.length; i++) if (stepsOf[i].includes(step)) catalogue.add(i, await runs[i].source.readStep(step));
  // The catalogue counts runs here (one "step" per run).
  const prompt = await pickPrompt(catalogue.entries(), runs.length, `Compare which prompt of step ${step}?`, undefined, 'run');
  if (!prompt) return undefined;
  return open(deps, runs, [step], prompt.group);
}

/**
 * The run's prompts: each step read once (with progress; cancelling returns undefined) and kept per run, so the
 * next comparison reads only the steps that are new — and the last one again while the run is live (it grows).
 * A new lifecycle event (a resume from an earlier checkpoint rewrites the later steps) starts the run afresh.
 */
const catalogues = new Map<string, { events: number; catalogue: PromptCatalogue }>();

async function scanPrompts(entry: RunEntry, source: RunSource): Promise<PromptCatalogue | undefined> {
  const steps = await source.steps();
  const events = entry.info.events.length;
  const kept = catalogues.get(source.runDir);
  const catalogue = kept && kept.events === events ? kept.catalogue : new PromptCatalogue();
  const live = source.status() === 'running' || source.status() === 'paused';
  const toRead = steps.filter((s, i) => !catalogue.has(s) || (live && i === steps.length - 1));
  if (toRead.length === 0) return catalogue;
  const done = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Reading the prompts of "${escapeNotice(source.manifest.name)}"`, cancellable: true },
    async (progress, token) => {
      for (let i = 0; i < toRead.length; i++) {
        if (token.isCancellationRequested) return false;
        progress.report({ message: `step ${toRead[i]} (${i + 1} of ${toRead.length})`, increment: 100 / toRead.length });
        catalogue.add(toRead[i], await source.readStep(toRead[i]));
      }
      return true;
    },
  );
  // What was read stays for the next time, even when cancelled (a step is added whole or not at all).
  catalogues.set(source.runDir, { events, catalogue });
  return done ? catalogue : undefined;
}

/** A prompt picked among `prompts` (validation prompts first), each with its text and how many steps (or runs) have it. */
async function pickPrompt(prompts: PromptEntry[], total: number, title: string, atStep?: number, unit: 'step' | 'run' = 'step'): Promise<PromptEntry | undefined> {
  const shown = atStep === undefined ? prompts : prompts.filter((p) => p.steps.includes(atStep));
  if (shown.length === 0) {
    void vscode.window.showInformationMessage(atStep === undefined ? 'No prompts to compare.' : `Step ${atStep} has no rollouts.`);
    return undefined;
  }
  type Item = vscode.QuickPickItem & { prompt?: PromptEntry };
  const items: Item[] = [];
  let section: boolean | undefined;
  for (const p of shown) {
    if (p.validation !== section) {
      section = p.validation;
      items.push({ label: p.validation ? 'Validation prompts' : 'Training prompts', kind: vscode.QuickPickItemKind.Separator });
    }
    items.push({
      label: escapeLabel(p.group),
      description: `${unit === 'step' ? 'sampled at' : 'in'} ${p.steps.length} of ${plural(total, unit)} · ${plural(p.rollouts, 'rollout')}`,
      detail: preview(p.prompt),
      prompt: p,
    });
  }
  const picked = await vscode.window.showQuickPick(items, { title, placeHolder: 'Type to filter by group id or prompt text', matchOnDescription: true, matchOnDetail: true });
  return picked?.prompt;
}

/**
 * The steps to show, from all of the run's: those that sampled the prompt are ticked (spread over at most
 * DEFAULT_MAX_COLUMNS, with `atStep` kept); a step that did not sample it can be ticked too (its column says so).
 */
async function pickSteps(allSteps: number[], prompt: PromptEntry, atStep?: number): Promise<number[] | undefined> {
  const defaults = new Set(spreadSteps(prompt.steps, atStep === undefined ? DEFAULT_MAX_COLUMNS : DEFAULT_MAX_COLUMNS - 1));
  if (atStep !== undefined) defaults.add(atStep);
  const sampled = new Set(prompt.steps);
  const picked = await vscode.window.showQuickPick(
    allSteps.map((s) => ({ label: `step ${s}`, description: sampled.has(s) ? 'sampled' : 'not sampled', picked: defaults.has(s), step: s })),
    { canPickMany: true, title: `Compare ${escapeLabel(prompt.group)} at which steps?`, placeHolder: `Steps that sampled it are ticked (at most ${DEFAULT_MAX_COLUMNS}); ${MAX_COLUMNS} at most` },
  );
  if (!picked?.length) return undefined;
  let steps = picked.map((p) => p.step).sort((a, b) => a - b);
  if (steps.length > MAX_COLUMNS) {
    steps = spreadSteps(steps, MAX_COLUMNS);
    void vscode.window.showInformationMessage(`Showing ${MAX_COLUMNS} of the ${picked.length} steps picked, spread from the first to the last.`);
  }
  return steps;
}

/** Reads the steps and opens the comparison: one column per step of one run, or per run at one step. */
async function open(deps: CompareDeps, runs: Array<{ entry: RunEntry; source: RunSource }>, steps: number[], group: string): Promise<ComparePanel> {
  const issues: string[] = [];
  const inputs: CompareColumnInput[] = [];
  const algorithms: Array<RunEntry['info']['manifest']> = [];
  const acrossRuns = runs.length > 1;
  for (const { entry, source } of runs) {
    const have = new Set(await source.steps());
    for (const step of steps) {
      const run = acrossRuns ? displayString(entry.info.name) : undefined;
      algorithms.push(entry.info.manifest);
      if (!have.has(step)) {
        inputs.push({ step, run, rollouts: undefined, unreadable: `${run ?? 'the run'} has no step ${step}` });
        continue;
      }
      let rollouts: RolloutRecord[];
      try {
        rollouts = await source.readStep(step, (m) => issues.push(m));
      } catch (e) {
        inputs.push({ step, run, rollouts: undefined, unreadable: `step ${step} could not be read: ${e instanceof Error ? e.message : String(e)}` });
        continue;
      }
      inputs.push({ step, run, rollouts });
    }
  }
  const cmp = comparePrompt(group, inputs);
  const view = packComparison(cmp, (c) => algorithms[cmp.columns.indexOf(c)]?.algorithm);
  const key = JSON.stringify([runs.map((r) => r.entry.info.dir), steps, group]);
  return ComparePanel.show(deps.context, key, view, issues.map(String), runs.map((r) => r.entry.info.dir));
}
