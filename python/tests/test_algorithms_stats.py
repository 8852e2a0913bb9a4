"""prpo_studio.algorithms' statistics and KL helpers, case for case with test/unit/algorithms/stats.test.ts."""

from __future__ import annotations

import math

import pytest
import torch

from prpo_studio.algorithms import auroc, exact_kl, exact_kl_rows, k3, log_softmax, mean, minmax, quantile, std, token_entropy


def close(a, b, tol=1e-9):
    assert abs(float(a) - float(b)) <= tol, f"{a} ≉ {b}"


def test_mean_and_unbiased_std():
    close(mean([1, 2, 3, 4]), 2.5)
    close(std([1, 2, 3, 4]), math.sqrt(5 / 3))
    assert math.isnan(mean([])) and math.isnan(std([7]))


def test_quantile_is_numpys_linear():
    close(quantile([3, 1, 2, 4], 0.5), 2.5)
    close(quantile([0, 0, 5], 0.8), 3)
    close(quantile([10], 0.3), 10)
    close(quantile([1, 2, 3, 4, 5], 0), 1)
    close(quantile([1, 2, 3, 4, 5], 1), 5)
    close(quantile(torch.tensor([4, 3, 2, 1], dtype=torch.float32), 0.25), 1.75)


def test_minmax_constant_row_is_zeros():
    m = minmax([2, 4, 3])
    close(m[1], 2 / (2 + 1e-6))
    close(m[2], 1 / (2 + 1e-6))
    assert minmax([5, 5, 5]).tolist() == [0, 0, 0] and minmax([9]).tolist() == [0]


def test_auroc_ties_count_one_half():
    close(auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1)
    close(auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0)
    close(auroc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5)
    close(auroc([0.5, 0.9, 0.5, 0.1], [1, 1, 0, 0]), 3.5 / 4)
    assert math.isnan(auroc([1, 2], [1, 1])) and math.isnan(auroc([1, 2], [0, 0]))
    with pytest.raises(ValueError, match="1 scores but 2 labels"):
        auroc([1], [1, 0])


def test_k3_hand_values_and_clamps():
    assert k3(-1.3, -1.3).item() == 0
    close(k3(0.0, math.log(2)), 2 - math.log(2) - 1)
    close(k3(0.0, -math.log(2)), 0.5 + math.log(2) - 1)
    close(k3(-1.0, -3.0), math.exp(-2) + 2 - 1)
    assert k3(0.0, 3.0).item() == 10 and k3(0.0, 1e6).item() == 10 and k3(0.0, -1e6).item() == 10
    assert k3(0.0, -9.0).item() < 10 and k3(0.0, -12.0).item() == 10
    rows = k3(torch.zeros(2, 3), torch.tensor([[0.0, 30.0, -1.0], [1.0, 0.0, 0.0]]))  # any shape, float32 kept
    assert rows.shape == (2, 3) and rows.dtype == torch.float32 and rows[0, 1].item() == 10


def test_exact_kl_entropy_rows_and_log_softmax():
    p = torch.log(torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64))
    q = torch.log(torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64))
    close(exact_kl(p, q), 0.5 * math.log(2) + 0.25 * math.log(0.5))
    assert exact_kl(p, p).item() == 0
    close(exact_kl(torch.tensor([0.0, -math.inf]), torch.tensor([math.log(0.5)] * 2)), math.log(2), 1e-6)
    close(token_entropy(p), -(0.5 * math.log(0.5) + 0.5 * math.log(0.25)))
    with pytest.raises(ValueError, match="vocabularies differ"):
        exact_kl(torch.zeros(1), torch.zeros(2))
    a = torch.cat([log_softmax(torch.tensor([1.0, 2, 3])), log_softmax(torch.tensor([0.0, 0, 0]))])
    b = torch.cat([log_softmax(torch.tensor([3.0, 2, 1])), log_softmax(torch.tensor([0.0, 0, 5]))])
    rows = exact_kl_rows(a, b, 3)
    close(rows[0], exact_kl(a[:3], b[:3]))
    close(rows[1], exact_kl(a[3:], b[3:]))
    close(log_softmax(torch.tensor([1000.0, 1000.0]))[0], -math.log(2), 1e-6)
    with pytest.raises(ValueError, match="not both L × 4"):
        exact_kl_rows(a, b, 4)
    pa = log_softmax(torch.tensor([0.5, -0.2, 0.1], dtype=torch.float64))
    pb = log_softmax(torch.tensor([0.1, 0.3, -0.4], dtype=torch.float64))
    close((torch.exp(pa) * k3(pa, pb)).sum(), exact_kl(pa, pb), 1e-12)  # E_{o~π_a} k3 = KL without clamps
