"""§2 VPPO: Token-level Gradient Filtering (TGF) and Trajectory-level Advantage Shaping (TAS) —
src/core/algorithms/vppo.ts.

    S_{i,t} = k3(logp_image, logp_perturbed);   Ã_{i,t} = α_i · A_i · m_{i,t}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .dependency import dependency_row
from .stats import RowLike, as_row
from .types import FunctionEstimator, RolloutAdvantage, RolloutInput, ViewRequirements

if TYPE_CHECKING:
    from .config import AlgorithmConfig

#: TAS: below this spread of S̄ over the batch every α_i = 1.
TAS_SPREAD_EPS = 1e-6
#: TAS: ε in β_max = β_min + (1 − β_min)/(μ + 1e-8).
TAS_MU_EPS = 1e-8


def tgf_count(k: float, L: int) -> int:
    """TGF: k_i = ceil(k · L_i), at least 1 and at most L_i. The product is taken as the real number it stands
    for, so floating-point noise does not add a token (0.07 · 100 = 7.000000000000001 in doubles: 7 tokens)."""
    return min(L, max(1, math.ceil(k * L - 1e-9)))


def tgf_mask(S: RowLike, k: float) -> Tensor:
    """TGF mask: m_t = 1 for the k_i = ceil(k · L) tokens with the largest S_t, else 0. Ties go to the earlier
    token (a stable sort by S descending)."""
    s = as_row(S)
    L = s.numel()
    k_i = tgf_count(k, L)
    # The k_i-th largest score is the cut: every token above it is kept, then tokens equal to it in order.
    cut = torch.sort(s).values[L - k_i]
    above = s > cut
    ties = k_i - int(above.sum())
    at_cut = s == cut
    keep_tied = at_cut & (torch.cumsum(at_cut.to(torch.int64), 0) <= ties)
    return (above | keep_tied).to(torch.float64)


def tas_weights(S_bar: RowLike, beta_min: float) -> Tensor:
    """TAS trajectory weights from the mean dependency S̄_i of each rollout of the batch:

        gmin = min S̄, gmax = max S̄; if gmax − gmin ≤ 1e-6 every α_i = 1; otherwise
        n_i = clamp((S̄_i − gmin)/(gmax − gmin), 0, 1),  μ = mean_i n_i,
        β_max = β_min + (1 − β_min)/(μ + 1e-8),  α_i = β_min + n_i (β_max − β_min)   (so mean α ≈ 1).
    """
    s = as_row(S_bar)
    n = s.numel()
    alpha = torch.ones(n, dtype=torch.float64)
    if n == 0:
        return alpha
    gmin = float(s.min())
    gmax = float(s.max())
    if not gmax - gmin > TAS_SPREAD_EPS:
        return alpha
    norm = torch.clamp((s - gmin) / (gmax - gmin), 0.0, 1.0)
    mu = float(norm.sum()) / n
    beta_max = beta_min + (1 - beta_min) / (mu + TAS_MU_EPS)
    return beta_min + norm * (beta_max - beta_min)


def vppo_reshape(config: AlgorithmConfig, rollouts: Sequence[RolloutInput], A: Tensor) -> list[RolloutAdvantage]:
    """VPPO over a step batch: S_{i,t} = k3(logp_image, logp_perturbed), m = TGF(S_i, k), α = TAS(S̄, β_min),
    Ã_{i,t} = α_i · A_i · m_{i,t}. TAS spans the whole step batch (a deliberate deviation from the official code,
    which takes min/max per GPU mini-batch: results must not depend on how work is split)."""
    S = [dependency_row(config, r, "perturbed") for r in rollouts]
    S_bar = torch.tensor([float(row.sum()) / row.numel() for row in S], dtype=torch.float64)
    alpha = tas_weights(S_bar, config.beta_min)
    out = []
    for i, r in enumerate(rollouts):
        m = tgf_mask(S[i], config.top_k)
        scale = float(alpha[i]) * float(A[i])
        out.append(RolloutAdvantage(
            id=r["id"], advantage=float(A[i]), token_advantages=scale * m, scores={"S": S[i]}, mask=m, alpha=float(alpha[i]),
        ))
    return out


vppo_estimator = FunctionEstimator(
    description="VPPO: top-k dependency token mask and batch-normalised trajectory weight (ALGORITHMS.md §2)",
    views_fn=lambda _config: ViewRequirements(views=("image", "perturbed"), perturbed_samples=1),
    reshape_fn=vppo_reshape,
)
