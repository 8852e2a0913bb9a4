"""Advantage estimators keyed by name (verl's `register_adv_est`) — src/core/algorithms/registry.ts. The five
presets' estimators and the study's two controls (oracle, random) are built in; `register_estimator` adds a user's own, which a configuration then selects
with `estimator: "<name>"`."""

from __future__ import annotations

import re

from .controls import oracle_estimator, random_estimator
from .outcome import outcome_estimator
from .pgpo import pgpo_estimator
from .prpo import prpo_estimator
from .types import Estimator
from .vppo import vppo_estimator

_BUILT_IN: dict[str, Estimator] = {
    "grpo": outcome_estimator,
    "dapo": outcome_estimator,
    "vppo": vppo_estimator,
    "pgpo": pgpo_estimator,
    "prpo": prpo_estimator,
    # The study's controls (controls.py), selected with `estimator` on the prpo preset.
    "oracle": oracle_estimator,
    "random": random_estimator,
}

_registry: dict[str, Estimator] = dict(_BUILT_IN)
_NAME = re.compile(r"^[A-Za-z][\w.-]*$", re.ASCII)


def register_estimator(name: str, estimator: Estimator, *, replace: bool = False) -> None:
    """Registers `estimator` under `name`. Replacing an existing name (a built-in included) needs `replace=True`,
    so a typo cannot silently shadow a preset."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"register_estimator: invalid name {name!r}")
    if not callable(getattr(estimator, "reshape", None)) or not callable(getattr(estimator, "views", None)):
        raise ValueError(f"register_estimator: {name} must have views(config) and reshape(config, rollouts, A)")
    if name in _registry and not replace:
        raise ValueError(f"register_estimator: {name} is already registered (pass replace=True to replace it)")
    _registry[name] = estimator


def unregister_estimator(name: str) -> None:
    """Removes a user estimator (built-ins are restored rather than removed)."""
    if name in _BUILT_IN:
        _registry[name] = _BUILT_IN[name]
    else:
        _registry.pop(name, None)


def get_estimator(name: str) -> Estimator:
    e = _registry.get(name)
    if e is None:
        raise KeyError(f'unknown estimator "{name}" (registered: {", ".join(estimator_names())})')
    return e


def estimator_names() -> list[str]:
    return list(_registry)
