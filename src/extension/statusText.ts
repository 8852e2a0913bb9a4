/**
 * What the status bar item says about the live run, as plain strings (no vscode, so unit-tested in
 * test/unit/explorer). The tooltip is Markdown trusted for five commands (pause, resume, checkpoint, stop,
 * metrics): the run's name and execution provider are someone else's text (run.json, a backend) and go through
 * escapeMarkdown, so they cannot add a command link, a theme icon or HTML of their own.
 */
import { escapeMarkdown } from '../core/format';
import { roughDuration } from '../core/run/stepTimer';

export interface StatusFacts {
  name: string;
  algorithm: string;
  phase: string;
  step: number;
  steps?: number;
  reward?: number;
  ep: string;
  runDir: string;
  /** Seconds until the last step, from the measured step time (undefined until two steps are seen). */
  remainingSeconds?: number;
  secondsPerStep?: number;
  /** Live runs in this window beside this one. */
  others: number;
}

export const STATUS_COMMANDS = ['prpoStudio.pauseRun', 'prpoStudio.resumeRun', 'prpoStudio.checkpointRun', 'prpoStudio.stopRun', 'prpoStudio.openMetrics'];

const PHASE_ICON: Record<string, string> = {
  running: '$(sync~spin)',
  paused: '$(debug-pause)',
  pausing: '$(loading~spin)',
  checkpointing: '$(save)',
  stopping: '$(loading~spin)',
};

function stepOf(f: StatusFacts): string {
  return f.steps ? `${f.step}/${f.steps}` : `${f.step}`;
}

/** e.g. "$(sync~spin) PRPO-R running · step 12/400 · R 0.41 · ~6 min left". */
export function statusText(f: StatusFacts): string {
  const left = f.phase === 'running' && f.remainingSeconds !== undefined ? ` · ${roughDuration(f.remainingSeconds)} left` : '';
  return `${PHASE_ICON[f.phase] ?? ''} ${f.algorithm} ${f.phase} · step ${stepOf(f)}${f.reward !== undefined ? ` · R ${f.reward.toFixed(2)}` : ''}${left}`;
}

/** The tooltip's Markdown: the run, how long it will still take, and the command links. */
export function statusTooltipMarkdown(f: StatusFacts): string {
  const arg = encodeURIComponent(JSON.stringify([f.runDir]));
  const out: string[] = [];
  out.push(`**${escapeMarkdown(f.name)}** — ${f.phase}, step ${stepOf(f)}${f.reward !== undefined ? `, reward ${f.reward.toFixed(3)}` : ''}, on ${escapeMarkdown(f.ep)}\n\n`);
  if (f.remainingSeconds !== undefined && f.secondsPerStep !== undefined && f.steps) {
    out.push(`${roughDuration(f.remainingSeconds)} to step ${f.steps} at ${f.secondsPerStep < 10 ? f.secondsPerStep.toFixed(1) : Math.round(f.secondsPerStep)} s a step (measured).\n\n`);
  }
  out.push(
    [
      f.phase === 'paused' ? `[$(debug-continue) Resume](command:prpoStudio.resumeRun?${arg})` : `[$(debug-pause) Pause](command:prpoStudio.pauseRun?${arg})`,
      `[$(save) Checkpoint](command:prpoStudio.checkpointRun?${arg})`,
      `[$(debug-stop) Stop](command:prpoStudio.stopRun?${arg})`,
      `[$(graph-line) Metrics](command:prpoStudio.openMetrics?${arg})`,
    ].join(' · '),
  );
  if (f.others > 0) out.push(`\n\n${f.others} more live run(s) in the PRPO Studio explorer.`);
  out.push('\n\nClick to open the trajectory view.');
  return out.join('');
}
