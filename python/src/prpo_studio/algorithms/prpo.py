"""§4 PRPO-R — our reconstruction of PRPO (only its abstract is public) — src/core/algorithms/prpo.ts.
Robust Visual Dependency (RVD) marks tokens that are visually grounded and perturbation-stable; Perceptual
Advantage Reshaping (PAR) amplifies them and leaves every other token's advantage as it was.

    G_t = k3(logp_image, logp_blind)   grounding
    U_t = k3(logp_image, logp_mild)    instability
    Ã_{i,t} = A_i · w_t
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .dependency import dependency_row, perturbed_dependency_rows
from .pgpo import conserve_mass, minmax_log1p, scale_advantage
from .stats import RowLike, as_row, minmax, quantile
from .types import FunctionEstimator, RolloutAdvantage, RolloutInput, ViewRequirements

if TYPE_CHECKING:
    from .config import AlgorithmConfig


def rvd_soft(G: RowLike, U: RowLike, lambda_: float, grounding_floor: float = 0.0, instability_floor: float = 0.0) -> Tensor:
    """`soft`: RVD_t = ĝ_t · exp(−λ · û_t), ĝ = minmax_f(log1p G) with f = G₀ (grounding_floor),
    û = minmax_f(log1p U) with f = U₀ (instability_floor). Floors of 0 give the plain minmax."""
    g = minmax_log1p(G, grounding_floor)
    u = minmax_log1p(U, instability_floor)
    return g * torch.exp(-lambda_ * u)


def rvd_gate(G: RowLike, U: RowLike, q: float, grounding_floor: float = 0.0) -> Tensor:
    """`gate`: RVD_t = ĝ_t · [U_t ≤ quantile_q(U over the response)], linear interpolation; ĝ = minmax_f(log1p G)
    with f = G₀ (grounding_floor). (The instability floor scales û, which the gate does not use.)"""
    g = minmax_log1p(G, grounding_floor)
    u = as_row(U)
    uq = quantile(u, q)
    return torch.where(u <= uq, g, torch.zeros_like(g))


def rvd_multimask(S: Sequence[RowLike], kappa: float) -> tuple[Tensor, Tensor]:
    """`multimask`: from the scores S^(m)_t of M perturbed masks, RVD = minmax(mean_M S − κ · std_M S), std
    unbiased (M − 1). Returns the RVD and the mean score over masks."""
    s = torch.stack([as_row(row) for row in S])  # [M, L]
    M = s.shape[0]
    mean_s = s.sum(0) / M
    ss = ((s - mean_s) ** 2).sum(0)
    robust = mean_s - kappa * torch.sqrt(ss / (M - 1))
    return minmax(robust), mean_s


def par_weights(rvd: RowLike, tau: float, beta: float) -> Tensor:
    """PAR: w_t = 1 + β · clip((RVD_t − τ)/(1 − τ), 0, 1) — weights in [1, 1 + β]; a token with RVD_t ≤ τ keeps
    exactly w_t = 1 (no suppression)."""
    r = as_row(rvd)
    # τ can be 1 with a quantile threshold: no token is then above it, and where() drops the 0/0.
    x = torch.where(r > tau, (r - tau) / (1 - tau), torch.zeros_like(r))
    return 1 + beta * torch.clamp(x, max=1.0)


def prpo_reshape(config: AlgorithmConfig, rollouts: Sequence[RolloutInput], A: Tensor) -> list[RolloutAdvantage]:
    """PRPO-R per rollout: RVD_t by `config.rvd` (soft, gate or multimask; soft and gate with the grounding and
    instability floors), τ = config.tau or the q-quantile of RVD, w_t = 1 + β · clip((RVD_t − τ)/(1 − τ), 0, 1)
    (rescaled to Σ w = L when mass_conserving), Ã_{i,t} = A_i · w_t."""
    out = []
    for i, r in enumerate(rollouts):
        scores: dict[str, Tensor] = {}
        if config.rvd == "multimask":
            rvd, mean_s = rvd_multimask(perturbed_dependency_rows(config, r), config.kappa)
            scores["S"] = mean_s
        else:
            G = dependency_row(config, r, "blind")
            U = dependency_row(config, r, "mild")
            if config.rvd == "gate":
                rvd = rvd_gate(G, U, config.quantile, config.grounding_floor)
            else:
                rvd = rvd_soft(G, U, config.lambda_, config.grounding_floor, config.instability_floor)
            scores["G"] = G
            scores["U"] = U
        scores["rvd"] = rvd
        tau = quantile(rvd, config.threshold["quantile"]) if config.threshold else config.tau
        w = par_weights(rvd, tau, config.beta)
        if config.mass_conserving:
            w = conserve_mass(w)
        out.append(RolloutAdvantage(
            id=r["id"], advantage=float(A[i]), token_advantages=scale_advantage(float(A[i]), w), scores=scores, weights=w,
            tau=tau if config.threshold else None,
        ))
    return out


def _prpo_views(config: AlgorithmConfig) -> ViewRequirements:
    if config.rvd == "multimask":
        return ViewRequirements(views=("image", "perturbed"), perturbed_samples=config.masks)
    return ViewRequirements(views=("image", "blind", "mild"), perturbed_samples=0)


prpo_estimator = FunctionEstimator(
    description="PRPO-R (reconstruction): robust visual dependency and amplify-only advantage reshaping (ALGORITHMS.md §4)",
    views_fn=_prpo_views,
    reshape_fn=prpo_reshape,
)
