"""Checks of a batch before any estimator runs (src/core/algorithms/validate.ts), with the TypeScript code's
messages, which name the rollout and the field:

    rollout "r3": logp.blind has 5 entries, logp.image has 6
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .config import MISSING
from .jsfmt import js_keys, js_number, js_string
from .types import Row, ViewRequirements

if TYPE_CHECKING:
    from .config import AlgorithmConfig


class InputError(ValueError):
    """Bad input data (as opposed to a bad configuration, ConfigError)."""


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_row(x: Any) -> bool:
    """A list or tuple (of anything: entries are checked one by one), or a 1-D tensor / array."""
    if isinstance(x, (list, tuple)):
        return True
    return (isinstance(x, Tensor) or hasattr(x, "__array__")) and getattr(x, "ndim", 0) == 1


def _is_matrix(x: Any) -> bool:
    return (isinstance(x, Tensor) or hasattr(x, "__array__")) and getattr(x, "ndim", 0) == 2 and len(x) > 0


def show(v: Any) -> str:
    """A value in an input message, as validate.ts writes it."""
    if v is MISSING:
        return "missing"
    if _is_number(v):
        return js_number(v)
    if isinstance(v, str):
        return js_string(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    return "an array" if isinstance(v, (list, tuple)) else "an object"


def rollout_name(r: Any, i: int) -> str:
    """The name of rollout `i` in messages: its id when it has a usable one, else its index."""
    rid = r.get("id", MISSING) if isinstance(r, dict) else MISSING
    if isinstance(rid, str):
        return f"rollout {js_string(rid)}"
    if _is_number(rid) and math.isfinite(rid):
        return f"rollout {js_string(js_number(rid))}"
    return f"rollouts[{i}]"


def _entries(row: Any) -> list[Any]:
    return row.tolist() if hasattr(row, "tolist") and not isinstance(row, (list, tuple)) else list(row)


def _check_row(where: str, field: str, row: Any, reference: tuple[str, int] | None = None) -> int:
    """A row of finite numbers (non-negative ones for KL scores); returns its length. Without `reference` it is
    the response's first row and must not be empty; with it, it must have the reference's length."""
    if not is_row(row):
        raise InputError(f"{where}: {field} must be an array of numbers, got {show(row)}")
    if isinstance(row, Tensor) and row.dtype.is_floating_point:
        # The trainer's rows: one vectorised check, the entry-by-entry loop only to name a bad entry.
        ok = bool(torch.isfinite(row).all()) and not (field.startswith("dependency.") and bool((row < 0).any()))
        if ok and (reference is None or row.numel() == reference[1]) and (reference is not None or row.numel() > 0):
            return row.numel()
    entries = _entries(row)
    if reference is not None and len(entries) != reference[1]:
        raise InputError(f"{where}: {field} has {len(entries)} entries, {reference[0]} has {reference[1]}")
    if reference is None and not entries:
        raise InputError(f"{where}: {field} is empty (a response needs at least one token)")
    is_kl = field.startswith("dependency.")
    for t, v in enumerate(entries):
        if not _is_number(v) or not math.isfinite(v):
            raise InputError(f"{where}: {field}[{t}] is {show(v)}, expected a finite number")
        if is_kl and v < 0:
            raise InputError(f"{where}: {field}[{t}] is {js_number(v)}, expected a KL ≥ 0")
    return len(entries)


def _nested(value: Any) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) > 0 and all(is_row(v) for v in value)) or _is_matrix(value)


def _check_perturbed(where: str, field: str, value: Any, reference: tuple[str, int], samples: int) -> None:
    """The perturbed view: one row, or a list of rows (one per mask). `samples` is how many masks the estimator
    reads: 1 (one row, or a list of one), M ≥ 2 (multimask: a list of at least two), or 0 when unused."""
    nested = _nested(value)
    if samples > 1 and not nested:
        got = "one array of numbers" if is_row(value) else show(value)
        raise InputError(f"{where}: {field} must be an array of arrays (one per perturbed mask) for multimask RVD, got {got}")
    if not nested:
        _check_row(where, field, value, reference)
        return
    rows = list(value)
    if samples > 1 and len(rows) < 2:
        raise InputError(f"{where}: {field} has 1 mask, multimask RVD needs at least 2")
    if samples == 1 and len(rows) != 1:
        raise InputError(f"{where}: {field} has {len(rows)} masks, this algorithm reads one perturbed view")
    for m, row in enumerate(rows):
        _check_row(where, f"{field}[{m}]", row, reference)


def check_rollouts(config: AlgorithmConfig, rollouts: Sequence[Any], needs: ViewRequirements) -> None:
    """Raises InputError for the first problem in the batch: a missing or duplicate id, a group or reward of the
    wrong type, an empty response, a view the configuration needs but the rollout lacks, rows of different
    lengths, a non-finite entry. Views that are present but unused are checked too."""
    if not isinstance(rollouts, (list, tuple)):
        raise InputError(f"rollouts: expected an array, got {show(rollouts)}")
    seen: set[str] = set()
    exact = config.kl == "exact"
    for i, raw in enumerate(rollouts):
        where = rollout_name(raw, i)
        if not isinstance(raw, dict):
            raise InputError(f"{where}: expected an object, got {show(raw)}")
        rid = raw.get("id", MISSING)
        if not isinstance(rid, str):
            raise InputError(f"{where}: id must be a string, got {show(rid)}")
        if rid in seen:
            raise InputError(f"{where}: id is used by another rollout of the batch")
        seen.add(rid)
        group = raw.get("group", MISSING)
        if not isinstance(group, str):
            raise InputError(f"{where}: group must be a string, got {show(group)}")
        reward = raw.get("reward", MISSING)
        if not _is_number(reward) or not math.isfinite(reward):
            raise InputError(f"{where}: reward is {show(reward)}, expected a finite number")
        logp = raw.get("logp", MISSING)
        if not isinstance(logp, dict):
            raise InputError(f"{where}: logp must be an object of per-token arrays, got {show(logp)}")
        L = _check_row(where, "logp.image", logp.get("image", MISSING))
        reference = ("logp.image", L)
        for key in js_keys(logp):
            if key not in ("image", "blind", "perturbed", "mild"):
                raise InputError(f"{where}: logp.{key} is not a view (expected image, blind, perturbed, mild)")
        dependency = raw.get("dependency", MISSING)
        if dependency is not MISSING and not isinstance(dependency, dict):
            raise InputError(f"{where}: dependency must be an object of per-token arrays, got {show(dependency)}")
        labels = raw.get("labels", MISSING)
        if labels is not MISSING:
            _check_row(where, "labels", labels, reference)
        for view in ("blind", "perturbed", "mild"):
            needed = view in needs.views
            for source, rows in (("logp", logp), ("dependency", dependency)):
                value = rows.get(view, MISSING) if isinstance(rows, dict) else MISSING
                field = f"{source}.{view}"
                required = needed and (source == "dependency") == exact
                if value is MISSING:
                    if required:
                        estimator = f" (estimator {config.estimator})" if config.estimator != config.preset else ""
                        why = ' (config.kl is "exact")' if exact and source == "dependency" else ""
                        raise InputError(f"{where}: {field} is missing; {config.preset}{estimator} needs the {view} view{why}")
                    continue
                if view == "perturbed":
                    _check_perturbed(where, field, value, reference, needs.perturbed_samples if needed else 0)
                else:
                    _check_row(where, field, value, reference)


def perturbed_rows(value: Row | Sequence[Row]) -> list[Row]:
    """The M perturbed rows of a checked rollout field (one row becomes a list of one)."""
    if _nested(value):
        return list(value)  # type: ignore[arg-type]
    return [value]  # type: ignore[list-item]
