/** Every `prpoStudio.*` command (package.json "contributes.commands"); `when` clauses hide the ones that make no sense now. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { stepName } from '../../core/run/schema';
import { runFiles } from '../../core/run/reader';
import { backendOfRun, type BackendManager, type LiveRun } from '../backend/backendManager';
import * as config from '../config';
import type { ExplorerNode, RunExplorer } from '../explorer/runExplorer';
import { rolloutTokensUri } from '../hovers/rolloutDocument';
import { ChartsPanel, TrajectoryPanel, type RunSource } from '../panels';
import { readStudy } from '../../core/study/folder';
import type { RunEntry, RunStore } from '../runs/runStore';
import { compareAcrossSteps, type RolloutContext } from './compareAcrossSteps';
import { askStartParams, defaultStartParams, readStartConfig } from './startRun';
import { preferredRun } from '../explorer/runText';
import { liveRunFor, pickRun, runDescription, targetOf, type CommandArg } from './targets';
import type { StartParams } from '../../core/protocol/backend';
import { escapeLabel, escapeNotice } from '../../core/format';

export interface CommandDeps {
  context: vscode.ExtensionContext;
  store: RunStore;
  backends: BackendManager;
  explorer: RunExplorer;
  treeView: vscode.TreeView<ExplorerNode>;
  log: vscode.LogOutputChannel;
  /** Rescans the runs and selects the run in the explorer (when it is visible). */
  revealRun: (runDir: string) => Promise<void>;
}

/** Starting a backend runs code from the workspace's configuration: only in a trusted workspace. */
export function requireTrust(what: string): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window
    .showWarningMessage(`PRPO Studio cannot ${what} in an untrusted workspace: it reads runs but starts no training backend.`, 'Manage Workspace Trust')
    .then((c) => c && vscode.commands.executeCommand('workbench.trust.manage'));
  return false;
}

function requireRunsDir(store: RunStore): string | undefined {
  if (store.root) return store.root;
  void vscode.window
    .showWarningMessage('PRPO Studio needs a runs directory: open a folder, or set prpoStudio.runsDirectory to an absolute path.', 'Open Settings')
    .then((c) => c && vscode.commands.executeCommand('workbench.action.openSettings', 'prpoStudio.runsDirectory'));
  return undefined;
}

/** Registers `prpoStudio.<id>`; errors a command meets are shown and logged, never swallowed. */
export function commandRegistrar(log: vscode.LogOutputChannel) {
  return (id: string, run: (...args: any[]) => unknown): vscode.Disposable =>
    vscode.commands.registerCommand(`prpoStudio.${id}`, async (...args: unknown[]) => {
      try {
        return await run(...args);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        log.error(`prpoStudio.${id}: ${e instanceof Error ? e.stack ?? message : message}`);
        void vscode.window.showErrorMessage(`PRPO Studio: ${escapeNotice(message)}`);
        return undefined;
      }
    });
}

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const { context, store, backends, log, revealRun } = deps;
  const command = commandRegistrar(log);


  const start = async (params: StartParams | undefined): Promise<LiveRun | undefined> => {
    if (!params) return undefined;
    const run = await backends.startRun(params);
    if (run) await revealRun(run.runDir);
    return run;
  };

  const startFromConfig = async (file?: vscode.Uri): Promise<LiveRun | undefined> => {
    const runsDir = requireRunsDir(store);
    if (!runsDir) return undefined;
    const uri =
      file ??
      (
        await vscode.window.showOpenDialog({
          title: 'Start a training run from a config file',
          filters: { 'Run config (JSON)': ['json'] },
          canSelectMany: false,
          defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
        })
      )?.[0];
    if (!uri) return undefined;
    return start(await readStartConfig(uri, runsDir));
  };

  /** A run the user picks (or the one the argument names); undefined after telling the user why. */
  const runFor = async (arg: CommandArg, placeHolder: string, filter: (e: RunEntry) => boolean = () => true) => {
    const target = targetOf(store, arg);
    if (target) return target;
    const entries = store.runs().filter(filter);
    if (entries.length === 0) {
      void vscode.window.showInformationMessage(store.runs().length ? 'No run fits this command.' : `No runs in ${store.root ?? 'the runs directory'} yet.`);
      return undefined;
    }
    const entry = await pickRun(entries, placeHolder);
    return entry && { entry, step: undefined as number | undefined, checkpoint: undefined as string | undefined };
  };

  const sourceOf = (entry: RunEntry) => {
    const source = store.source(entry.info.dir);
    if (!source) throw new Error(`"${escapeNotice(entry.info.name)}" cannot be opened: ${entry.info.issues.map(String).join('; ') || 'its run.json is missing or invalid'}.`);
    return source;
  };

  /** The folder a command was given (the file explorer's), else the one the user picks; undefined when cancelled. */
  const folderOf = async (folder: unknown, title: string, start?: string): Promise<vscode.Uri | undefined> =>
    (folder instanceof vscode.Uri ? folder : undefined) ??
    (
      await vscode.window.showOpenDialog({
        title,
        canSelectFiles: false,
        canSelectFolders: true,
        canSelectMany: false,
        defaultUri: start ? vscode.Uri.file(start) : vscode.workspace.workspaceFolders?.[0]?.uri,
      })
    )?.[0];

  const pickStep = async (entry: RunEntry): Promise<number | undefined> => {
    const steps = [...entry.info.rolloutSteps].reverse();
    if (steps.length === 0) {
      void vscode.window.showInformationMessage(`"${escapeNotice(entry.info.name)}" has no rollouts yet.`);
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      steps.map((s) => ({ label: `step ${s}`, description: stepName(s) + '.jsonl', step: s })),
      { placeHolder: `Which step of "${escapeNotice(entry.info.name)}"?` },
    );
    return picked?.step;
  };

  return [
    command('startRun', async () => {
      if (!requireTrust('start a run')) return undefined;
      const runsDir = requireRunsDir(store);
      if (!runsDir) return undefined;
      const params = await askStartParams(runsDir, context);
      return params === 'config' ? startFromConfig() : start(params);
    }),

    command('startRunFromConfig', async (file?: vscode.Uri) => {
      if (!requireTrust('start a run')) return undefined;
      return startFromConfig(file instanceof vscode.Uri ? file : undefined);
    }),

    command('startDefaultRun', async () => {
      if (!requireTrust('start a run')) return undefined;
      const runsDir = requireRunsDir(store);
      return runsDir ? start(defaultStartParams(runsDir)) : undefined;
    }),

    command('pauseRun', async (arg?: CommandArg) => {
      if (!requireTrust('pause a run')) return;
      const run = await liveRunFor(store, backends, arg, (r) => r.phase === 'running', 'pause');
      if (run) await backends.pause(run);
    }),

    command('resumeRun', async (arg?: CommandArg) => {
      if (!requireTrust('resume a run')) return;
      const run = await liveRunFor(store, backends, arg, (r) => r.phase === 'paused', 'resume');
      if (run) await backends.resume(run);
    }),

    command('checkpointRun', async (arg?: CommandArg) => {
      if (!requireTrust('checkpoint a run')) return undefined;
      const run = await liveRunFor(store, backends, arg, (r) => r.phase === 'running' || r.phase === 'paused', 'save a checkpoint of');
      if (!run) return undefined;
      const info = await backends.checkpoint(run);
      void vscode.window.setStatusBarMessage(`$(save) PRPO Studio: checkpoint saved at step ${info.step}`, 5000);
      return info;
    }),

    command('stopRun', async (arg?: CommandArg) => {
      if (!requireTrust('stop a run')) return;
      const run = await liveRunFor(store, backends, arg, (r) => r.phase === 'running' || r.phase === 'paused', 'stop');
      if (run) await backends.stop(run);
    }),

    command('resumeFromCheckpoint', async (arg?: CommandArg) => {
      if (!requireTrust('resume a run')) return undefined;
      const resumable = (e: RunEntry) => !e.live && !!e.info.manifest && e.info.checkpoints.some((c) => c.complete);
      const target = await runFor(arg, 'Resume which run?', resumable);
      if (!target) return undefined;
      const { entry } = target;
      if (backends.get(entry.info.dir)) throw new Error(`"${escapeNotice(entry.info.name)}" is running in this window; stop it before resuming from a checkpoint.`);
      const complete = entry.info.checkpoints.filter((c) => c.complete);
      if (complete.length === 0) throw new Error(`"${escapeNotice(entry.info.name)}" has no complete checkpoint to resume from.`);
      let checkpoint = target.checkpoint ? complete.find((c) => path.resolve(c.path) === path.resolve(target.checkpoint!)) : undefined;
      if (target.checkpoint && !checkpoint) throw new Error(`The checkpoint ${target.checkpoint} is incomplete or corrupt; pick another.`);
      if (!checkpoint) {
        const picked = await vscode.window.showQuickPick(
          [...complete].reverse().map((c, i) => ({ label: `step ${c.step}`, description: i === 0 ? 'latest' : '', detail: c.path, c })),
          { title: `Resume "${escapeNotice(entry.info.name)}" from which checkpoint?` },
        );
        if (!picked) return undefined;
        checkpoint = picked.c;
      }
      const planned = entry.info.manifest?.steps ?? 0;
      const steps = await vscode.window.showInputBox({
        title: `Resume "${escapeNotice(entry.info.name)}" from step ${checkpoint.step}`,
        prompt: 'Train until this step',
        value: String(planned > checkpoint.step ? planned : checkpoint.step + config.defaultSteps()),
        validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) > checkpoint!.step ? undefined : `Enter a step after ${checkpoint!.step}.`),
        ignoreFocusOut: true,
      });
      if (steps === undefined) return undefined;
      // A run continues on the backend that wrote it (a PyTorch run on a new PyTorch backend).
      const backend = backendOfRun(entry.info.manifest!);
      const run = await backends.resumeFrom(
        { runDir: entry.info.dir, checkpoint: checkpoint.path, steps: Number(steps), ...(backend === 'pytorch' ? { device: config.pythonDevice() } : { ep: config.executionProvider() }) },
        entry.info.name,
        backend,
      );
      if (run) await revealRun(run.runDir);
      return run;
    }),

    command('openRunFolder', async (folder?: vscode.Uri) => {
      const uri = await folderOf(folder, 'Open a run folder: a PRPO Studio run, a verl rollout_data_dir, an EasyR1 log folder or a TRL output_dir');
      if (!uri) return undefined;
      const entry = await store.addFolder(uri.fsPath);
      await revealRun(entry.info.dir);
      if (!entry.info.manifest) return undefined;
      // A log with metrics only (EasyR1) has nothing for the trajectory view: chart it.
      return entry.info.rolloutSteps.length ? TrajectoryPanel.show(context, sourceOf(entry)) : ChartsPanel.show(context, [sourceOf(entry)]);
    }),

    command('openRun', async (arg?: CommandArg) => {
      const target = await runFor(arg, 'Open which run?', (e) => !!e.info.manifest);
      if (!target) return undefined;
      return TrajectoryPanel.show(context, sourceOf(target.entry), target.step);
    }),

    command('whatIf', async (arg?: CommandArg) => {
      const target = await runFor(arg, 'Re-reshape a step of which run?', (e) => !!e.info.manifest && e.info.rolloutSteps.length > 0);
      if (!target) return undefined;
      const step = target.step ?? (await pickStep(target.entry));
      if (step === undefined) return undefined;
      const panel = TrajectoryPanel.show(context, sourceOf(target.entry), step);
      panel.openWhatIf(step);
      return panel;
    }),

    command('compareAcrossSteps', (arg?: CommandArg | RolloutContext) => compareAcrossSteps({ context, store, sourceOf }, arg)),

    command('openRolloutFile', async (arg?: CommandArg) => {
      const target = await runFor(arg, 'Open a step of which run?');
      if (!target) return undefined;
      const step = target.step ?? (await pickStep(target.entry));
      if (step === undefined) return undefined;
      const file = runFiles.rollouts(target.entry.info.dir, step);
      if (!fs.existsSync(file)) throw new Error(`${file} does not exist.`);
      return vscode.window.showTextDocument(vscode.Uri.file(file), { preview: true });
    }),

    command('openRolloutTokens', async (arg?: CommandArg) => {
      const target = await runFor(arg, 'Open a step of which run?');
      if (!target) return undefined;
      const step = target.step ?? (await pickStep(target.entry));
      if (step === undefined) return undefined;
      const doc = await vscode.workspace.openTextDocument(rolloutTokensUri(runFiles.rollouts(target.entry.info.dir, step)));
      return vscode.window.showTextDocument(doc, { preview: true });
    }),

    command('openMetrics', async (arg?: CommandArg, selection?: ExplorerNode[]) => {
      let entries: RunEntry[];
      const selected = (selection ?? []).map((n) => targetOf(store, n)?.entry).filter((e): e is RunEntry => !!e);
      const target = targetOf(store, arg);
      if (selected.length > 1) entries = [...new Map(selected.map((e) => [e.info.dir, e])).values()];
      else if (target) entries = [target.entry];
      else {
        const all = store.runs().filter((e) => e.info.manifest);
        if (all.length === 0) {
          void vscode.window.showInformationMessage(`No runs in ${store.root ?? 'the runs directory'} yet.`);
          return undefined;
        }
        if (all.length === 1) entries = all;
        else {
          const active = preferredRun(all, TrajectoryPanel.runOnScreen(), backends.active?.runDir);
          const picked = await vscode.window.showQuickPick(
            all.map((e) => ({ label: escapeLabel(e.info.name), description: runDescription(e), picked: e.info.dir === active, entry: e })),
            { canPickMany: true, placeHolder: 'Chart which runs? (several are overlaid)', ignoreFocusOut: true },
          );
          if (!picked?.length) return undefined;
          entries = picked.map((p) => p.entry);
        }
      }
      return ChartsPanel.show(context, entries.map(sourceOf));
    }),

    command('openStudy', async (folder?: vscode.Uri) => {
      const uri = await folderOf(folder, 'Open a study folder: the runs folder npm run study wrote (with study.json)', store.root);
      if (!uri) return undefined;
      const study = readStudy(uri.fsPath);
      const { entries, failed } = await store.addFolders(study.runs.map((r) => r.runDir));
      const sources: RunSource[] = [];
      const arms = new Map<string, { arm: string; seed: number }>();
      const left = [...study.missing.map((r) => `${r.key} (${r.dir} is missing)`), ...failed.map((f) => `${path.basename(f.dir)} (${f.error.message})`)];
      for (const r of study.runs) {
        const entry = entries.find((e) => e.info.dir === path.resolve(r.runDir));
        const source = entry && store.source(entry.info.dir);
        if (!source) {
          if (entry) left.push(`${r.key} (its run.json is missing or invalid)`);
          continue;
        }
        sources.push(source);
        arms.set(source.runDir, { arm: r.arm, seed: r.seed });
      }
      if (sources.length === 0) throw new Error(`The study in ${uri.fsPath} has no run to chart: ${left.join('; ')}.`);
      if (left.length) {
        void vscode.window.showWarningMessage(`Study ${escapeNotice(study.name)}: ${left.length} of ${study.runs.length + study.missing.length} runs are left out: ${escapeNotice(left.join('; '))}.`);
      }
      log.info(`Study ${uri.fsPath}: ${sources.length} runs in ${new Set([...arms.values()].map((a) => a.arm)).size} arms.`);
      return ChartsPanel.show(context, sources, { name: study.name, arms });
    }),

    command('revealRun', async (arg?: CommandArg) => {
      const target = await runFor(arg, 'Reveal which run?');
      if (!target) return;
      const fsPath = target.checkpoint ?? (target.step !== undefined ? runFiles.rollouts(target.entry.info.dir, target.step) : target.entry.info.dir);
      const uri = vscode.Uri.file(fsPath);
      const inWorkspace = !!vscode.workspace.getWorkspaceFolder(uri);
      // The OS file manager is only reachable from a local desktop window.
      if (vscode.env.uiKind === vscode.UIKind.Desktop && !vscode.env.remoteName) {
        await vscode.commands.executeCommand('revealFileInOS', uri);
      } else if (inWorkspace) {
        await vscode.commands.executeCommand('revealInExplorer', uri);
      } else {
        const c = await vscode.window.showInformationMessage(`The run is at ${fsPath}`, 'Copy Path');
        if (c) await vscode.env.clipboard.writeText(fsPath);
      }
    }),

    command('refreshRuns', () => store.refresh()),

    command('showLog', () => log.show()),
  ];
}
