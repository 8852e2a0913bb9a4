/**
 * The hover card of one token of a rollout: a markdown table of every per-token field the rollout recorded
 * (ALGORITHMS.md §7). Pure string building (no vscode) so tests can check it directly.
 */
import type { AlgorithmName, RolloutRecord, ViewName } from '../../core/run/schema';

const VIEWS: ReadonlyArray<[ViewName, string]> = [
  ['image', 'log p, image view (old log-prob)'],
  ['blind', 'log p, blind view (image masked)'],
  ['perturbed', 'log p, perturbed view (patches blackened)'],
  ['mild', 'log p, mild view (pixel noise)'],
];

const SCORES: ReadonlyArray<['S' | 'G' | 'U' | 'rvd', string]> = [
  ['S', 'S — visual dependency'],
  ['G', 'G — grounding, k3(image ‖ blind)'],
  ['U', 'U — instability, k3(image ‖ mild)'],
  ['rvd', 'RVD — robust visual dependency'],
];

function weightLabel(algorithm: AlgorithmName | undefined): string {
  if (algorithm === 'pgpo') return 'ω̃ₜ — PGPO weight';
  if (algorithm === 'prpo') return 'wₜ — PAR weight';
  return 'weight (ω̃ₜ / wₜ)';
}

/** A number for a table cell: fixed digits, a real minus sign, NaN/null as "n/a". */
export function fmt(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined || Number.isNaN(x)) return 'n/a';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  const s = Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : x.toFixed(digits);
  return s.replace(/^-/, '−');
}

function signed(x: number | null | undefined, digits = 4): string {
  const s = fmt(x, digits);
  return typeof x === 'number' && x > 0 ? `+${s}` : s;
}

/** Token text made visible: spaces as ·, newlines as ⏎, tabs as →; backticks kept out of code spans. */
export function visibleToken(text: string): string {
  return text.replace(/ /g, '·').replace(/\r?\n/g, '⏎').replace(/\t/g, '→');
}

/** Markdown-escapes text that is not ours (model output). */
export function escapeMarkdown(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, '\\$&');
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

/** Text for inside a code span: backticks cannot be escaped there, so they are replaced. */
function code(s: string): string {
  return `\`${s.replace(/`/g, 'ˋ')}\``;
}

export function rolloutHeader(r: RolloutRecord): string {
  const correct = r.correct === undefined ? '' : r.correct ? ' ✓' : ' ✗';
  const parts = [`rollout ${code(r.id)}`, `group ${code(r.group)}`, `step ${r.step}`, `reward ${fmt(r.reward, 3)}${correct}`, `Aᵢ ${signed(r.advantage, 3)}`];
  if (r.alpha !== undefined) parts.push(`αᵢ ${fmt(r.alpha, 3)}`);
  return parts.join(' · ');
}

/** How Ã came about for this token, in the algorithm's own terms (ALGORITHMS.md §1–4). */
function derivation(r: RolloutRecord, t: number, algorithm: AlgorithmName | undefined): string {
  const final = `Ãᵢₜ = **${signed(r.tokenAdvantages[t], 3)}**`;
  if (r.mask && r.alpha !== undefined) return `${final} = αᵢ ${fmt(r.alpha, 3)} × Aᵢ ${signed(r.advantage, 3)} × mₜ ${r.mask[t] ?? 'n/a'}`;
  if (r.weights) {
    const w = algorithm === 'pgpo' ? 'ω̃ₜ' : algorithm === 'prpo' ? 'wₜ' : 'weight';
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
  out.push(`| Ãᵢₜ — token advantage | **${signed(r.tokenAdvantages[t])}** | factor of the ratio in the loss |`);
  out.push(`| Aᵢ — outcome advantage | ${signed(r.advantage)} | group-normalised reward |`);
  if (r.alpha !== undefined) out.push(`| αᵢ — VPPO trajectory weight | ${fmt(r.alpha)} | |`);
  if (r.weights) out.push(`| ${weightLabel(algorithm)} | ${fmt(r.weights[t])} | ${rankOf(r.weights, t) ?? ''} |`);
  if (r.mask) out.push(`| mₜ — VPPO mask | ${r.mask[t] ? '1 (trained)' : '0 (filtered out)'} | |`);
  for (const [key, label] of SCORES) {
    const arr = r.scores?.[key];
    if (!arr) continue;
    out.push(`| ${label} | ${fmt(arr[t])} | ${rankOf(arr, t) ?? ''} |`);
  }
  for (const [view, label] of VIEWS) {
    if (r.logp[view] === undefined) continue;
    const lp = r.logp[view]![t];
    out.push(`| ${label} | ${fmt(lp)} | p = ${typeof lp === 'number' && !Number.isNaN(lp) ? fmt(Math.exp(lp), 3) : 'n/a'} |`);
  }
  if (r.perceptual) out.push(`| perceptual (ground truth) | ${r.perceptual[t] ? 'yes' : 'no'} | from the task generator |`);
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
