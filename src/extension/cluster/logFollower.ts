/**
 * "Follow Cluster Logs": a job's log streamed into the output channel "PRPO Studio: Cluster Logs" over
 * Ray's WebSocket tail, reconnecting when the socket drops and re-checking the job's status when it closes
 * (core/cluster/follow.ts). One follow per job; asking again just shows the channel.
 */
import * as vscode from 'vscode';
import { followLogs } from '../../core/cluster';
import { clusterMessage, type ClusterTokens } from './clusters';
import type { ClusterRuns, TrackedJob } from './clusterRuns';
import { escapeNotice } from '../../core/format';

export class LogFollower implements vscode.Disposable {
  readonly channel = vscode.window.createOutputChannel('PRPO Studio: Cluster Logs');
  private readonly follows = new Map<string, AbortController>();

  constructor(
    private readonly tokens: ClusterTokens,
    private readonly runs: ClusterRuns,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  isFollowing(id: string): boolean {
    return this.follows.has(id);
  }

  /** Starts following (or shows the follow under way); resolves when the job has ended or the follow stopped. */
  async follow(job: TrackedJob): Promise<void> {
    this.channel.show(true);
    if (this.follows.has(job.id)) return;
    const cluster = this.runs.clusterOf(job);
    const controller = new AbortController();
    this.follows.set(job.id, controller);
    this.channel.appendLine(`── ${cluster.name} · ${job.id} · following ──`);
    try {
      const client = await this.tokens.client(cluster);
      const result = await followLogs(client, job.id, {
        onText: (text) => this.channel.append(text),
        onNotice: (text) => this.channel.appendLine(`── ${text} ──`),
        signal: controller.signal,
      });
      if (result.final) {
        this.runs.update(job.id, result.final);
        this.channel.appendLine(`── ${job.id} ended: ${result.final.status}${result.final.message ? ` (${result.final.message.trim()})` : ''} ──`);
      } else {
        this.channel.appendLine(`── ${job.id}: stopped following ──`);
      }
    } catch (e) {
      const message = clusterMessage(cluster, e);
      this.channel.appendLine(`── ${message} ──`);
      this.log.warn(message);
      void vscode.window.showErrorMessage(`PRPO Studio: ${escapeNotice(message)}`);
    } finally {
      this.follows.delete(job.id);
    }
  }

  dispose(): void {
    for (const c of this.follows.values()) c.abort();
    this.channel.dispose();
  }
}
