"""The shapes the estimators read and write (src/core/algorithms/types.ts): one entry per valid response token.

A rollout is a plain dict as in the JSON contract, its rows lists of numbers or 1-D tensors:

    {"id": "r1", "group": "q7", "reward": 1.0,
     "logp": {"image": [...], "blind": [...], "perturbed": [...] or [[...], ...], "mild": [...]},
     "dependency": {"blind": [...], ...},     # only with config.kl == "exact": per-token KL(π_image ‖ π_view)
     "labels": [...]}                         # ground-truth perceptual flags, for the controls oracle and random
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from torch import Tensor

if TYPE_CHECKING:
    from .config import AlgorithmConfig

#: A per-token row: a list of numbers or a 1-D tensor.
Row = Tensor | Sequence[float]


class RolloutInput(TypedDict, total=False):
    id: str
    #: The GRPO group (the rollouts of one prompt).
    group: str
    reward: float
    #: Teacher-forced log-probs of the sampled response under each view, one per response token.
    #: `perturbed` is one row, or M rows (one per random mask) for PRPO-R's `multimask` RVD.
    logp: dict[str, Any]
    #: Precomputed per-token KL(π_image ‖ π_view) per view, read instead of k3 of `logp` when
    #: config.kl == "exact" (see `exact_kl`).
    dependency: dict[str, Any]
    #: Ground-truth perceptual flags (1 = the token depends on the image), one per response token: what the
    #: study's controls (`oracle`, `random`) read.
    labels: Row


@dataclass
class RolloutAdvantage:
    """One rollout's result. Tensors are float64 on the CPU, one entry per response token."""

    id: str
    #: Outcome advantage A_i (§1).
    advantage: float
    #: Final per-token advantage Ã_{i,t} (VPPO's mask and α included).
    token_advantages: Tensor
    #: Dependency scores: S (VPPO/PGPO, PRPO-R multimask: mean over masks), G and U (PRPO-R), rvd (PRPO-R).
    scores: dict[str, Tensor] | None = None
    #: Reshaping weight per token: PGPO ω̃_t, PRPO-R w_t.
    weights: Tensor | None = None
    #: VPPO's token mask m_{i,t} (0 or 1).
    mask: Tensor | None = None
    #: VPPO's trajectory weight α_i.
    alpha: float | None = None
    #: PRPO-R with a quantile threshold: the τ used for this response.
    tau: float | None = None
    #: Anything else a user estimator wants to report (written after the standard fields).
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The contract's object, with the TypeScript CLI's field names and order."""
        out: dict[str, Any] = {"id": self.id, "advantage": float(self.advantage), "tokenAdvantages": self.token_advantages.tolist()}
        if self.scores is not None:
            out["scores"] = {k: v.tolist() for k, v in self.scores.items()}
        if self.weights is not None:
            out["weights"] = self.weights.tolist()
        if self.mask is not None:
            out["mask"] = self.mask.tolist()
        if self.alpha is not None:
            out["alpha"] = float(self.alpha)
        if self.tau is not None:
            out["tau"] = float(self.tau)
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class ViewRequirements:
    """Which probe views the trainer must score for a configuration (`image` is always first)."""

    views: tuple[str, ...]
    #: How many perturbed masks per rollout (0 when `perturbed` is not needed).
    perturbed_samples: int


class Estimator(Protocol):
    """An advantage estimator, registered by name (like verl's `register_adv_est`). `reshape` receives the whole
    step batch, already checked (every view it declared is present, every row has L_i ≥ 1 finite entries), and
    the outcome advantages A_i of §1 in the same order."""

    #: One line for help texts and the UI.
    description: str

    def views(self, config: AlgorithmConfig) -> ViewRequirements: ...

    def reshape(self, config: AlgorithmConfig, rollouts: Sequence[RolloutInput], A: Tensor) -> list[RolloutAdvantage]: ...


@dataclass(frozen=True)
class FunctionEstimator:
    """An Estimator made of two functions (how the built-ins are declared, and the easy way to write one)."""

    description: str
    views_fn: Callable[[AlgorithmConfig], ViewRequirements]
    reshape_fn: Callable[[AlgorithmConfig, Sequence[RolloutInput], Tensor], list[RolloutAdvantage]]

    def views(self, config: AlgorithmConfig) -> ViewRequirements:
        return self.views_fn(config)

    def reshape(self, config: AlgorithmConfig, rollouts: Sequence[RolloutInput], A: Tensor) -> list[RolloutAdvantage]:
        return self.reshape_fn(config, rollouts, A)
