"""§1 The outcome advantage (GRPO; Dr.GRPO with `normalizeByStd: false`) — src/core/algorithms/outcome.ts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .types import FunctionEstimator, RolloutAdvantage, RolloutInput, ViewRequirements

if TYPE_CHECKING:
    from .config import AlgorithmConfig

#: ε added to the group std.
GRPO_EPS = 1e-6


def outcome_advantages(rewards: Sequence[float] | Tensor, groups: Sequence[str], normalize_by_std: bool = True) -> Tensor:
    """A_i = (R_i − mean_{j∈g(i)} R_j) / (std_{j∈g(i)} R_j + 1e-6), std unbiased (N − 1);
    `normalize_by_std=False` gives A_i = R_i − mean (Dr.GRPO). A group of one rollout uses mean 0 and std 1
    (verl's convention), so its A_i = R_i / (1 + 1e-6) (Dr.GRPO: R_i). Float64, in the order of `rewards`.

    The sums run in order over each group in plain doubles, as the TypeScript code does, so A_i agree bit for bit."""
    r = [float(x) for x in (rewards.tolist() if isinstance(rewards, Tensor) else rewards)]
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    A = [0.0] * len(r)
    for idx in members.values():
        N = len(idx)
        mu = 0.0
        sigma = 1.0
        if N > 1:
            for i in idx:
                mu += r[i]
            mu /= N
            ss = 0.0
            for i in idx:
                d = r[i] - mu
                ss += d * d  # not d ** 2: that raises OverflowError past 1e154, where d * d (and JavaScript) gives inf
            sigma = math.sqrt(ss / (N - 1))
        for i in idx:
            A[i] = (r[i] - mu) / (sigma + GRPO_EPS) if normalize_by_std else r[i] - mu
    return torch.tensor(A, dtype=torch.float64)


def constant_token_advantages(A_i: float, L: int) -> Tensor:
    """Every token carries A_i: Ã_{i,t} = A_i."""
    return torch.full((L,), float(A_i), dtype=torch.float64)


def _response_length(r: RolloutInput) -> int:
    return len(r["logp"]["image"])


def outcome_reshape(_config: AlgorithmConfig, rollouts: Sequence[RolloutInput], A: Tensor) -> list[RolloutAdvantage]:
    """`grpo` and `dapo`: Ã_{i,t} = A_i on every token."""
    return [
        RolloutAdvantage(id=r["id"], advantage=float(A[i]), token_advantages=constant_token_advantages(float(A[i]), _response_length(r)))
        for i, r in enumerate(rollouts)
    ]


#: `grpo` and `dapo`: the outcome advantage on every token, no probe views.
outcome_estimator = FunctionEstimator(
    description="outcome advantage on every token (ALGORITHMS.md §1)",
    views_fn=lambda _config: ViewRequirements(views=("image",), perturbed_samples=0),
    reshape_fn=outcome_reshape,
)
