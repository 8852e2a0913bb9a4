"""Small statistics over one response's row (src/core/algorithms/stats.ts), on float64 tensors.

Every function takes a 1-D tensor or a sequence of numbers; results are float64 tensors (or Python floats for
scalars), so that the numbers agree with the TypeScript code, which computes in doubles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

#: ε of `minmax` (ALGORITHMS.md, Notation).
MINMAX_EPS = 1e-6

RowLike = Tensor | Sequence[float]


def as_row(x: RowLike) -> Tensor:
    """A float64 1-D tensor copy-free where possible (float32 rows are read as doubles, as the TS code does)."""
    if isinstance(x, Tensor):
        return x.detach().to(dtype=torch.float64, device="cpu").reshape(-1)
    return torch.as_tensor(x, dtype=torch.float64).reshape(-1)


def clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def mean(x: RowLike) -> float:
    """`mean(x) = Σ x / n`; NaN for an empty row."""
    t = as_row(x)
    return float(t.sum() / t.numel()) if t.numel() else math.nan


def std(x: RowLike) -> float:
    """Unbiased standard deviation `sqrt(Σ (x − mean)² / (n − 1))`; NaN for fewer than two values."""
    t = as_row(x)
    n = t.numel()
    if n < 2:
        return math.nan
    m = t.sum() / n
    return math.sqrt(float(((t - m) ** 2).sum()) / (n - 1))


def quantile(x: RowLike, q: float) -> float:
    """The q-quantile with linear interpolation between order statistics (numpy's default, "linear"):
    `pos = q (n − 1)`, `Q = x₍⌊pos⌋₎ + (pos − ⌊pos⌋)(x₍⌈pos⌉₎ − x₍⌊pos⌋₎)` over the sorted values."""
    t = as_row(x)
    n = t.numel()
    if n == 0:
        return math.nan
    s = torch.sort(t).values.tolist()
    pos = clamp(q, 0.0, 1.0) * (n - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    return s[lo] + (pos - lo) * (s[hi] - s[lo])


def minmax(x: RowLike, eps: float = MINMAX_EPS) -> Tensor:
    """`minmax(x)_t = (x_t − min x) / (max x − min x + ε)`, ε = 1e-6, over one response."""
    return minmax_floor(x, 0.0, eps)


def minmax_floor(x: RowLike, floor: float, eps: float = MINMAX_EPS) -> Tensor:
    """`minmax_f(x)_t = (x_t − min x) / max(max x − min x + ε, log1p(f))` for log1p-scores, with a floor `f` in
    nats: when every score of a response is tiny, nothing in it is ranked "high" merely for being the largest
    of nothing. `f = 0` is `minmax`."""
    t = as_row(x)
    if t.numel() == 0:
        return t.clone()
    lo = float(t.min())
    hi = float(t.max())
    den = max(hi - lo + eps, math.log1p(floor))
    return (t - lo) / den


def auroc(scores: RowLike, labels: RowLike) -> float:
    """Area under the ROC curve of `scores` against binary `labels` (a label > 0.5 is positive): the
    probability that a random positive outscores a random negative, ties counting one half (Mann–Whitney U /
    (n₊ n₋), with mid-ranks). NaN when either class is absent. Pairs whose score is NaN are skipped."""
    s = as_row(scores)
    y = as_row(labels)
    if s.numel() != y.numel():
        raise ValueError(f"auroc: {s.numel()} scores but {y.numel()} labels")
    keep = ~torch.isnan(s)
    s, y = s[keep].tolist(), y[keep].tolist()
    idx = sorted(range(len(s)), key=lambda i: s[i])
    n_pos = 0
    rank_sum_pos = 0.0
    start = 0
    while start < len(idx):
        end = start
        while end + 1 < len(idx) and s[idx[end + 1]] == s[idx[start]]:
            end += 1
        mid_rank = (start + end) / 2 + 1  # 1-based mid-rank of the tied run
        for j in range(start, end + 1):
            if y[idx[j]] > 0.5:
                n_pos += 1
                rank_sum_pos += mid_rank
        start = end + 1
    n_neg = len(idx) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    return (rank_sum_pos - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def to_numbers(row: RowLike) -> list[float]:
    """A plain-list copy of a row (for JSON and the run files)."""
    return as_row(row).tolist()
