"""§3 PGPO: threshold-gated, mass-conserving reshaping of the outcome advantage — src/core/algorithms/pgpo.ts.

    S_t = k3(logp_image, logp_blind);   Ã_{i,t} = A_i · ω̃_t
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .dependency import dependency_row
from .stats import RowLike, as_row, minmax_floor
from .types import FunctionEstimator, RolloutAdvantage, RolloutInput, ViewRequirements

if TYPE_CHECKING:
    from .config import AlgorithmConfig

#: ε of the gate's denominators.
GATE_EPS = 1e-6
#: Below this total weight, mass conservation gives every token weight 1.
MASS_EPS = 1e-6


def minmax_log1p(S: RowLike, floor: float = 0.0) -> Tensor:
    """Log-compressed, per-response normalised dependency: I_t = minmax_f(log(1 + S_t)), with PRPO-R's floor f in
    nats (PGPO: f = 0, the plain minmax)."""
    return minmax_floor(torch.log1p(as_row(S)), floor)


def pgpo_gate(I: RowLike, tau: float, beta: float) -> Tensor:
    """The gate: ω_t = I_t / (τ + ε) if I_t < τ, else ω_t = 1 + β (I_t − τ)/(1 − τ + ε); ε = 1e-6.
    Suppresses tokens below the threshold, boosts those above."""
    i = as_row(I)
    return torch.where(i < tau, i / (tau + GATE_EPS), 1 + beta * (i - tau) / (1 - tau + GATE_EPS))


def conserve_mass(omega: RowLike) -> Tensor:
    """Mass conservation: ω̃_t = ω_t · L / Σ_j ω_j, so Σ_t ω̃_t = L; if Σ_j ω_j ≤ 1e-6, every ω̃_t = 1.
    (Also PRPO-R's `massConserving` option.)"""
    w = as_row(omega)
    L = w.numel()
    total = float(w.sum())
    if total <= MASS_EPS:
        return torch.ones(L, dtype=torch.float64)
    return w * (L / total)


def scale_advantage(A_i: float, w: RowLike) -> Tensor:
    """Ã_t = A_i · w_t."""
    return float(A_i) * as_row(w)


def pgpo_reshape(config: AlgorithmConfig, rollouts: Sequence[RolloutInput], A: Tensor) -> list[RolloutAdvantage]:
    """PGPO per rollout: S_t = k3(logp_image, logp_blind), I_t = minmax(log(1 + S_t)), ω_t = gate(I_t; τ, β),
    ω̃_t = ω_t · L / Σ_j ω_j, Ã_{i,t} = A_i · ω̃_t."""
    out = []
    for i, r in enumerate(rollouts):
        S = dependency_row(config, r, "blind")
        omega_tilde = conserve_mass(pgpo_gate(minmax_log1p(S), config.tau, config.beta))
        out.append(RolloutAdvantage(
            id=r["id"], advantage=float(A[i]), token_advantages=scale_advantage(float(A[i]), omega_tilde), scores={"S": S}, weights=omega_tilde,
        ))
    return out


pgpo_estimator = FunctionEstimator(
    description="PGPO: blind-probe dependency, threshold gate, mass conservation (ALGORITHMS.md §3)",
    views_fn=lambda _config: ViewRequirements(views=("image", "blind"), perturbed_samples=0),
    reshape_fn=pgpo_reshape,
)
