"""The entry points the trainer and the CLI call (src/core/algorithms/advantages.ts): which views to score, and
the per-token advantages of a step batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .outcome import outcome_advantages
from .registry import get_estimator
from .types import RolloutAdvantage, RolloutInput, ViewRequirements
from .validate import InputError, check_rollouts

if TYPE_CHECKING:
    from .config import AlgorithmConfig


def views_for(config: AlgorithmConfig) -> ViewRequirements:
    """The probe views the trainer must score for `config` (`image` first) and how many perturbed masks."""
    return get_estimator(config.estimator).views(config)


def compute_advantages(config: AlgorithmConfig, rollouts: Sequence[RolloutInput]) -> list[RolloutAdvantage]:
    """Outcome advantages A_i (§1) over the groups of the batch, then the configured estimator's per-token
    advantages Ã_{i,t}. The batch is checked first (InputError names the rollout and field). Results are in the
    order of `rollouts`; statistics that span the batch (VPPO's TAS) use all of it."""
    estimator = get_estimator(config.estimator)
    check_rollouts(config, rollouts, estimator.views(config))
    A = outcome_advantages([r["reward"] for r in rollouts], [r["group"] for r in rollouts], config.normalize_by_std)
    out = estimator.reshape(config, rollouts, A)
    if len(out) != len(rollouts):
        raise InputError(f"estimator {config.estimator} returned {len(out)} results for {len(rollouts)} rollouts")
    return out
