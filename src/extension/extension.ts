/**
 * PRPO Studio's extension host side: the run explorer, commands, status bar, rollout hovers and the live
 * backends. activate() returns the API the integration tests use.
 */
import * as vscode from 'vscode';
import { BackendManager } from './backend/backendManager';
import { activateClusters, type ClusterApi } from './cluster';
import { registerCommands } from './commands';
import * as config from './config';
import { ContextKeys } from './contextKeys';
import { RunExplorer, type ExplorerNode } from './explorer/runExplorer';
import { ROLLOUT_SCHEME, RolloutDocumentProvider } from './hovers/rolloutDocument';
import { ROLLOUT_FILE_SELECTOR, RolloutHoverProvider } from './hovers/rolloutHover';
import { RolloutLensProvider } from './hovers/rolloutLens';
import { RunStore } from './runs/runStore';
import { RunStatusBar } from './statusBar';
import { StudyFolders } from './studyFolders';

export interface PrpoStudioApi {
  runStore: RunStore;
  runExplorer: RunExplorer;
  backends: BackendManager;
  treeView: vscode.TreeView<ExplorerNode>;
  log: vscode.LogOutputChannel;
  cluster: ClusterApi;
}

let backendsForShutdown: BackendManager | undefined;

export function activate(context: vscode.ExtensionContext): PrpoStudioApi {
  const log = vscode.window.createOutputChannel('PRPO Studio', { log: true });
  const backends = new BackendManager(context.extensionPath, log);
  const runStore = new RunStore(backends, log);
  const revealRun = async (runDir: string) => {
    await runStore.refresh();
    if (!treeView.visible) return;
    try {
      await treeView.reveal(runExplorer.runNode(runDir), { select: true, focus: false, expand: false });
    } catch {
      // The tree has not shown the new run yet; the next refresh shows it anyway.
    }
  };
  const cluster = activateClusters(context, runStore, log, revealRun);
  const runExplorer = new RunExplorer(runStore, cluster.runs);
  const treeView = vscode.window.createTreeView('prpoStudio.runs', { treeDataProvider: runExplorer, showCollapseAll: true, canSelectMany: true });
  const algorithmOf = (file: vscode.Uri) => runStore.findByPath(file.fsPath)?.info.manifest?.algorithm;
  const rolloutDocuments = new RolloutDocumentProvider(algorithmOf);

  const describeView = () => {
    const live = backends.all().length;
    treeView.badge = live ? { value: live, tooltip: `${live} live training run(s)` } : undefined;
    treeView.message = runStore.root ? undefined : 'Open a folder, or set prpoStudio.runsDirectory to an absolute path, to see runs.';
    treeView.description = runStore.root ? vscode.workspace.asRelativePath(runStore.root) : undefined;
  };

  context.subscriptions.push(
    log,
    backends,
    runStore,
    runExplorer,
    treeView,
    new RunStatusBar(backends, runStore),
    new ContextKeys(runStore, backends),
    new StudyFolders(),
    rolloutDocuments,
    vscode.workspace.registerTextDocumentContentProvider(ROLLOUT_SCHEME, rolloutDocuments),
    vscode.languages.registerHoverProvider({ scheme: ROLLOUT_SCHEME }, rolloutDocuments),
    vscode.languages.registerHoverProvider(ROLLOUT_FILE_SELECTOR, new RolloutHoverProvider(algorithmOf)),
    vscode.languages.registerCodeLensProvider(ROLLOUT_FILE_SELECTOR, new RolloutLensProvider()),
    backends.onDidChange(describeView),
    runStore.onDidChange(describeView),
    ...registerCommands({ context, store: runStore, backends, explorer: runExplorer, treeView, log, revealRun }),
    ...cluster.disposables,
  );
  describeView();
  backendsForShutdown = backends;

  // `prpoStudio.autoStart` (the `npm start` launcher): start the built-in default once the runs are read.
  if (config.autoStart()) {
    if (!vscode.workspace.isTrusted) log.warn('prpoStudio.autoStart is set, but the workspace is not trusted: no run was started.');
    else
      void runStore.refresh().then(() => {
        const runsDir = runStore.root;
        if (!runsDir) return log.warn('prpoStudio.autoStart: no runs directory (open a folder or set prpoStudio.runsDirectory).');
        log.info(`prpoStudio.autoStart: starting a ${config.defaultPreset()} run in ${runsDir}`);
        return vscode.commands.executeCommand('prpoStudio.startDefaultRun');
      });
  }

  log.info(`PRPO Studio activated; runs directory: ${runStore.root ?? '(none)'}; workspace ${vscode.workspace.isTrusted ? 'trusted' : 'not trusted: runs are read only'}`);
  return { runStore, runExplorer, backends, treeView, log, cluster };
}

/** Closing the window stops live runs with a checkpoint where there is time, and kills what is left. */
export async function deactivate(): Promise<void> {
  await backendsForShutdown?.shutdown();
  backendsForShutdown = undefined;
}
