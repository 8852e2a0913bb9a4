"""The study's controls (ALGORITHMS.md §6, docs/study.md) — src/core/algorithms/controls.ts. PAR (§4) on a token
set that is not estimated:

- `oracle`: RVD := the ground-truth perceptual flags (the rollout's `labels`), so w = 1 + β exactly on the
  perceptual tokens.
- `random`: PAR on a random set of the same size as the response's ground-truth set, drawn from a seed hashed
  from the rollout's group and id. The draw is TypeScript's bit for bit (src/core/random.ts's mulberry32 and
  FNV-1a `hashString`, ported below), so both implementations reshape the same tokens and the shared vectors
  (test/vectors/advantages.json) hold the contract for this control as for the others.

Both read no probe view; both need labels, and say so when they are missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

from .jsfmt import js_string
from .pgpo import conserve_mass, scale_advantage
from .prpo import par_weights
from .stats import RowLike, as_row
from .types import FunctionEstimator, RolloutAdvantage, RolloutInput, ViewRequirements
from .validate import InputError

if TYPE_CHECKING:
    from .config import AlgorithmConfig

_U32 = 0xFFFFFFFF


def mulberry32(seed: int) -> Callable[[], float]:
    """src/core/random.ts's mulberry32: uniforms in [0, 1) from a 32-bit seed (all arithmetic mod 2³²)."""
    state = seed & _U32

    def imul(a: int, b: int) -> int:
        return (a * b) & _U32

    def next_uniform() -> float:
        nonlocal state
        state = (state + 0x6D2B79F5) & _U32
        t = state
        t = imul(t ^ (t >> 15), t | 1)
        t = (t ^ ((t + imul(t ^ (t >> 7), t | 61)) & _U32)) & _U32
        return ((t ^ (t >> 14)) & _U32) / 4294967296

    return next_uniform


def hash_string(text: str) -> int:
    """src/core/random.ts's hashString: FNV-1a over the string's UTF-16 code units (JavaScript's charCodeAt)."""
    h = 0x811C9DC5
    units = text.encode("utf-16-le")
    for i in range(0, len(units), 2):
        h ^= units[i] | (units[i + 1] << 8)
        h = (h * 0x01000193) & _U32
    return h


def random_set_like(labels: RowLike, seed: int) -> Tensor:
    """A random 0/1 row with as many ones as `labels` (> 0.5), drawn from `seed` by a partial Fisher–Yates."""
    flags = as_row(labels) > 0.5
    L = flags.numel()
    k = int(flags.sum())
    order = list(range(L))
    u = mulberry32(seed)
    for i in range(k):
        j = i + int(u() * (L - i))  # floor: u() * (L − i) is ≥ 0
        order[i], order[j] = order[j], order[i]
    out = torch.zeros(L, dtype=torch.float64)
    out[order[:k]] = 1.0
    return out


def _labels_of(name: str, r: RolloutInput) -> Tensor:
    L = as_row(r["logp"]["image"]).numel()
    labels = r.get("labels")
    if labels is None:
        raise InputError(f"rollout {js_string(r['id'])}: labels are missing; the {name} control needs the ground-truth perceptual flags")
    row = as_row(labels)
    if row.numel() != L:
        raise InputError(f"rollout {js_string(r['id'])}: labels has {row.numel()} entries, logp.image has {L}")
    return row


def _control_reshape(name: Literal["oracle", "random"]):
    def reshape(config: AlgorithmConfig, rollouts: Sequence[RolloutInput], A: Tensor) -> list[RolloutAdvantage]:
        out = []
        for i, r in enumerate(rollouts):
            labels = _labels_of(name, r)
            if name == "oracle":
                rvd = (labels > 0.5).to(torch.float64)
            else:
                rvd = random_set_like(labels, hash_string(f"random|{r['group']}|{r['id']}"))
            w = par_weights(rvd, config.tau, config.beta)
            if config.mass_conserving:
                w = conserve_mass(w)
            out.append(RolloutAdvantage(
                id=r["id"], advantage=float(A[i]), token_advantages=scale_advantage(float(A[i]), w), scores={"rvd": rvd}, weights=w,
            ))
        return out

    return reshape


def _image_only(_config: AlgorithmConfig) -> ViewRequirements:
    return ViewRequirements(views=("image",), perturbed_samples=0)


oracle_estimator = FunctionEstimator(
    description="control: PAR with RVD := the ground-truth perceptual flags (needs labels)",
    views_fn=_image_only,
    reshape_fn=_control_reshape("oracle"),
)

random_estimator = FunctionEstimator(
    description="control: PAR on a random token set of the ground-truth set's size (needs labels)",
    views_fn=_image_only,
    reshape_fn=_control_reshape("random"),
)
