/**
 * Ray clusters in the editor: settings and tokens (clusters.ts), the jobs this workspace knows
 * (clusterRuns.ts), the log follow (logFollower.ts) and the commands (commands.ts).
 */
import * as vscode from 'vscode';
import type { RunStore } from '../runs/runStore';
import { ClusterTokens, affectsClusters } from './clusters';
import { ClusterRuns } from './clusterRuns';
import { registerClusterCommands } from './commands';
import { LogFollower } from './logFollower';

export interface ClusterApi {
  runs: ClusterRuns;
  tokens: ClusterTokens;
  follower: LogFollower;
}

export function activateClusters(
  context: vscode.ExtensionContext,
  store: RunStore,
  log: vscode.LogOutputChannel,
  revealRun: (runDir: string) => Promise<void>,
): ClusterApi & { disposables: vscode.Disposable[] } {
  const tokens = new ClusterTokens(context.secrets);
  const runs = new ClusterRuns(context.workspaceState, tokens, store, log);
  const follower = new LogFollower(tokens, runs, log);
  const discover = () => void runs.discover().catch((e) => log.warn(`Looking for cluster runs: ${(e as Error).message}`));
  const disposables: vscode.Disposable[] = [
    runs,
    follower,
    ...registerClusterCommands({ context, store, runs, tokens, follower, log, revealRun }),
    vscode.workspace.onDidChangeConfiguration((e) => affectsClusters(e) && discover()),
    vscode.workspace.onDidGrantWorkspaceTrust(discover),
  ];
  discover();
  return { runs, tokens, follower, disposables };
}
