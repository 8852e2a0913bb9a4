"""Our estimators in verl's advantage-estimator registry (`register_adv_est`, under `prpo`, `pgpo`, `vppo`).

verl calls a registered estimator as `fn(token_level_rewards=, response_mask=, config=, index=)`
(`verl/trainer/ppo/ray_trainer.py`, `compute_advantage`): it cannot pass the probe views' log-probs.
So the estimator takes them from `views=` when called directly, or from the views the prpo_studio trainer
feeds for the duration of its `_compute_advantage` (`feeding_views`); without either it refuses, naming the
trainer to use, rather than training a "PRPO-R" run that is plain GRPO.

The arithmetic is `prpo_studio.algorithms.advantages.compute_advantages` (ALGORITHMS.md), the same code the PyTorch
trainer runs: this module only converts verl's padded `[batch, response_length]` tensors to per-rollout rows
of valid tokens and back.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..algorithms.advantages import compute_advantages, views_for
from ..algorithms.config import resolve_config

PRESETS = ("prpo", "pgpo", "vppo")
# The trainer mode that feeds the views (verl's trainer registry, `trainer.v1.trainer_mode`).
TRAINER_MODE = "prpo_sync"


class EstimatorInputError(ValueError):
    """The estimator cannot run on what it was given; the message says what is missing and what to do."""


@dataclass
class FedViews:
    """Per-view log-probs for the rows of one `compute_advantage` call, `[batch, response_length]` each.
    `image` is the old log-prob; `perturbed` may be a list of rows-tensors (PRPO-R multimask).
    The estimator stores its per-rollout results in `results` (row order)."""

    logp: dict[str, torch.Tensor | list[torch.Tensor]]
    ids: list[str] | None = None
    results: list[Any] = field(default_factory=list)


_FED: contextvars.ContextVar[FedViews | None] = contextvars.ContextVar("prpo_studio_fed_views", default=None)


@contextlib.contextmanager
def feeding_views(views: FedViews) -> Iterator[FedViews]:
    """Make `views` what our registered estimators read while the block runs (verl calls them inside)."""
    token = _FED.set(views)
    try:
        yield views
    finally:
        _FED.reset(token)


def studio_config(preset: str, algorithm_config: Any) -> Any:
    """Our algorithm configuration for `preset`, from verl's `algorithm` config section.

    Overrides come from `algorithm.prpo_studio` (e.g. `+algorithm.prpo_studio.tau=0.3`), with the studio's
    key names (docs/algorithms.md); verl's `norm_adv_by_std_in_grpo` maps to `normalizeByStd` unless that
    is set explicitly.
    """
    overrides: dict[str, Any] = {}
    section = _get(algorithm_config, "prpo_studio", None)
    if section is not None:
        overrides.update(_plain(section))
    norm = _get(algorithm_config, "norm_adv_by_std_in_grpo", None)
    if norm is not None:
        overrides.setdefault("normalizeByStd", bool(norm))
    return resolve_config(preset, overrides)


def _get(config: Any, key: str, default: Any) -> Any:
    if config is None:
        return default
    if isinstance(config, Mapping) or hasattr(config, "get"):
        return config.get(key, default)
    return getattr(config, key, default)


def _plain(section: Any) -> dict:
    try:
        from omegaconf import OmegaConf

        if OmegaConf.is_config(section):
            return dict(OmegaConf.to_container(section, resolve=True))
    except ImportError:  # verl always has omegaconf; direct callers may pass a dict
        pass
    return dict(section)


def needed_views(config: Any) -> tuple[list[str], int]:
    """The probe views (besides `image`) the estimator needs, and how many perturbed masks."""
    req = views_for(config)
    views = [v for v in _field(req, "views") if v != "image"]
    return views, int(_field(req, "perturbed_samples", "perturbedSamples") or 0)


def _field(obj: Any, *names: str) -> Any:
    for name in names:
        if isinstance(obj, Mapping) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return None


def _rows(t: torch.Tensor, i: int, valid: torch.Tensor) -> torch.Tensor:
    return t[i][valid].detach().to("cpu", torch.float64)


def reshape(
    preset: str,
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: Sequence[Any] | np.ndarray,
    config: Any,
    views: FedViews,
) -> tuple[torch.Tensor, list[Any]]:
    """Per-token advantages `[batch, response_length]` (0 on padding) and the per-rollout results
    (None for verl's synthetic padding rollouts)."""
    cfg = studio_config(preset, config)
    wanted, masks = needed_views(cfg)
    bs, width = response_mask.shape
    missing = [v for v in ["image", *wanted] if v not in views.logp]
    if missing:
        raise EstimatorInputError(f"estimator {preset}: the views {missing} were not computed (have {sorted(views.logp)})")
    for name, value in views.logp.items():
        for t in value if isinstance(value, list) else [value]:
            if tuple(t.shape) != (bs, width):
                raise EstimatorInputError(
                    f"estimator {preset}: view {name} log-probs have shape {tuple(t.shape)}, rewards {(bs, width)}"
                )
    if masks > 1 and (not isinstance(views.logp.get("perturbed"), list) or len(views.logp["perturbed"]) < 2):
        raise EstimatorInputError(f"estimator {preset}: multimask RVD needs the perturbed view as a list of >= 2 masks")
    if index is None:
        raise EstimatorInputError(f"estimator {preset}: verl passed no group index (non_tensor_batch['uid'])")

    rewards = token_level_rewards.sum(dim=-1)
    # verl pads a batch to a divisible size with synthetic rollouts whose response_mask is all 0
    # (verl/trainer/ppo/padding_utils.py): they get advantage 0 and enter no statistic.
    rows = [i for i in range(bs) if bool(response_mask[i].any())]
    rollouts = []
    for i in rows:
        valid = response_mask[i].bool()
        logp: dict[str, Any] = {}
        for name, value in views.logp.items():
            logp[name] = [_rows(t, i, valid) for t in value] if isinstance(value, list) else _rows(value, i, valid)
        rollouts.append(
            {"id": views.ids[i] if views.ids else str(i), "group": str(index[i]), "reward": float(rewards[i]), "logp": logp}
        )
    results: list[Any] = [None] * bs
    if rollouts:
        for i, result in zip(rows, compute_advantages(cfg, rollouts)):
            results[i] = result

    advantages = torch.zeros(bs, width, dtype=torch.float64)
    for i in rows:
        token_adv = torch.as_tensor(_field(results[i], "token_advantages", "tokenAdvantages"), dtype=torch.float64)
        advantages[i, response_mask[i].bool()] = token_adv
    return advantages.to(device=token_level_rewards.device, dtype=token_level_rewards.dtype), results


def make_estimator(preset: str):
    """The function registered under `preset` in verl's registry."""

    def estimator(token_level_rewards, response_mask, index=None, config=None, views: FedViews | None = None, **_):
        fed = views or _FED.get()
        if fed is None:
            raise EstimatorInputError(
                f"adv_estimator={preset} needs the probe views' log-probs, which verl's own trainers do not compute. "
                f"Run verl with trainer.use_v1=true trainer.v1.trainer_mode={TRAINER_MODE} (the prpo_studio plugin's "
                "trainer); see docs/verl.md."
            )
        advantages, results = reshape(preset, token_level_rewards, response_mask, index, config, fed)
        fed.results = results
        return advantages, advantages

    estimator.__name__ = estimator.__qualname__ = f"compute_{preset}_advantage"
    estimator.__module__ = __name__
    estimator.__doc__ = (
        f"prpo_studio's `{preset}` estimator (ALGORITHMS.md) for verl: (advantages, returns), both the reshaped "
        "per-token advantages. Needs the probe views (fed by the prpo_sync trainer or passed as views=)."
    )
    return estimator


ESTIMATORS = {preset: make_estimator(preset) for preset in PRESETS}
