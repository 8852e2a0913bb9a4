/**
 * The probe views' inputs (ALGORITHMS.md, Notation): `perturbed` blackens each image patch with
 * probability p (a fresh mask per call), `mild` adds i.i.d. Gaussian pixel noise σ, clipped to [0, 1].
 * `blind` needs no new image: it is SequenceInput.blind. Both draw from the trainer's perturbation stream.
 */
import type { Rng } from '../rng';

export function perturbPatches(image: Float32Array, size: number, channels: number, patch: number, p: number, rng: Rng): Float32Array {
  const out = new Float32Array(image);
  const n = size / patch;
  for (let py = 0; py < n; py++) {
    for (let px = 0; px < n; px++) {
      if (rng.next() >= p) continue;
      for (let c = 0; c < channels; c++) {
        for (let y = py * patch; y < (py + 1) * patch; y++) {
          out.fill(0, c * size * size + y * size + px * patch, c * size * size + y * size + (px + 1) * patch);
        }
      }
    }
  }
  return out;
}

export function mildNoise(image: Float32Array, sigma: number, rng: Rng): Float32Array {
  const out = rng.fillNormal(new Float32Array(image.length));
  for (let i = 0; i < image.length; i++) {
    const x = image[i] + sigma * out[i];
    out[i] = x < 0 ? 0 : x > 1 ? 1 : x;
  }
  return out;
}
