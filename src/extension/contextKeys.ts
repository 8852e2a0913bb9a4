/**
 * Context keys for `when` clauses (package.json menus): commands that make no sense now are hidden.
 *   prpoStudio.runsLoaded       the first scan finished (the welcome view waits for it)
 *   prpoStudio.hasRuns          any run in the runs directory
 *   prpoStudio.hasCheckpoints   any complete checkpoint of a run that is not live
 *   prpoStudio.hasLiveRun / hasRunningRun / hasPausedRun   backends of this window
 *   prpoStudio.runState         the status-bar run: none | starting | running | paused | pausing | checkpointing | stopping
 */
import * as vscode from 'vscode';
import type { BackendManager } from './backend/backendManager';
import type { RunStore } from './runs/runStore';

export class ContextKeys implements vscode.Disposable {
  private readonly values = new Map<string, unknown>();
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly store: RunStore,
    private readonly backends: BackendManager,
  ) {
    this.subscriptions = [store.onDidChange(() => this.update()), backends.onDidChange(() => this.update())];
    this.update();
  }

  update(): void {
    const runs = this.store.runs();
    const live = this.backends.all();
    this.set('prpoStudio.runsLoaded', this.store.loaded);
    this.set('prpoStudio.hasRuns', runs.length > 0);
    this.set('prpoStudio.hasCheckpoints', runs.some((r) => !r.live && r.info.checkpoints.some((c) => c.complete)));
    this.set('prpoStudio.hasLiveRun', live.length > 0);
    this.set('prpoStudio.hasRunningRun', live.some((r) => r.phase === 'running'));
    this.set('prpoStudio.hasPausedRun', live.some((r) => r.phase === 'paused'));
    this.set('prpoStudio.runState', this.backends.active?.phase ?? (this.backends.starting ? 'starting' : 'none'));
  }

  private set(key: string, value: unknown): void {
    if (this.values.get(key) === value) return;
    this.values.set(key, value);
    void vscode.commands.executeCommand('setContext', key, value);
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }
}
