/**
 * The *as Tokens* rendering of a rollouts file as plain text (no vscode, so unit-tested in test/unit/hovers):
 * each rollout's header, prompt and answer, then its tokens separated by │, with where each token landed.
 * Every piece of model text is made visible (core/visibleText): bidi controls cannot reorder a line here.
 */
import { fmt } from '../../core/format';
import { parseStepName, type RolloutRecord } from '../../core/run/schema';
import { displayString } from '../../core/visibleText';
import { rolloutHeader, visibleToken } from './tokenCard';

const WRAP = 100;
const SEP = '│';

export interface TokenSpan {
  start: number;
  end: number;
  rollout: number;
  token: number;
}

export interface Rendered {
  text: string;
  records: RolloutRecord[];
  /** The largest |Ã| of the step: one colour scale for every rollout in view. */
  maxAbs: number;
  /** Per line of the rendered text, the token spans on it. */
  spans: Map<number, TokenSpan[]>;
}

/** Lays the rollouts out as text and remembers where each token landed. */
export function renderRollouts(file: string, records: RolloutRecord[], issues: string[]): Rendered {
  const lines: string[] = [];
  const spans = new Map<number, TokenSpan[]>();
  const step = parseStepName(file.split(/[\\/]/).pop() ?? '');
  lines.push(`# step ${step ?? '?'} · ${records.length} rollout(s) · ${displayString(file)}`);
  lines.push(`# Tokens are separated by ${SEP}; · is a space, ⏎ a newline. Hover a token for its dependency scores and advantages.`);
  const maxAbs = maxAbsAdvantage(records);
  lines.push(`# Background: token advantage Ã, orange > 0, blue < 0, deeper = larger (|Ã| up to ${fmt(maxAbs, 3)}); underlined: perceptual (ground truth).`);
  for (const issue of issues) lines.push(`# skipped: ${displayString(issue)}`);
  records.forEach((r, ri) => {
    lines.push('');
    lines.push(`## ${rolloutHeader(r).replace(/`/g, '')}`);
    // Someone else's text, made visible (bidi controls would reorder the line; ESC and BEL would reach the editor raw).
    lines.push(`prompt: ${displayString(r.prompt.replace(/\r?\n/g, ' ⏎ '))}`);
    if (r.answer !== undefined) lines.push(`answer: ${displayString(r.answer)}`);
    const adv = r.tokenAdvantages.filter(Number.isFinite);
    lines.push(`response (${r.tokens.length} tokens, Ã ${fmt(Math.min(...adv), 2)} … ${fmt(Math.max(...adv), 2)}):`);
    let line = '';
    let lineSpans: TokenSpan[] = [];
    const flush = () => {
      spans.set(lines.length, lineSpans);
      lines.push(line);
      line = '';
      lineSpans = [];
    };
    r.tokens.forEach((tok, ti) => {
      const shown = visibleToken(tok) || '∅';
      if (line.length && line.length + shown.length + 1 > WRAP) flush();
      if (line.length) line += SEP;
      lineSpans.push({ start: line.length, end: line.length + shown.length, rollout: ri, token: ti });
      line += shown;
    });
    flush();
  });
  return { text: lines.join('\n') + '\n', records, spans, maxAbs };
}

function maxAbsAdvantage(records: RolloutRecord[]): number {
  let m = 0;
  for (const r of records) for (const x of r.tokenAdvantages) if (typeof x === 'number' && Number.isFinite(x)) m = Math.max(m, Math.abs(x));
  return m;
}
