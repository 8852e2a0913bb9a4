"""What the verl trainer writes into the studio's run directory (docs/run-format.md), built from a step's
batch: pure functions over tensors and plain values, so they are tested without Ray or a GPU."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

# verl metric names (verl/trainer/ppo/metric_utils.py, workers/utils/losses.py) -> the run format's
# well-known names. Every other numeric verl metric is kept under its own name.
WELL_KNOWN_METRICS = {
    "critic/score/mean": "reward",
    "actor/pg_loss": "pgLoss",
    "actor/entropy": "entropy",
    "actor/pg_clipfrac": "clipFraction",
    "actor/ppo_kl": "approxKl",
    "actor/grad_norm": "gradNorm",
    "actor/kl_loss": "klLoss",
}
# verl's timings are seconds under timing_s/<phase>; the run format's are milliseconds.
TIMINGS_MS = {"timing_s/step": "timeStepMs", "timing_s/gen": "timeSampleMs", "timing_s/update_actor": "timeUpdateMs"}


def metrics_row(step: int, metrics: Mapping[str, Any], extra: Mapping[str, float] | None = None) -> dict:
    """One metrics.jsonl row from verl's step metrics: numbers only (verl also logs lists and strings)."""
    row: dict[str, Any] = {"step": int(step)}
    for key, value in metrics.items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if hasattr(value, "item") and not isinstance(value, (list, tuple, dict, str)):
            try:
                value = value.item()  # numpy scalars
            except (TypeError, ValueError):
                continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        row[key] = value
        if key in WELL_KNOWN_METRICS:
            row[WELL_KNOWN_METRICS[key]] = value
        if key in TIMINGS_MS:
            row[TIMINGS_MS[key]] = value * 1000.0
    row.update(extra or {})
    return row


def run_id_for(experiment_name: object) -> str:
    """A stable run id from verl's experiment name, so a resumed verl run appends to the same run directory."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", str(experiment_name)).strip("-.") or "run"
    return f"verl-{cleaned}"


def select_groups(keys: Sequence[str], groups: Sequence[str], limit: int) -> list[int]:
    """Rows to record: whole groups (a prompt's rollouts), groups in sorted order, until `limit` rollouts
    (a group is never cut). `limit < 0` keeps every row. Rows come back sorted by key."""
    order = sorted(range(len(keys)), key=lambda i: (groups[i], keys[i]))
    if limit < 0:
        return sorted(order, key=lambda i: keys[i])
    chosen: list[int] = []
    current: str | None = None
    for i in order:
        if groups[i] != current:
            if len(chosen) >= limit:
                break
            current = groups[i]
        chosen.append(i)
    return sorted(chosen, key=lambda i: keys[i])


def _scatter(values: Sequence[float] | None, valid: torch.Tensor) -> list[float] | None:
    """Per-valid-token values back onto all response tokens; NaN (written as null) where the mask is 0."""
    if values is None:
        return None
    if isinstance(values, torch.Tensor):
        values = values.tolist()
    out = [math.nan] * int(valid.numel())
    positions = valid.nonzero().flatten().tolist()
    if len(positions) != len(values):
        raise ValueError(f"{len(values)} values for {len(positions)} valid response tokens")
    for p, v in zip(positions, values):
        out[p] = float(v)
    return out


def rollout_record(
    *,
    step: int,
    key: str,
    group: str,
    prompt: str,
    response_ids: Sequence[int],
    response_mask: torch.Tensor,
    reward: float,
    logp: Mapping[str, torch.Tensor | Sequence[torch.Tensor]],
    token_advantages: torch.Tensor,
    result: Any | None,
    decode_token: Callable[[int], str],
    answer: str | None = None,
) -> dict:
    """One rollouts/step-NNNNNN.jsonl record (ALGORITHMS.md §7) for one verl rollout.

    `response_ids`, `response_mask`, `token_advantages` and each `logp` row cover the rollout's response
    tokens (unpadded). `result` is the estimator's per-rollout output (prpo_studio.algorithms), whose
    per-token arrays cover the valid tokens only (response_mask 1); they are placed back on their tokens.
    `perturbed` may be several rows (PRPO-R multimask): the record keeps the first, as the run format holds one.
    """
    n = len(response_ids)
    valid = response_mask[:n].bool()
    tokens = [decode_token(int(t)) for t in response_ids]
    record: dict[str, Any] = {
        "id": key,
        "step": int(step),
        "group": group,
        "prompt": prompt,
        "response": "".join(tokens),
        "reward": float(reward),
        "advantage": float(_field(result, "advantage", 0.0)),
        "tokens": tokens,
        "tokenIds": [int(t) for t in response_ids],
        "logp": {},
        "tokenAdvantages": [float(a) for a in token_advantages[:n].tolist()],
    }
    if answer is not None:
        record["answer"] = str(answer)
    for view, rows in logp.items():
        row = rows[0] if isinstance(rows, (list, tuple)) else rows
        record["logp"][view] = [float(x) for x in row[:n].tolist()]
    if result is not None:
        scores = {k: _scatter(v, valid) for k, v in (_field(result, "scores", None) or {}).items() if v is not None}
        if scores:
            record["scores"] = scores
        for name in ("weights", "mask"):
            value = _scatter(_field(result, name, None), valid)
            if value is not None:
                record[name] = value
        alpha = _field(result, "alpha", None)
        if alpha is not None:
            record["alpha"] = float(alpha)
    return record


def _field(result: Any, name: str, default: Any) -> Any:
    """Read a field of the estimator's result, whether it is a dataclass or a dict (camelCase or snake_case)."""
    if result is None:
        return default
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    for candidate in (name, snake):
        if isinstance(result, Mapping) and candidate in result:
            return result[candidate]
        if hasattr(result, candidate):
            return getattr(result, candidate)
    return default
