"""Probe views made directly on a Qwen-VL processor's `pixel_values` (no verl import here).

verl 0.9's V1 trainer drops the raw images once the agent loop has processed them
(`verl/trainer/ppo/v1/agent_loop_tq.py`, `field.pop("multi_modal_data")`), so the views of
ALGORITHMS.md are made in the processor's output space, which keeps `image_grid_thw`, the token ids and
the M-RoPE positions unchanged:

- `pixel_values` of one image is `[t*h*w, C * temporal_patch * patch * patch]`: one row per ViT patch,
  ordered so that each run of `merge_size**2` consecutive rows is one visual token of the language model,
  and each channel's values are one contiguous block of columns
  (`Qwen2VLImageProcessor._preprocess`: reshape + transpose(0,3,6,4,7,2,1,5,8)).
- values are normalised: `x = (v - mean_c) / std_c` with `v` in [0, 1].

Views (names as in ALGORITHMS.md):
- `blind`: every pixel black (`v = 0`), the same token sequence. ALGORITHMS.md's blind view masks attention
  to the image tokens instead; verl's packed flash-attention forward has no attention mask to edit, so the
  verl route uses a black image (docs/verl.md says so).
- `perturbed`: each visual token (a run of `merge_size**2` rows, 28x28 pixels for Qwen2-VL) is blackened
  with probability `perturb_prob` (VPPO blackens 14x14 squares of the PIL image with probability 0.5).
- `mild`: i.i.d. Gaussian noise of `mild_sigma` on the [0, 1] scale, clipped to [0, 1].

Randomness is seeded per rollout from the view's seed and the rollout's token ids, so a rollout gets the
same mask wherever it lands (whichever worker, micro-batch or balancing order), and two steps differ.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

import torch

VIEWS = ("blind", "perturbed", "mild")

# The image processor's defaults for Qwen2-VL / Qwen2.5-VL (OPENAI_CLIP_MEAN / OPENAI_CLIP_STD); the trainer
# replaces them with the loaded processor's own values.
QWEN_VL_MEAN = (0.48145466, 0.4578275, 0.40821073)
QWEN_VL_STD = (0.26862954, 0.26130258, 0.27577711)


class ViewError(ValueError):
    """A view cannot be made from these inputs (shapes, names or settings); the message says which."""


@dataclass(frozen=True)
class ViewSpec:
    """What the worker needs to make one view: travels as JSON in the batch's `extra_info`."""

    view: str
    seed: int = 0
    # Which of M perturbed masks (PRPO-R's `multimask` RVD scores several).
    sample: int = 0
    merge_size: int = 2
    mean: tuple[float, ...] = field(default=QWEN_VL_MEAN)
    std: tuple[float, ...] = field(default=QWEN_VL_STD)
    perturb_prob: float = 0.5
    mild_sigma: float = 0.1

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise ViewError(f"view {self.view!r}: expected one of {', '.join(VIEWS)}")
        if len(self.mean) != len(self.std) or not self.mean:
            raise ViewError(f"view {self.view}: mean has {len(self.mean)} channels, std has {len(self.std)}")
        if any(s <= 0 for s in self.std):
            raise ViewError(f"view {self.view}: std must be > 0, got {list(self.std)}")
        if self.merge_size < 1:
            raise ViewError(f"view {self.view}: merge_size must be >= 1, got {self.merge_size}")
        if not 0.0 <= self.perturb_prob <= 1.0:
            raise ViewError(f"view {self.view}: perturb_prob must be in [0, 1], got {self.perturb_prob}")
        if self.mild_sigma < 0:
            raise ViewError(f"view {self.view}: mild_sigma must be >= 0, got {self.mild_sigma}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ViewSpec:
        try:
            raw = json.loads(text)
        except (TypeError, json.JSONDecodeError) as e:
            raise ViewError(f"view spec is not JSON: {text!r} ({e})") from None
        if not isinstance(raw, dict):
            raise ViewError(f"view spec must be a JSON object, got {text!r}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ViewError(f"view spec has unknown keys {unknown} (known: {sorted(known)})")
        for key in ("mean", "std"):
            if key in raw:
                raw[key] = tuple(float(v) for v in raw[key])
        return cls(**raw)


def rollout_seed(spec: ViewSpec, token_ids: torch.Tensor) -> int:
    """A 63-bit seed from the view (name, seed, mask number) and the rollout's token ids."""
    h = hashlib.blake2b(digest_size=8)
    h.update(f"{spec.view}:{spec.seed}:{spec.sample}".encode())
    h.update(token_ids.detach().to("cpu", torch.int64).contiguous().numpy().tobytes())
    return int.from_bytes(h.digest(), "little") & ((1 << 63) - 1)


def _channel_bounds(spec: ViewSpec, columns: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-column mean, std, and the normalised values of black (v=0) and white (v=1)."""
    channels = len(spec.mean)
    if columns % channels:
        raise ViewError(
            f"view {spec.view}: pixel_values has {columns} columns, not a multiple of the {channels} channels "
            "of the image mean/std (is this a Qwen-VL-style processor output?)"
        )
    width = columns // channels
    mean = torch.tensor(spec.mean, dtype=torch.float32).repeat_interleave(width)
    std = torch.tensor(spec.std, dtype=torch.float32).repeat_interleave(width)
    return mean, std, (0.0 - mean) / std, (1.0 - mean) / std


def make_view(pixel_values: torch.Tensor, image_grid_thw: torch.Tensor, spec: ViewSpec, seed: int) -> torch.Tensor:
    """The view `spec.view` of one rollout's images (`pixel_values` rows of all its images, in order).

    Returns a new tensor of the same shape, dtype and device; the input is never modified.
    """
    if pixel_values.dim() != 2:
        raise ViewError(f"view {spec.view}: pixel_values must be 2-D [patches, features], got {tuple(pixel_values.shape)}")
    grid = torch.as_tensor(image_grid_thw).reshape(-1, 3).to("cpu", torch.int64)
    rows = int(grid.prod(dim=1).sum())
    if rows != pixel_values.shape[0]:
        raise ViewError(
            f"view {spec.view}: image_grid_thw {grid.tolist()} describes {rows} patch rows, "
            f"pixel_values has {pixel_values.shape[0]}"
        )
    group = spec.merge_size**2
    if rows % group:
        raise ViewError(f"view {spec.view}: {rows} patch rows are not whole visual tokens of {group} rows (merge_size {spec.merge_size})")

    x = pixel_values.detach().to("cpu", torch.float32)
    _, std, black, white = _channel_bounds(spec, x.shape[1])
    generator = torch.Generator().manual_seed(seed)
    if spec.view == "blind":
        out = black.expand_as(x).clone()
    elif spec.view == "perturbed":
        hit = torch.rand(rows // group, generator=generator) < spec.perturb_prob
        out = torch.where(hit.repeat_interleave(group)[:, None], black, x)
    else:  # mild
        noise = torch.randn(x.shape, generator=generator) * (spec.mild_sigma / std)
        out = torch.maximum(torch.minimum(x + noise, white), black)
    return out.to(device=pixel_values.device, dtype=pixel_values.dtype)
