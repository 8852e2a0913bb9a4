"""Pixel-space probe views (prpo_studio.verl.views) against the real Qwen2-VL image processor: a blind view is
exactly the processor's output for a black image, a perturbed visual token is exactly a blackened 28x28 block of
the image, mild noise stays in the image's range. No verl import needed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from prpo_studio.verl.views import ViewError, ViewSpec, make_view, rollout_seed

transformers = pytest.importorskip("transformers", reason="transformers is part of the project's venv")

# 56x84 pixels = a 4x6 grid of 14x14 ViT patches = 2x3 visual tokens of 28x28 (merge_size 2); the processor's
# smart_resize keeps it as it is (multiples of 28, within min/max pixels).
H, W = 56, 84


def processor():
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor

    return Qwen2VLImageProcessor(min_pixels=28 * 28, max_pixels=H * W)


def pixel_values(img: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    out = processor()(images=[Image.fromarray(img)], return_tensors="pt")
    return out["pixel_values"].float(), out["image_grid_thw"]


def spec(view: str, **kw) -> ViewSpec:
    p = processor()
    return ViewSpec(view=view, mean=tuple(p.image_mean), std=tuple(p.image_std), merge_size=p.merge_size, **kw)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)


def test_the_processor_layout_is_the_one_the_views_assume(image):
    pv, grid = pixel_values(image)
    assert grid.tolist() == [[1, H // 14, W // 14]]
    assert pv.shape == (H // 14 * W // 14, 3 * 2 * 14 * 14)


def test_blind_is_the_processed_black_image(image):
    pv, grid = pixel_values(image)
    black, _ = pixel_values(np.zeros_like(image))
    blind = make_view(pv, grid, spec("blind"), seed=0)
    torch.testing.assert_close(blind, black, atol=1e-5, rtol=0)
    assert not torch.allclose(pv, black)  # the input was not black to begin with


def test_a_perturbed_visual_token_is_a_blackened_28px_block(image):
    pv, grid = pixel_values(image)
    s = spec("perturbed")
    view = make_view(pv, grid, s, seed=11)
    groups = view.shape[0] // 4
    hit = [not torch.allclose(view[4 * g : 4 * g + 4], pv[4 * g : 4 * g + 4]) for g in range(groups)]
    assert 0 < sum(hit) < groups, "seed 11 blackens some but not all of the 6 visual tokens"
    # Blacken the same 28x28 blocks in the image itself (visual tokens in row-major order over the 2x3 grid):
    img = image.copy()
    for g, h in enumerate(hit):
        if h:
            r, c = divmod(g, W // 28)
            img[28 * r : 28 * r + 28, 28 * c : 28 * c + 28] = 0
    expected, _ = pixel_values(img)
    torch.testing.assert_close(view, expected, atol=1e-5, rtol=0)


def test_perturbed_masks_about_half_of_the_tokens_and_depend_on_seed_and_rollout():
    grid = torch.tensor([[1, 40, 40]])  # 400 visual tokens
    pv = torch.randn(1600, 3 * 2 * 14 * 14)
    s = spec("perturbed")
    a = make_view(pv, grid, s, seed=rollout_seed(s, torch.tensor([1, 2, 3])))
    again = make_view(pv, grid, s, seed=rollout_seed(s, torch.tensor([1, 2, 3])))
    other = make_view(pv, grid, s, seed=rollout_seed(s, torch.tensor([1, 2, 4])))
    torch.testing.assert_close(a, again)
    assert not torch.equal(a, other)
    blackened = (a != pv).any(dim=1).reshape(-1, 4)
    assert bool((blackened.all(dim=1) | ~blackened.any(dim=1)).all()), "whole visual tokens only"
    assert 0.4 < blackened.all(dim=1).double().mean() < 0.6
    next_step = ViewSpec(**{**s.__dict__, "seed": 1})
    assert rollout_seed(next_step, torch.tensor([1, 2, 3])) != rollout_seed(s, torch.tensor([1, 2, 3]))


def test_mild_noise_has_sigma_on_the_0_1_scale_and_stays_in_range(image):
    pv, grid = pixel_values(np.full_like(image, 128))  # mid-grey: almost nothing is clipped
    s = spec("mild")
    view = make_view(pv, grid, s, seed=5)
    mean = torch.tensor(s.mean).repeat_interleave(pv.shape[1] // 3)
    std = torch.tensor(s.std).repeat_interleave(pv.shape[1] // 3)
    v0, v1 = pv * std + mean, view * std + mean  # back on the [0, 1] scale
    assert float(v1.min()) >= -1e-6 and float(v1.max()) <= 1 + 1e-6
    assert abs(float((v1 - v0).std()) - 0.1) < 0.005


def test_views_keep_shape_dtype_and_never_modify_the_input(image):
    pv, grid = pixel_values(image)
    pv16 = pv.to(torch.bfloat16)
    before = pv16.clone()
    for view in ("blind", "perturbed", "mild"):
        out = make_view(pv16, grid, spec(view), seed=1)
        assert out.shape == pv16.shape and out.dtype == torch.bfloat16
    assert torch.equal(pv16, before)


def test_bad_inputs_name_what_is_wrong(image):
    pv, grid = pixel_values(image)
    with pytest.raises(ViewError, match=r"image_grid_thw \[\[1, 4, 6\]\] describes 24 patch rows, pixel_values has 23"):
        make_view(pv[:23], grid, spec("blind"), seed=0)
    with pytest.raises(ViewError, match="view 'dark': expected one of blind, perturbed, mild"):
        ViewSpec(view="dark")
    with pytest.raises(ViewError, match="not a multiple of the 3 channels"):
        make_view(torch.zeros(24, 100), grid, spec("blind"), seed=0)
    with pytest.raises(ViewError, match="unknown keys"):
        ViewSpec.from_json('{"view": "blind", "sigma": 2}')
    assert ViewSpec.from_json(spec("mild", seed=9).to_json()) == spec("mild", seed=9)
