/**
 * The status bar item for the live run: state, step and reward; a click opens the run. While a backend
 * starts, it says so. Hidden when this window runs nothing.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BackendManager } from './backend/backendManager';
import { presetLabel } from '../core/presets';
import type { RunStore } from './runs/runStore';
import { displayString } from '../core/visibleText';
import { STATUS_COMMANDS, statusText, statusTooltipMarkdown, type StatusFacts } from './statusText';

export class RunStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('prpoStudio.run', vscode.StatusBarAlignment.Left, 10);
  private readonly subscriptions: vscode.Disposable[];
  /**
   * The click's command, one object per run. VS Code stores a command with arguments under a fresh id each
   * time `item.command` is given a new object and drops the old id on the next update; a click that reaches
   * the old id in that moment fails with "Actual command not found". The item changes every step, so a new
   * object each time made a click on a live run's item fail now and then (seen in the run-control scenario).
   * The same object again is a no-op for VS Code.
   */
  private openCommand: vscode.Command | undefined;

  constructor(
    private readonly backends: BackendManager,
    private readonly store: RunStore,
  ) {
    this.item.name = 'PRPO Studio: Live Run';
    this.subscriptions = [backends.onDidChange(() => this.update()), store.onDidChange(() => this.update())];
    this.update();
  }

  update(): void {
    const run = this.backends.active;
    if (!run) {
      if (this.backends.starting) {
        this.item.text = '$(loading~spin) PRPO: starting…';
        this.item.tooltip = 'PRPO Studio is starting a training backend.';
        this.item.command = 'prpoStudio.showLog';
        this.item.show();
      } else {
        this.item.hide();
      }
      return;
    }
    const entry = this.store.get(run.runDir);
    const name = entry?.info.name ?? path.basename(run.runDir);
    const algorithm = entry?.info.manifest ? presetLabel(entry.info.manifest.algorithm) : 'PRPO';
    const reward = run.status.lastReward ?? entry?.lastMetrics?.reward;
    const facts: StatusFacts = {
      name,
      algorithm,
      phase: run.phase,
      step: run.status.step,
      steps: run.status.steps,
      reward,
      ep: run.status.ep ?? run.requestedEp,
      runDir: run.runDir,
      remainingSeconds: run.timer.remaining(run.status.step, run.status.steps),
      secondsPerStep: run.timer.secondsPerStep,
      others: this.backends.all().length - 1,
    };
    this.item.text = statusText(facts);
    const md = new vscode.MarkdownString(statusTooltipMarkdown(facts), true);
    md.isTrusted = { enabledCommands: STATUS_COMMANDS };
    this.item.tooltip = md;
    if (this.openCommand?.arguments?.[0] !== run.runDir) this.openCommand = { command: 'prpoStudio.openRun', title: 'Open Run', arguments: [run.runDir] };
    this.item.command = this.openCommand;
    this.item.backgroundColor = run.phase === 'paused' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.accessibilityInformation = { label: `PRPO Studio run ${displayString(name)} ${run.phase}, step ${run.status.step}${run.status.steps ? ` of ${run.status.steps}` : ''}` };
    this.item.show();
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.item.dispose();
  }
}
