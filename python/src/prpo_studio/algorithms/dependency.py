"""Per-token dependency scores KL(π_image ‖ π_view) — src/core/algorithms/dependency.ts: k3 of the log-probs,
or the exact full-vocabulary KL the trainer supplied (config.kl == "exact")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

from .kl import k3_row
from .stats import as_row
from .types import RolloutInput
from .validate import perturbed_rows

if TYPE_CHECKING:
    from .config import AlgorithmConfig


def dependency_row(config: AlgorithmConfig, r: RolloutInput, view: str) -> Tensor:
    """The score row of a single-row view (blind, mild, or perturbed when one mask is read)."""
    if config.kl == "exact":
        return as_row(perturbed_rows(r["dependency"][view])[0])
    return k3_row(r["logp"]["image"], perturbed_rows(r["logp"][view])[0])


def perturbed_dependency_rows(config: AlgorithmConfig, r: RolloutInput) -> list[Tensor]:
    """One score row per perturbed mask (multimask RVD)."""
    if config.kl == "exact":
        return [as_row(row) for row in perturbed_rows(r["dependency"]["perturbed"])]
    return [k3_row(r["logp"]["image"], row) for row in perturbed_rows(r["logp"]["perturbed"])]
