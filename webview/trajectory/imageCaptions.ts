/**
 * The probe views' names and captions (pure text, no DOM: unit-tested). The numbers come from the run's config
 * (core/view/runInfo.ts); the fallbacks are ALGORITHMS.md's defaults.
 */
import type { WebviewRunInfo } from '../../src/core/protocol/webview';

export type ImageView = 'image' | 'blind' | 'perturbed' | 'mild';

export const VIEWS: Array<{ view: ImageView; label: string }> = [
  { view: 'image', label: 'Image' },
  { view: 'blind', label: 'Blind' },
  { view: 'perturbed', label: 'Perturbed' },
  { view: 'mild', label: 'Mild' },
];

export function caption(view: ImageView, run: WebviewRunInfo | undefined, patch: number): string {
  const p = run?.patchDropProb ?? 0.5;
  const sigma = run?.mildSigma ?? 0.1;
  switch (view) {
    case 'image':
      return 'The task image (the clean view).';
    case 'blind':
      return 'Blind view: the same sequence with attention to every image token masked. The model saw no pixels at all (the image is not replaced by a blank one).';
    case 'perturbed':
      return `Perturbed view — an illustration: each ${patch}×${patch} patch blackened with probability ${p}. Every rollout drew its own mask, which is not recorded.`;
    case 'mild':
      return `Mild view — an illustration: fresh Gaussian pixel noise, σ = ${sigma} on [0, 1], clipped. Not the exact noise the probe drew.`;
  }
}
