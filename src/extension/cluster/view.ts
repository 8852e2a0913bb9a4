/** What the run explorer needs to know about cluster jobs (implemented by ClusterRuns). */
import type * as vscode from 'vscode';
import type { JobStatus } from '../../core/cluster';

export interface ClusterJobView {
  id: string;
  cluster: string;
  address: string;
  status: JobStatus;
  message?: string;
  runDir?: string;
}

export interface ClusterView {
  readonly onDidChange: vscode.Event<void>;
  get(id: string): ClusterJobView | undefined;
  /** The newest job that writes this run directory. */
  forRunDir(runDir: string): ClusterJobView | undefined;
  /** Jobs whose run directory is not in the explorer yet. */
  unplaced(): ClusterJobView[];
}
