/**
 * The algorithm presets (ALGORITHMS.md §6) as the UI names them. PRPO is a reconstruction: "PRPO-R". Pure data
 * (the webviews bundle it).
 */
import type { AlgorithmName } from './run/schema';

export const PRESETS: ReadonlyArray<{ name: AlgorithmName; label: string; detail: string }> = [
  { name: 'prpo', label: 'PRPO-R', detail: 'Reconstructed PRPO: robust visual dependency (grounded and perturbation-stable tokens) amplifies their advantage; blind + mild views.' },
  { name: 'vppo', label: 'VPPO', detail: 'Token-level gradient filtering (top 40% dependency) + trajectory-level advantage shaping; perturbed view, sampled-NLL term 0.06.' },
  { name: 'pgpo', label: 'PGPO', detail: 'Threshold-gated, mass-conserving token reweighting by dependency on the image; blind view.' },
  { name: 'dapo', label: 'DAPO', detail: 'Outcome advantage, asymmetric clipping, dual clip, dynamic sampling; no dependency view.' },
  { name: 'grpo', label: 'GRPO', detail: 'Group-normalised outcome advantage, symmetric clipping; the baseline.' },
];

/** The UI's name of a preset ("PRPO-R", "VPPO", …); an unknown name (another trainer's) as it is, upper-cased. */
export function presetLabel(name: string): string {
  return PRESETS.find((p) => p.name === name)?.label ?? name.toUpperCase();
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * The run name used when the user gives none: preset, seed and the local start time to the second
 * ("PRPO-R seed 0 · 2 Dec 05:44:31"), so the runs of one preset and seed tell apart in the explorer.
 */
export function defaultRunName(preset: AlgorithmName, seed: number, now: Date = new Date()): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const time = `${now.getDate()} ${MONTHS[now.getMonth()]} ${two(now.getHours())}:${two(now.getMinutes())}:${two(now.getSeconds())}`;
  return `${presetLabel(preset)} seed ${seed} · ${time}`;
}
