/**
 * The status bar item for the live run: state, step and reward; a click opens the run. While a backend
 * starts, it says so. Hidden when this window runs nothing.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BackendManager } from './backend/backendManager';
import { presetLabel } from '../core/presets';
import type { RunStore } from './runs/runStore';

const PHASE_ICON: Record<string, string> = {
  running: '$(sync~spin)',
  paused: '$(debug-pause)',
  pausing: '$(loading~spin)',
  checkpointing: '$(save)',
  stopping: '$(loading~spin)',
};

export class RunStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('prpoStudio.run', vscode.StatusBarAlignment.Left, 10);
  private readonly subscriptions: vscode.Disposable[];

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
    const step = run.status.steps ? `${run.status.step}/${run.status.steps}` : `${run.status.step}`;
    const reward = run.status.lastReward ?? entry?.lastMetrics?.reward;
    this.item.text = `${PHASE_ICON[run.phase] ?? ''} ${algorithm} ${run.phase} · step ${step}${reward !== undefined ? ` · R ${reward.toFixed(2)}` : ''}`;
    const others = this.backends.all().length - 1;
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: ['prpoStudio.pauseRun', 'prpoStudio.resumeRun', 'prpoStudio.checkpointRun', 'prpoStudio.stopRun', 'prpoStudio.openMetrics'] };
    const arg = encodeURIComponent(JSON.stringify([run.runDir]));
    md.appendMarkdown(`**${name}** — ${run.phase}, step ${step}${reward !== undefined ? `, reward ${reward.toFixed(3)}` : ''}, on ${run.status.ep ?? run.requestedEp}\n\n`);
    md.appendMarkdown(
      [
        run.phase === 'paused' ? `[$(debug-continue) Resume](command:prpoStudio.resumeRun?${arg})` : `[$(debug-pause) Pause](command:prpoStudio.pauseRun?${arg})`,
        `[$(save) Checkpoint](command:prpoStudio.checkpointRun?${arg})`,
        `[$(debug-stop) Stop](command:prpoStudio.stopRun?${arg})`,
        `[$(graph-line) Metrics](command:prpoStudio.openMetrics?${arg})`,
      ].join(' · '),
    );
    if (others > 0) md.appendMarkdown(`\n\n${others} more live run(s) in the PRPO Studio explorer.`);
    md.appendMarkdown('\n\nClick to open the trajectory view.');
    this.item.tooltip = md;
    this.item.command = { command: 'prpoStudio.openRun', title: 'Open Run', arguments: [run.runDir] };
    this.item.backgroundColor = run.phase === 'paused' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.accessibilityInformation = { label: `PRPO Studio run ${name} ${run.phase}, step ${step}` };
    this.item.show();
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.item.dispose();
  }
}
