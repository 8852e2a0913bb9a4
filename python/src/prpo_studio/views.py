"""The probe views of ALGORITHMS.md (Notation), made on the image before the model's processor sees it (as
VPPO-RL does): `perturbed` — random patch blackening, every square of `patch` pixels set to 0 with probability
`prob`, a fresh mask per rollout; `mild` — i.i.d. Gaussian pixel noise, σ on the [0, 1] scale, clipped;
`black` — the same-size black image (the `blind: "black"` option). The default `blind` view is text-only:
the prompt without the image (models.py), PGPO's probe. Every draw comes from the numpy Generator passed in,
so a step's views are reproduced on resume."""

from __future__ import annotations

import numpy as np
from PIL import Image


def perturb_patches(image: Image.Image, patch: int, prob: float, rng: np.random.Generator) -> Image.Image:
    a = np.asarray(image.convert("RGB")).copy()
    h, w = a.shape[:2]
    rows, cols = -(-h // patch), -(-w // patch)
    drop = rng.random((rows, cols)) < prob
    mask = np.repeat(np.repeat(drop, patch, axis=0), patch, axis=1)[:h, :w]
    a[mask] = 0
    return Image.fromarray(a)


def mild_noise(image: Image.Image, sigma: float, rng: np.random.Generator) -> Image.Image:
    a = np.asarray(image.convert("RGB")).astype(np.float32) / 255.0
    a = np.clip(a + rng.normal(0.0, sigma, a.shape).astype(np.float32), 0.0, 1.0)
    return Image.fromarray((a * 255.0 + 0.5).astype(np.uint8))


def black(image: Image.Image) -> Image.Image:
    return Image.new("RGB", image.size, (0, 0, 0))
