/**
 * The sidebar run explorer (view `prpoStudio.runs`): runs under the runs directory with their status, and
 * under each its checkpoints and steps. Context menus key on `viewItem` (contextValue):
 *   run.running | run.paused        a run live in this window (pause/resume, checkpoint, stop)
 *   run.running.external            written by another process (a terminal, another window): read only
 *   run.stopped | run.completed | run.failed | run.interrupted   resumable from a checkpoint (with
 *                                   `.nocheckpoint` appended when it has no complete one: not resumable)
 *   run.broken                      run.json missing or invalid (children say why)
 *   run.cluster.<ray status>        written by a Ray job (pending|running|stopped|succeeded|failed)
 *   clusterJob.<ray status>         a Ray job whose run directory is not there yet (queued, starting, failed at start)
 *   checkpoint | checkpoint.live | checkpoint.incomplete,  step
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CheckpointEntry, MetricsRow, RunDisplayStatus } from '../../core/run/schema';
import { displayString } from '../../core/visibleText';
import type { IssueRow } from './runText';
import { clusterJobTooltipMarkdown, describeRow, issueRows, runContextValue, runDescription, runLabel, runTooltipMarkdown, STATUS_ICON } from './runText';
export { runContextValue } from './runText';
import type { ClusterJobView, ClusterView } from '../cluster/view';
import type { RunEntry, RunStore } from '../runs/runStore';

export type ExplorerNode =
  | { readonly kind: 'run'; readonly runDir: string }
  | { readonly kind: 'group'; readonly runDir: string; readonly group: 'checkpoints' | 'steps' }
  | { readonly kind: 'checkpoint'; readonly runDir: string; readonly checkpoint: CheckpointEntry }
  | { readonly kind: 'step'; readonly runDir: string; readonly step: number; readonly metrics?: MetricsRow }
  | { readonly kind: 'issue'; readonly runDir: string; readonly row: IssueRow }
  | { readonly kind: 'more'; readonly runDir: string; readonly count: number }
  | { readonly kind: 'clusterJob'; readonly runDir: string; readonly jobId: string };

/** How many steps a run shows before "N older steps". */
const MAX_STEPS = 300;


export function statusIcon(status: RunDisplayStatus): vscode.ThemeIcon {
  const [id, color] = STATUS_ICON[status];
  return new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);
}

export class RunExplorer implements vscode.TreeDataProvider<ExplorerNode>, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<ExplorerNode | undefined>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  /** One node object per run, so that reveal() and refreshes of a single run find it. */
  private readonly runNodes = new Map<string, ExplorerNode & { kind: 'run' }>();
  private readonly subscription: vscode.Disposable;

  private readonly clusterSubscription: vscode.Disposable | undefined;

  constructor(
    private readonly store: RunStore,
    /** Ray jobs: their status beside ours, and jobs whose run is not on disk yet. */
    private readonly cluster?: ClusterView,
  ) {
    this.subscription = store.onDidChange((entry) => {
      const node = entry && this.runNodes.get(entry.info.dir);
      this.changeEmitter.fire(node);
    });
    this.clusterSubscription = cluster?.onDidChange(() => this.changeEmitter.fire(undefined));
  }

  runNode(runDir: string): ExplorerNode & { kind: 'run' } {
    const dir = path.resolve(runDir);
    let node = this.runNodes.get(dir);
    if (!node) this.runNodes.set(dir, (node = { kind: 'run', runDir: dir }));
    return node;
  }

  async getChildren(node?: ExplorerNode): Promise<ExplorerNode[]> {
    if (!node) {
      const jobs: ExplorerNode[] = (this.cluster?.unplaced() ?? []).map((j) => ({ kind: 'clusterJob', runDir: j.runDir ?? '', jobId: j.id }));
      return jobs.concat(this.store.runs().map((e) => this.runNode(e.info.dir)));
    }
    const entry = this.store.get(node.runDir);
    if (!entry) return [];
    if (node.kind === 'run') {
      const issues: ExplorerNode[] = issueRows(node.runDir, entry.info.issues).map((row) => ({ kind: 'issue', runDir: node.runDir, row }));
      if (!entry.info.manifest) return issues;
      const children: ExplorerNode[] = [
        // Imported logs have no checkpoints of ours.
        ...(entry.imported ? [] : [{ kind: 'group', runDir: node.runDir, group: 'checkpoints' } as const]),
        { kind: 'group', runDir: node.runDir, group: 'steps' },
      ];
      return children.concat(issues);
    }
    if (node.kind === 'group' && node.group === 'checkpoints') {
      return [...entry.info.checkpoints].reverse().map((checkpoint) => ({ kind: 'checkpoint', runDir: node.runDir, checkpoint }));
    }
    if (node.kind === 'group' && node.group === 'steps') {
      const rows = new Map((await this.store.readMetrics(node.runDir)).map((r) => [r.step, r]));
      const steps = [...entry.info.rolloutSteps].reverse();
      const shown: ExplorerNode[] = steps.slice(0, MAX_STEPS).map((step) => ({ kind: 'step', runDir: node.runDir, step, metrics: rows.get(step) }));
      if (steps.length > MAX_STEPS) shown.push({ kind: 'more', runDir: node.runDir, count: steps.length - MAX_STEPS });
      return shown;
    }
    return [];
  }

  getParent(node: ExplorerNode): ExplorerNode | undefined {
    switch (node.kind) {
      case 'run':
      case 'clusterJob':
        return undefined;
      case 'checkpoint':
        return { kind: 'group', runDir: node.runDir, group: 'checkpoints' };
      case 'step':
      case 'more':
        return { kind: 'group', runDir: node.runDir, group: 'steps' };
      default:
        return this.runNode(node.runDir);
    }
  }

  getTreeItem(node: ExplorerNode): vscode.TreeItem {
    const entry = this.store.get(node.runDir);
    switch (node.kind) {
      case 'run':
        return entry ? runItem(entry, this.cluster?.forRunDir(entry.info.dir)) : new vscode.TreeItem(path.basename(node.runDir));
      case 'clusterJob':
        return clusterJobItem(node.jobId, this.cluster?.get(node.jobId));
      case 'group': {
        const n = node.group === 'checkpoints' ? entry?.info.checkpoints.length ?? 0 : entry?.info.rolloutSteps.length ?? 0;
        const item = new vscode.TreeItem(node.group === 'checkpoints' ? 'Checkpoints' : 'Steps', n ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
        item.id = `${node.runDir}#${node.group}`;
        item.description = String(n);
        item.iconPath = new vscode.ThemeIcon(node.group === 'checkpoints' ? 'save-all' : 'list-ordered');
        item.contextValue = `group.${node.group}`;
        return item;
      }
      case 'checkpoint': {
        const { checkpoint } = node;
        const item = new vscode.TreeItem(`step ${checkpoint.step}`);
        item.id = `${node.runDir}#checkpoint#${checkpoint.step}`;
        item.resourceUri = vscode.Uri.file(checkpoint.path);
        item.iconPath = new vscode.ThemeIcon(checkpoint.complete ? 'save' : 'warning', checkpoint.complete ? undefined : new vscode.ThemeColor('list.warningForeground'));
        item.description = checkpoint.complete ? (checkpoint.step === latestComplete(entry) ? 'latest' : '') : 'incomplete — cannot resume';
        item.tooltip = `${checkpoint.path}${checkpoint.complete ? '' : '\nIncomplete or corrupt: a file is missing or has the wrong size.'}`;
        item.contextValue = !checkpoint.complete ? 'checkpoint.incomplete' : entry?.live ? 'checkpoint.live' : 'checkpoint';
        return item;
      }
      case 'step': {
        const item = new vscode.TreeItem(`step ${node.step}`);
        item.id = `${node.runDir}#step#${node.step}`;
        item.iconPath = new vscode.ThemeIcon('symbol-event');
        item.description = node.metrics ? describeRow(node.metrics) : '';
        item.tooltip = `Rollouts of step ${node.step}: click to open the trajectory view.`;
        item.contextValue = entry?.imported ? 'step.imported' : 'step';
        item.command = { command: 'prpoStudio.openRun', title: 'Open in Trajectory View', arguments: [node] };
        return item;
      }
      case 'more': {
        const item = new vscode.TreeItem(`… ${node.count} older steps`);
        item.tooltip = 'Open older steps with "PRPO Studio: Open Rollout Step File" or from the trajectory view.';
        item.contextValue = 'more';
        return item;
      }
      case 'issue': {
        // file:line: reason, the file relative to the run; a click opens it at that line. The "… and N more"
        // row opens the log, which lists every problem.
        const { label, tooltip, issue } = node.row;
        const item = new vscode.TreeItem(label);
        item.iconPath = new vscode.ThemeIcon(issue ? 'warning' : 'output', issue ? new vscode.ThemeColor('list.warningForeground') : undefined);
        item.tooltip = tooltip;
        if (issue) {
          item.contextValue = 'issue';
          const selection = issue.line ? new vscode.Range(issue.line - 1, 0, issue.line - 1, 0) : undefined;
          item.command = { command: 'vscode.open', title: 'Open', arguments: [vscode.Uri.file(issue.file), { selection }] };
        } else {
          item.contextValue = 'issue.more';
          item.command = { command: 'prpoStudio.showLog', title: 'Show Log' };
        }
        return item;
      }
    }
  }

  dispose(): void {
    this.subscription.dispose();
    this.clusterSubscription?.dispose();
    this.changeEmitter.dispose();
  }
}

function latestComplete(entry: RunEntry | undefined): number | undefined {
  return entry?.info.checkpoints.filter((c) => c.complete).at(-1)?.step;
}

const RAY_ICON: Record<ClusterJobView['status'], [string, string | undefined]> = {
  PENDING: ['watch', 'charts.yellow'],
  RUNNING: ['sync~spin', 'charts.green'],
  STOPPED: ['debug-stop', 'descriptionForeground'],
  SUCCEEDED: ['pass-filled', 'testing.iconPassed'],
  FAILED: ['error', 'testing.iconFailed'],
};

/** A Ray job whose run directory is not in the runs directory (yet). */
function clusterJobItem(id: string, job: ClusterJobView | undefined): vscode.TreeItem {
  const item = new vscode.TreeItem(displayString(job?.runDir ? path.basename(job.runDir) : id));
  item.id = `cluster#${id}`;
  if (!job) return item;
  const [icon, color] = RAY_ICON[job.status];
  item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
  item.description = `Ray ${job.status} on ${job.cluster}${job.status === 'FAILED' ? ' · failed at start' : job.status === 'RUNNING' ? ' · starting' : ''}`;
  item.contextValue = `clusterJob.${job.status.toLowerCase()}`;
  item.tooltip = new vscode.MarkdownString(clusterJobTooltipMarkdown(id, job), false);
  item.command = { command: 'prpoStudio.followClusterLogs', title: 'Follow Cluster Logs', arguments: [id] };
  return item;
}

function runItem(entry: RunEntry, job?: ClusterJobView): vscode.TreeItem {
  const { info, status } = entry;
  const item = new vscode.TreeItem(runLabel(entry), vscode.TreeItemCollapsibleState.Collapsed);
  item.id = info.dir;
  item.iconPath = !info.manifest
    ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'))
    : entry.imported
      ? new vscode.ThemeIcon('package')
      : statusIcon(status);
  item.contextValue = runContextValue(entry, job);
  item.description = runDescription(entry, job);
  item.tooltip = runTooltip(entry, job);
  item.accessibilityInformation = { label: `${runLabel(entry)}, ${status}, ${item.description}` };
  return item;
}

export function runTooltip(entry: RunEntry, job?: ClusterJobView): vscode.MarkdownString {
  const md = new vscode.MarkdownString(runTooltipMarkdown(entry, job), true);
  md.supportThemeIcons = true;
  return md;
}
