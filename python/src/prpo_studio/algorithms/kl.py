"""KL estimates between two views of the policy (ALGORITHMS.md, Notation; src/core/algorithms/kl.ts).

Each function works elementwise on tensors of any shape (the vocabulary on the last dimension for the exact
forms), so the trainer can call them on a whole [B, T] batch; scalars are accepted too.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: Clamp of the log-ratio inside k3, as in verl's `kl_penalty(..., "low_var_kl")`.
K3_LOG_RATIO_CLAMP = 20.0
#: Clamp of the k3 value itself.
K3_MAX = 10.0


def k3(a: Tensor | float, b: Tensor | float) -> Tensor:
    """The sampled-token estimate of KL(π_a ‖ π_b) ("k3", Schulman's low-variance estimator):

        d = clamp(b − a, −20, 20),   k3 = clamp(exp(d) − d − 1, 0, 10)

    where `a = log π_a(o_t)`, `b = log π_b(o_t)` at the sampled token o_t ~ π_a. Differentiable (zero gradient
    where a clamp holds), keeps the inputs' dtype."""
    a = torch.as_tensor(a, dtype=torch.float64) if not isinstance(a, Tensor) else a
    b = torch.as_tensor(b, dtype=a.dtype) if not isinstance(b, Tensor) else b
    d = torch.clamp(b - a, -K3_LOG_RATIO_CLAMP, K3_LOG_RATIO_CLAMP)
    return torch.clamp(torch.exp(d) - d - 1, 0.0, K3_MAX)


def k3_row(a: Tensor, b: Tensor) -> Tensor:
    """`S_t = k3(a_t, b_t)` for every token of a response, in float64."""
    from .stats import as_row

    return k3(as_row(a), as_row(b))


def _plogp_diff(logp_a: Tensor, logp_b: Tensor) -> Tensor:
    # π_a(v) (log π_a(v) − log π_b(v)); a term with π_a(v) = 0 is 0 (not 0 · ∞ = NaN).
    term = torch.exp(logp_a) * (logp_a - logp_b)
    return torch.where(torch.isneginf(logp_a), torch.zeros_like(term), term)


def exact_kl(logp_a: Tensor, logp_b: Tensor) -> Tensor:
    """The exact full-vocabulary KL over the last dimension, from the two views' log-probs:

        KL(π_a ‖ π_b) = Σ_v π_a(v) (log π_a(v) − log π_b(v))

    Terms with π_a(v) = 0 contribute 0; a v with π_a(v) > 0 and π_b(v) = 0 makes it +∞. Clamped at 0 below
    (rounding can leave a tiny negative sum when the rows are nearly equal). `[..., V] → [...]`."""
    if logp_a.shape[-1] != logp_b.shape[-1]:
        raise ValueError(f"exact_kl: vocabularies differ ({logp_a.shape[-1]} vs {logp_b.shape[-1]} entries)")
    return torch.clamp(_plogp_diff(logp_a, logp_b).sum(-1), min=0.0)


def token_entropy(logp: Tensor) -> Tensor:
    """Full-vocabulary entropy over the last dimension: H = −Σ_v π(v) log π(v), from log-probs. `[..., V] → [...]`."""
    term = torch.exp(logp) * logp
    return -torch.where(torch.isneginf(logp), torch.zeros_like(term), term).sum(-1)


def exact_kl_rows(logp_a: Tensor, logp_b: Tensor, vocab_size: int) -> Tensor:
    """Per-token exact KL(π_a ‖ π_b) over a response from row-major L × V log-prob matrices (flat or [L, V]):
    out[t] = exact_kl(row_a t, row_b t). What `RolloutInput["dependency"]` carries when config.kl is "exact"."""
    if logp_a.numel() != logp_b.numel() or logp_a.numel() % vocab_size != 0:
        raise ValueError(f"exact_kl_rows: {logp_a.numel()} and {logp_b.numel()} entries are not both L × {vocab_size}")
    return exact_kl(logp_a.reshape(-1, vocab_size), logp_b.reshape(-1, vocab_size))


def log_softmax(logits: Tensor) -> Tensor:
    """log softmax over the last dimension: x_v − log Σ_u exp(x_u), computed stably."""
    return torch.log_softmax(logits, dim=-1)
