"""§5 of ALGORITHMS.md on tensors with gradients: the DAPO-style clipped surrogate with dual clip, the
sampled-token NLL term (`entropyCoef`, VPPO-RL's entropy_penalty), the full-vocabulary entropy bonus, and the
k3 KL to the reference policy — token sums, so that micro-batches add up to the token-mean over all valid
tokens of the mini-batch (the caller divides by that count). Also DAPO's dynamic-sampling group filter.

Written here because prpo_studio.algorithms had no tensor loss when the trainer was built; its numbers follow
src/core/algorithms/loss.ts (policyLossReference) term by term."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

K3_CLAMP = 20.0
K3_MAX = 10.0


def k3(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    d = torch.clamp(b - a, -K3_CLAMP, K3_CLAMP)
    return torch.clamp(torch.exp(d) - d - 1, 0.0, K3_MAX)


@dataclass
class LossSums:
    """Token sums of one micro-batch; `loss` carries the gradient."""

    loss: torch.Tensor
    pg: float
    nll: float
    kl: float
    entropy: float
    clipped: float
    approx_kl: float
    tokens: float


def policy_loss_sums(
    logp_new: torch.Tensor,
    logp_old: torch.Tensor,
    adv: torch.Tensor,
    mask: torch.Tensor,
    config: Any,
    logp_ref: torch.Tensor | None = None,
    entropy: torch.Tensor | None = None,
) -> LossSums:
    """All [B, L]; `mask` 1 on valid response tokens. Per token r = exp(logp_new − logp_old):
    pg = max(−Ã r, −Ã clip(r, 1 − ε_low, 1 + ε_high)), and min(pg, −C Ã) where Ã < 0."""
    ratio = torch.exp(logp_new - logp_old)
    pg1 = -adv * ratio
    pg2 = -adv * torch.clamp(ratio, 1 - config.clip_low, 1 + config.clip_high)
    pg = torch.maximum(pg1, pg2)
    pg = torch.where(adv < 0, torch.minimum(pg, -config.dual_clip * adv), pg)
    nll = -logp_new
    total = (pg * mask).sum() + config.entropy_coef * (nll * mask).sum()
    kl_sum = torch.zeros((), device=logp_new.device)
    if logp_ref is not None and config.kl_coef > 0:
        kl_sum = (k3(logp_new, logp_ref) * mask).sum()
        total = total + config.kl_coef * kl_sum
    ent_sum = torch.zeros((), device=logp_new.device)
    if entropy is not None:
        ent_sum = (entropy * mask).sum()
        bonus = float(getattr(config, "entropy_bonus", 0.0) or 0.0)
        if bonus:
            total = total - bonus * ent_sum
    with torch.no_grad():
        clipped = ((pg2 > pg1).float() * mask).sum().item()
        approx = ((logp_old - logp_new) * mask).sum().item()
    return LossSums(total, (pg * mask).sum().item(), (nll * mask).sum().item(), float(kl_sum.item()), float(ent_sum.item()),
                    clipped, approx, float(mask.sum().item()))


def filter_groups(rollouts: Sequence[Any], accuracy: Callable[[Any], float], low: float, high: float) -> list[Any]:
    """DAPO dynamic sampling: the rollouts of the groups whose mean accuracy lies strictly in (low, high)."""
    sums: dict[str, list[float]] = {}
    for r in rollouts:
        sums.setdefault(r.group, []).append(accuracy(r))
    keep = {g for g, xs in sums.items() if low < sum(xs) / len(xs) < high}
    return [r for r in rollouts if r.group in keep]
