/**
 * The hover card of one token of a rollout: a markdown table of every per-token field the rollout recorded
 * (ALGORITHMS.md §7, catalogued in core/run/tokenFields.ts). Pure string building (no vscode): unit-tested in
 * test/unit/hovers.
 */
import { escapeLabel, escapeMarkdown, fmt, signed } from '../../core/format';
import { displayString } from '../../core/visibleText';
import type { AlgorithmName, RolloutRecord } from '../../core/run/schema';
import { ROLLOUT_NUMBERS, fieldArray, fieldName, fieldRows, tokenFieldDef } from '../../core/run/tokenFields';

/** The editor's cards print four digits (a hover has room; the webview's cell prints three). */
const D = 4;

/**
 * Token text made visible: spaces as ·, newlines as ⏎, tabs as →, and what could hide or reorder text (bidi
 * controls, control and zero-width characters, lone surrogates) as ⟨U+…⟩, as the trajectory view shows it.
 */
export function visibleToken(text: string): string {
  return displayString(text.replace(/ /g, '·').replace(/\r?\n/g, '⏎').replace(/\t/g, '→'));
}

/** 1-based rank of t in `values` (largest first), e.g. "rank 3 of 48"; ties share a rank and say so. */
function rankOf(values: number[], t: number): string | undefined {
  const v = values[t];
  if (typeof v !== 'number' || Number.isNaN(v)) return undefined;
  const rank = 1 + values.filter((x) => typeof x === 'number' && x > v).length;
  const tied = values.filter((x) => x === v).length;
  if (tied === values.length) return `same for all ${tied} tokens`;
  return `rank ${rank} of ${values.length}${tied > 1 ? ` (${tied} tied)` : ''}`;
}

/** Untrusted text for inside a code span, made visible: backticks cannot be escaped there, so they are replaced. */
function code(s: string): string {
  return `\`${displayString(s).replace(/`/g, 'ˋ')}\``;
}

export function rolloutHeader(r: RolloutRecord): string {
  const correct = r.correct === undefined ? '' : r.correct ? ' ✓' : ' ✗';
  const parts = [`rollout ${code(r.id)}`, `group ${code(r.group)}`, `step ${r.step}`, `reward ${fmt(r.reward, 3)}${correct}`, `Aᵢ ${signed(r.advantage, 3)}`];
  if (r.alpha !== undefined) parts.push(`αᵢ ${fmt(r.alpha, 3)}`);
  return parts.join(' · ');
}

/** The CodeLens over a rollout's line. A lens title draws $(icon) syntax: the id and group are someone else's text. */
export function lensTitle(r: RolloutRecord): string {
  const correct = r.correct === undefined ? '' : r.correct ? ' ✓' : ' ✗';
  return `${escapeLabel(r.id)} · group ${escapeLabel(r.group)} · reward ${fmt(r.reward, 2)}${correct} · Aᵢ ${signed(r.advantage, 3)} · ${r.tokens.length} tokens`;
}

/** How Ã came about for this token, in the algorithm's own terms (ALGORITHMS.md §1–4). */
function derivation(r: RolloutRecord, t: number, algorithm: AlgorithmName | undefined): string {
  const final = `Ãᵢₜ = **${signed(r.tokenAdvantages[t], 3)}**`;
  if (r.mask && r.alpha !== undefined) return `${final} = αᵢ ${fmt(r.alpha, 3)} × Aᵢ ${signed(r.advantage, 3)} × mₜ ${fmt(r.mask[t], 0)}`;
  if (r.weights) {
    const w = fieldName(tokenFieldDef('weight'), algorithm).symbol;
    return `${final} = Aᵢ ${signed(r.advantage, 3)} × ${w} ${fmt(r.weights[t], 3)}`;
  }
  return `${final} (Aᵢ ${signed(r.advantage, 3)}: every token carries the outcome advantage)`;
}

/** The markdown card for token `t` of rollout `r`. */
export function tokenMarkdown(r: RolloutRecord, t: number, algorithm?: AlgorithmName): string {
  const L = r.tokens.length;
  const text = r.tokens[t] ?? '';
  const out: string[] = [];
  const perceptual = r.perceptual ? (r.perceptual[t] ? ' · 👁 perceptual (ground truth)' : ' · not perceptual (ground truth)') : '';
  out.push(`**Token ${t + 1} of ${L}** ${code(visibleToken(text))}${r.tokenIds?.[t] !== undefined ? ` (id ${r.tokenIds[t]})` : ''}${perceptual}`);
  out.push('');
  out.push(derivation(r, t, algorithm));
  out.push('');
  out.push('| field | value | |');
  out.push('|---|---:|---|');
  for (const row of fieldRows((def) => fieldArray(r, def)?.[t] ?? NaN, (def) => fieldArray(r, def) !== undefined, algorithm)) {
    const { def, value } = row;
    const arr = fieldArray(r, def)!;
    const shown = def.states ? (row.text ?? '—') : def.column === 'tokenAdvantage' ? `**${signed(value, D)}**` : def.kind === 'diverging' && !def.scale?.centre ? signed(value, D) : fmt(value, D);
    const note = def.logProb ? `p = ${fmt(Math.exp(value), 3)}` : def.ranked ? (rankOf(arr, t) ?? '') : '';
    out.push(`| ${row.symbol} — ${row.label} | ${shown} | ${note} |`);
    if (def.column === 'tokenAdvantage') {
      for (const n of ROLLOUT_NUMBERS) {
        const v = r[n.key];
        if (v !== undefined) out.push(`| ${n.symbol} — ${n.label} | ${n.key === 'advantage' ? signed(v, D) : fmt(v, D)} | |`);
      }
    }
  }
  const alts = r.topAlternatives?.[t];
  if (alts?.length) {
    out.push('');
    out.push(`Top alternatives: ${alts.map(([tok, lp]) => `${code(visibleToken(tok))} ${fmt(Math.exp(lp), 3)}`).join(' · ')}`);
  }
  if (r.synthetic?.length) {
    out.push('');
    out.push(`_Filled in by the importer, not recorded: ${r.synthetic.map(escapeMarkdown).join(', ')}._`);
  }
  return out.join('\n');
}

/**
 * The card for a rollout as a whole (hover on its id, prompt, response or reward); `imageUri`, when given,
 * shows the task image (the rollout's `image`, resolved against its run directory).
 */
export function rolloutMarkdown(r: RolloutRecord, imageUri?: string): string {
  const L = r.tokens.length;
  const perceptual = r.perceptual ? r.perceptual.reduce((a, b) => a + (b ? 1 : 0), 0) : undefined;
  const lines = [
    `**Rollout** ${rolloutHeader(r)}`,
    '',
    imageUri ? `![task image](${imageUri}|width=96)` : '',
    '',
    `Prompt: ${escapeMarkdown(r.prompt)}`,
    r.answer !== undefined ? `Answer: ${escapeMarkdown(r.answer)}` : '',
    '',
    `| | |`,
    `|---|---:|`,
    `| response tokens | ${L} |`,
  ];
  if (perceptual !== undefined) lines.push(`| perceptual tokens (ground truth) | ${perceptual} (${fmt((100 * perceptual) / Math.max(1, L), 1)}%) |`);
  if (r.mask) lines.push(`| tokens kept by the VPPO mask | ${r.mask.reduce((a, b) => a + b, 0)} |`);
  const adv = r.tokenAdvantages.filter((x) => typeof x === 'number' && !Number.isNaN(x));
  if (adv.length) lines.push(`| Ã min / mean / max | ${fmt(Math.min(...adv), 3)} / ${fmt(adv.reduce((a, b) => a + b, 0) / adv.length, 3)} / ${fmt(Math.max(...adv), 3)} |`);
  lines.push('', '_Hover a token (in `tokens` or any per-token array) for its dependency scores and advantages._');
  return lines.filter((l, i, a) => !(l === '' && a[i - 1] === '')).join('\n');
}
