/** The algorithm presets (ALGORITHMS.md §6) as the UI names them. PRPO is a reconstruction: "PRPO-R". */
import type { AlgorithmName } from '../core/run/schema';

export const PRESETS: ReadonlyArray<{ name: AlgorithmName; label: string; detail: string }> = [
  { name: 'prpo', label: 'PRPO-R', detail: 'Reconstructed PRPO: robust visual dependency (grounded and perturbation-stable tokens) amplifies their advantage; blind + mild views.' },
  { name: 'vppo', label: 'VPPO', detail: 'Token-level gradient filtering (top 40% dependency) + trajectory-level advantage shaping; perturbed view, sampled-NLL term 0.06.' },
  { name: 'pgpo', label: 'PGPO', detail: 'Threshold-gated, mass-conserving token reweighting by dependency on the image; blind view.' },
  { name: 'dapo', label: 'DAPO', detail: 'Outcome advantage, asymmetric clipping, dual clip, dynamic sampling; no dependency view.' },
  { name: 'grpo', label: 'GRPO', detail: 'Group-normalised outcome advantage, symmetric clipping; the baseline.' },
];

export function presetLabel(name: AlgorithmName): string {
  return PRESETS.find((p) => p.name === name)?.label ?? name;
}
