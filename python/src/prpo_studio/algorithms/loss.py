"""§5 The policy loss (DAPO-style clipped surrogate) on padded [B, T] tensors, and DAPO's dynamic-sampling group
filter — src/core/algorithms/loss.ts (`policyLossReference`, `filterGroupsForDynamicSampling`).

Loss terms and their configuration keys (ALGORITHMS.md §5):
  - `sampledNllCoef` c_nll (the first version's key `entropyCoef` means the same term):
    `+ c_nll · mean_t(−logp_new(o_t))` — VPPO-RL's `entropy_penalty`. Not an entropy regulariser: on-policy its
    expected gradient is zero; off-policy it pulls toward π_old.
  - `entropyBonus` c_H: `− c_H · mean_t H(π_new(· | s_t))`, the full-vocabulary entropy (verl's `entropy_coeff`);
    the caller passes H per token.
  - `klCoef` c_kl: `+ c_kl · mean_t k3(logp_new, logp_ref)`, KL to the frozen reference policy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import torch
from torch import Tensor

from .config import AlgorithmConfig, ConfigError
from .kl import k3


@dataclass(frozen=True)
class PolicyLossOptions:
    """ε_low, ε_high, the dual-clip C and the three optional terms' coefficients."""

    clip_low: float = 0.2
    clip_high: float = 0.28
    dual_clip: float = 3.0
    sampled_nll_coef: float = 0.0
    entropy_bonus: float = 0.0
    kl_coef: float = 0.0


def _coef(source: Mapping[str, Any], key: str, default: float) -> float:
    v = source.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise ConfigError(f"config.{key}", f"config.{key}: expected a number ≥ 0, got {v!r}")
    return float(v)


def loss_options(source: AlgorithmConfig | Mapping[str, Any] | PolicyLossOptions, **overrides: float) -> PolicyLossOptions:
    """The loss options from a resolved AlgorithmConfig or a camelCase mapping (a run's config). The NLL term is
    read as `sampledNllCoef`, or under its first-version name `entropyCoef`; giving both with different values is
    an error. `overrides` (snake_case fields) win, e.g. `loss_options(config, entropy_bonus=0.001)`."""
    if isinstance(source, PolicyLossOptions):
        base = source
    elif isinstance(source, AlgorithmConfig):
        base = PolicyLossOptions(source.clip_low, source.clip_high, source.dual_clip, source.sampled_nll_coef, source.entropy_bonus, source.kl_coef)
    else:
        new, old = source.get("sampledNllCoef"), source.get("entropyCoef")
        if new is not None and old is not None and new != old:
            raise ConfigError(
                "config.sampledNllCoef",
                f"config.sampledNllCoef: {new!r} and its old name entropyCoef {old!r} disagree (give one of them)",
            )
        d = PolicyLossOptions()
        base = PolicyLossOptions(
            clip_low=_coef(source, "clipLow", d.clip_low),
            clip_high=_coef(source, "clipHigh", d.clip_high),
            dual_clip=_coef(source, "dualClip", d.dual_clip),
            sampled_nll_coef=_coef(source, "sampledNllCoef" if new is not None else "entropyCoef", d.sampled_nll_coef),
            entropy_bonus=_coef(source, "entropyBonus", d.entropy_bonus),
            kl_coef=_coef(source, "klCoef", d.kl_coef),
        )
    if not base.dual_clip > 1:
        raise ConfigError("config.dualClip", f"config.dualClip: expected a number > 1, got {base.dual_clip!r}")
    return PolicyLossOptions(**{**base.__dict__, **overrides}) if overrides else base


@dataclass
class PolicyLossResult:
    """`loss` carries the graph; the rest are detached floats for metrics."""

    #: pg_loss + c_nll · sampled_nll − c_H · entropy + c_kl · kl_loss.
    loss: Tensor
    pg_loss: float
    #: mean(−logp_new) over valid tokens (TypeScript's `entropyLoss`).
    sampled_nll: float
    #: mean full-vocabulary H over valid tokens; None when no entropy was passed.
    entropy: float | None
    #: mean k3(logp_new, logp_ref) over valid tokens; 0 without a reference.
    kl_loss: float
    #: Fraction of tokens where the clipped term was the larger (pg2 > pg1), as verl's pg_clipfrac.
    clip_fraction: float
    #: Fraction of tokens where the dual-clip bound (Ã < 0) was taken, as verl's pg_clipfrac_lower.
    dual_clip_fraction: float
    #: mean(logp_old − logp_new), as verl's ppo_kl.
    approx_kl: float
    #: The number N of valid tokens the means divide by.
    tokens: float


def policy_loss(
    logp_new: Tensor,
    logp_old: Tensor,
    token_adv: Tensor,
    mask: Tensor,
    options: PolicyLossOptions | AlgorithmConfig | Mapping[str, Any],
    *,
    logp_ref: Tensor | None = None,
    entropy: Tensor | None = None,
    num_tokens: float | None = None,
) -> PolicyLossResult:
    """Per token, with r = exp(logp_new − logp_old):

        pg1 = −Ã r,  pg2 = −Ã clip(r, 1 − ε_low, 1 + ε_high),  pg = max(pg1, pg2),
        and for Ã < 0 the dual clip pg = min(pg, −C · Ã).

    Token-mean over all N valid tokens of the batch (a VPPO-masked token adds 0 but counts):

        loss = Σ pg / N + c_nll · Σ(−logp_new) / N − c_H · Σ H / N + c_kl · Σ k3(logp_new, logp_ref) / N.

    All tensors are [B, T] (or any one shape), `mask` 1/True on valid response tokens; padding never enters a
    sum, whatever it holds. With gradient accumulation pass `num_tokens`, the valid tokens of the whole step
    batch, so that micro-batches add up to the step's token-mean. Computes in at least float32."""
    o = options if isinstance(options, PolicyLossOptions) else loss_options(options)
    shape = logp_new.shape
    for name, t in (("logp_old", logp_old), ("token_adv", token_adv), ("mask", mask), ("logp_ref", logp_ref), ("entropy", entropy)):
        if t is not None and t.shape != shape:
            raise ValueError(f"policy_loss: {name} has shape {tuple(t.shape)}, logp_new has {tuple(shape)}")
    if o.kl_coef > 0 and logp_ref is None:
        raise ValueError("policy_loss: klCoef > 0 needs logp_ref (the reference policy's log-probs)")
    if o.entropy_bonus > 0 and entropy is None:
        raise ValueError("policy_loss: entropyBonus > 0 needs the per-token entropy of π_new")
    dtype = torch.promote_types(logp_new.dtype, torch.float32)
    valid = mask.to(torch.bool)
    zero = torch.zeros((), dtype=dtype, device=logp_new.device)

    def masked(x: Tensor) -> Tensor:
        return torch.where(valid, x.to(dtype), zero)

    lp_new = masked(logp_new)
    lp_old = masked(logp_old.detach())
    adv = masked(token_adv.detach())
    n = float(valid.sum()) if num_tokens is None else float(num_tokens)
    inv = 1.0 / n if n > 0 else 0.0

    ratio = torch.exp(lp_new - lp_old)
    pg1 = -adv * ratio
    pg2 = -adv * torch.clamp(ratio, 1 - o.clip_low, 1 + o.clip_high)
    pg = torch.maximum(pg1, pg2)
    clipped = (pg2 > pg1) & valid
    dual = (adv < 0) & (pg > -o.dual_clip * adv) & valid
    pg = torch.where(dual, -o.dual_clip * adv, pg)
    pg_loss = masked(pg).sum() * inv
    sampled_nll = (-lp_new).sum() * inv
    loss = pg_loss + o.sampled_nll_coef * sampled_nll
    ent_mean = None
    if entropy is not None:
        ent_mean = masked(entropy).sum() * inv
        loss = loss - o.entropy_bonus * ent_mean
    kl_loss = zero
    if logp_ref is not None:
        kl_loss = masked(k3(lp_new, masked(logp_ref.detach()))).sum() * inv
        loss = loss + o.kl_coef * kl_loss
    return PolicyLossResult(
        loss=loss,
        pg_loss=float(pg_loss.detach()),
        sampled_nll=float(sampled_nll.detach()),
        entropy=None if ent_mean is None else float(ent_mean.detach()),
        kl_loss=float(kl_loss.detach()),
        clip_fraction=float(clipped.sum()) * inv,
        dual_clip_fraction=float(dual.sum()) * inv,
        approx_kl=float((lp_old - lp_new).detach().sum()) * inv,
        tokens=n,
    )


T = TypeVar("T")


@dataclass
class DynamicSamplingResult(Generic[T]):
    #: The rollouts of the kept groups, in their original order.
    kept: list[T]
    kept_groups: list[str]
    dropped_groups: list[str]
    #: Mean accuracy per group.
    group_accuracy: dict[str, float]


def _field(r: Any, name: str) -> Any:
    return r.get(name) if isinstance(r, Mapping) else getattr(r, name, None)


def default_accuracy(r: Any) -> float:
    """`correct` (as 0/1), else `accuracy`, else `reward`."""
    correct = _field(r, "correct")
    if isinstance(correct, bool):
        return 1.0 if correct else 0.0
    acc = _field(r, "accuracy")
    if isinstance(acc, (int, float)) and not isinstance(acc, bool):
        return float(acc)
    reward = _field(r, "reward")
    return math.nan if reward is None else float(reward)


def filter_groups_for_dynamic_sampling(
    rollouts: Sequence[T],
    accuracy: Callable[[T], float] | None = None,
    accuracy_low: float = 0.01,
    accuracy_high: float = 0.99,
) -> DynamicSamplingResult[T]:
    """DAPO dynamic sampling: keep only the groups whose mean accuracy lies strictly inside
    (accuracy_low, accuracy_high), default (0.01, 0.99) — the groups where every rollout was right, or every one
    wrong, carry A_i = 0 and no gradient. (Regenerating up to `maxResampleTries` is the trainer's loop.) A rollout
    is a mapping or an object with a `group`."""
    acc_of = accuracy or default_accuracy
    sums: dict[str, list[float]] = {}
    for r in rollouts:
        s = sums.setdefault(_field(r, "group"), [0.0, 0])
        s[0] += acc_of(r)
        s[1] += 1
    group_accuracy: dict[str, float] = {}
    kept_groups: list[str] = []
    dropped_groups: list[str] = []
    for g, (total, n) in sums.items():
        a = total / n
        group_accuracy[g] = a
        (kept_groups if accuracy_low < a < accuracy_high else dropped_groups).append(g)
    keep = set(kept_groups)
    return DynamicSamplingResult([r for r in rollouts if _field(r, "group") in keep], kept_groups, dropped_groups, group_accuracy)
