"""prpo_studio.algorithms by hand: the equations of ALGORITHMS.md §1–§5 on small batches whose values can be
worked out on paper (the same cases as test/unit/algorithms/*.test.ts), the properties on random batches, the
loss with its gradient, the registry and the configuration messages. The shared vectors (test_vectors.py) then
check every preset and option against the TypeScript numbers."""

from __future__ import annotations

import math
import random

import pytest
import torch

from prpo_studio.algorithms import (
    ConfigError,
    FunctionEstimator,
    InputError,
    RolloutAdvantage,
    ViewRequirements,
    compute_advantages,
    conserve_mass,
    estimator_names,
    exact_kl,
    filter_groups_for_dynamic_sampling,
    k3,
    loss_options,
    minmax,
    minmax_floor,
    outcome_advantages,
    par_weights,
    policy_loss,
    quantile,
    register_estimator,
    resolve_config,
    tas_weights,
    tgf_count,
    tgf_mask,
    token_entropy,
    unregister_estimator,
    views_for,
)

A10 = 0.5 / (math.sqrt(0.5) + 1e-6)  # A = ±0.5/(std + 1e-6) for rewards {1, 0}
E = math.e


def close(got, want, tol=1e-9):
    got = torch.as_tensor(got, dtype=torch.float64)
    want = torch.as_tensor(want, dtype=torch.float64)
    assert got.shape == want.shape, (got, want)
    assert torch.allclose(got, want, rtol=0, atol=tol), f"{got.tolist()} ≉ {want.tolist()}"


def test_grpo_hand_values_dr_grpo_group_of_one_equal_rewards():
    A = outcome_advantages([1, 0, 0, 1, 0.7, 0.3, 0.3], ["a", "a", "a", "a", "solo", "same", "same"])
    sd = math.sqrt(1 / 3)
    close(A[:4], [0.5 / (sd + 1e-6), -0.5 / (sd + 1e-6), -0.5 / (sd + 1e-6), 0.5 / (sd + 1e-6)])
    close(A[4], 0.7 / (1 + 1e-6))  # a group of one: mean 0, std 1
    assert A[5:].tolist() == [0, 0]
    close(outcome_advantages([1, 0, 0, 1, 0.7], ["a"] * 4 + ["solo"], False), [0.5, -0.5, -0.5, 0.5, 0.7])
    out = compute_advantages(resolve_config("grpo"), [
        {"id": "x", "group": "g", "reward": 1, "logp": {"image": [-1, -2, -3]}},
        {"id": "y", "group": "g", "reward": 0, "logp": {"image": torch.tensor([-1.0])}},
    ])
    close(out[0].token_advantages, [A10] * 3)
    close(out[1].token_advantages, [-A10])
    assert out[0].token_advantages.dtype == torch.float64


def test_vppo_mask_ties_to_the_earlier_token_alpha_and_token_advantages():
    ln2 = math.log(2)
    s1, s2 = 2 - ln2 - 1, 0.5 + ln2 - 1  # k3(0, ln 2), k3(0, −ln 2)
    a, b = compute_advantages(resolve_config("vppo"), [
        {"id": "a", "group": "g", "reward": 1, "logp": {"image": [0] * 5, "perturbed": [ln2, 0, ln2, 0, -ln2]}},
        {"id": "b", "group": "g", "reward": 0, "logp": {"image": [-1] * 4, "perturbed": [-1 - ln2] * 3 + [-1]}},
    ])
    close(a.scores["S"], [s1, 0, s1, 0, s2])
    assert a.mask.tolist() == [1, 0, 1, 0, 0]
    assert b.mask.tolist() == [1, 1, 0, 0]  # the earlier two of three tied tokens
    beta_max = 0.9 + 0.1 / (0.5 + 1e-8)
    close(a.alpha, beta_max)
    close(b.alpha, 0.9)
    close(a.token_advantages, [beta_max * A10, 0, beta_max * A10, 0, 0])
    close(b.token_advantages, [-0.9 * A10, -0.9 * A10, 0, 0])


def test_vppo_tgf_count_is_the_ceiling_of_the_real_product_and_tas_edges():
    assert tgf_count(0.07, 100) == 7  # 0.07·100 = 7.000000000000001 in doubles
    assert tgf_count(0.28, 25) == 7
    assert [tgf_count(0.4, 15), tgf_count(0.4, 1), tgf_count(0.4, 3), tgf_count(1, 7)] == [6, 1, 2, 7]
    assert tgf_mask([2, 2, 2, 2, 2], 0.4).tolist() == [1, 1, 0, 0, 0]
    assert tas_weights([0.3, 0.3 + 1e-7, 0.3], 0.9).tolist() == [1, 1, 1]  # spread ≤ 1e-6
    assert tas_weights([0.5], 0.9).tolist() == [1]
    alpha = tas_weights([0, 1, 1, 1], 0.5)
    close(alpha[0], 0.5)
    close(alpha[1], 0.5 + 0.5 / (0.75 + 1e-8))


def test_pgpo_gate_and_mass_conservation_on_exact_scores():
    r = {"id": "a", "group": "solo", "reward": 2, "logp": {"image": [-1, -1, -1]}, "dependency": {"blind": [0, E - 1, E * E - 1]}}
    (out,) = compute_advantages(resolve_config("pgpo", {"kl": "exact"}), [r])
    I = [0, 1 / (2 + 1e-6), 2 / (2 + 1e-6)]
    omega = [x / (0.4 + 1e-6) if x < 0.4 else 1 + 2 * (x - 0.4) / (0.6 + 1e-6) for x in I]
    close(out.weights, [w * 3 / sum(omega) for w in omega])
    close(out.weights, [0, 12 / 13, 27 / 13], 1e-5)
    close(out.token_advantages, out.weights * (2 / (1 + 1e-6)))
    assert conserve_mass([0, 0, 0]).tolist() == [1, 1, 1]


def test_prpo_soft_gate_multimask_threshold_mass_conservation():
    G = [0, E - 1, E * E - 1]
    g = [0, 1 / (2 + 1e-6), 2 / (2 + 1e-6)]
    base = {"id": "a", "group": "solo", "reward": 1, "logp": {"image": [0, 0, 0]}}

    def par(rvd, tau=0.4, beta=1.0):
        return [1 + beta * min(1, max(0, (x - tau) / (1 - tau))) for x in rvd]

    U = [E * E - 1, 0, 0]
    (soft,) = compute_advantages(resolve_config("prpo", {"kl": "exact"}), [{**base, "dependency": {"blind": G, "mild": U}}])
    close(soft.scores["rvd"], [0, g[1], g[2]])
    close(soft.weights, par([0, g[1], g[2]]))
    (gate,) = compute_advantages(resolve_config("prpo", {"kl": "exact", "rvd": "gate"}), [{**base, "dependency": {"blind": G, "mild": [0, 5, 0]}}])
    close(gate.scores["rvd"], [0, 0, g[2]])  # quantile 0.8 of [0, 0, 5] is 3: token 1 is gated
    (mm,) = compute_advantages(resolve_config("prpo", {"kl": "exact", "rvd": "multimask"}), [{**base, "dependency": {"perturbed": [[0, 1, 2], [0, 1, 4]]}}])
    robust = [0, 1, 3 - math.sqrt(2)]
    close(mm.scores["rvd"], [x / (robust[2] + 1e-6) for x in robust])
    close(mm.scores["S"], [0, 1, 3])
    (thr,) = compute_advantages(resolve_config("prpo", {"kl": "exact", "threshold": {"quantile": 0.5}}), [{**base, "dependency": {"blind": G, "mild": U}}])
    close(thr.tau, g[1])
    assert thr.weights[1].item() == 1
    (mc,) = compute_advantages(resolve_config("prpo", {"kl": "exact", "massConserving": True, "beta": 3}), [{**base, "dependency": {"blind": G, "mild": U}}])
    w = par([0, g[1], g[2]], 0.4, 3)
    close(mc.weights, [3 * x / sum(w) for x in w])
    assert par_weights([0.4, 0.39, 1, 0.7], 0.4, 1).tolist() == [1, 1, 2, 1.5]


def test_prpo_floors_zero_gives_plain_minmax_weak_grounding_no_boost_tiny_instability_no_damping():
    base = {"id": "a", "group": "solo", "reward": 1, "logp": {"image": [0, 0, 0]}}
    weak_g = [0, 0.001, 0.003]  # max G < G₀ = 0.01
    (weak,) = compute_advantages(resolve_config("prpo", {"kl": "exact"}), [{**base, "dependency": {"blind": weak_g, "mild": [0, 0, 0]}}])
    close(weak.scores["rvd"], [math.log1p(x) / math.log1p(0.01) for x in weak_g])
    assert weak.weights.tolist() == [1, 1, 1]
    (no_floor,) = compute_advantages(resolve_config("prpo", {"kl": "exact", "groundingFloor": 0}), [{**base, "dependency": {"blind": weak_g, "mild": [0, 0, 0]}}])
    close(no_floor.weights[2], 2, 1e-3)
    G = [0, E - 1, E * E - 1]
    g = [0, 1 / (2 + 1e-6), 2 / (2 + 1e-6)]
    tiny_u = [0.001, 0, 0.001]
    (stable,) = compute_advantages(resolve_config("prpo", {"kl": "exact"}), [{**base, "dependency": {"blind": G, "mild": tiny_u}}])
    u = [math.log1p(x) / math.log1p(0.05) for x in tiny_u]
    close(stable.scores["rvd"], [gt * math.exp(-ut) for gt, ut in zip(g, u)])
    assert stable.scores["rvd"][2] > 0.97 * g[2]
    assert minmax_floor([0, 0.5, 1], 0).tolist() == minmax([0, 0.5, 1]).tolist()
    close(minmax_floor([0, 0.001], 0.05), [0, 0.001 / math.log1p(0.05)])


def random_batch(seed: int, groups: int = 5, max_len: int = 12):
    rand = random.Random(seed)

    def view(base: float) -> float:
        u = rand.random()
        return base if u < 0.3 else base - 25 * rand.random() - 1 if u < 0.4 else round((base + (rand.random() - 0.5) * 6) * 4) / 4

    out = []
    for gi in range(groups):
        for j in range(1 if gi % 4 == 2 else rand.randint(2, 6)):
            L = 1 if rand.random() < 0.15 else rand.randint(1, max_len)
            image = [round(-rand.random() * 12) / 4 for _ in range(L)]
            out.append({
                "id": f"g{gi}-r{j}", "group": f"g{gi}", "reward": 0.5 if gi % 4 == 1 else round(rand.random() * 10) / 10,
                "logp": {"image": image, "blind": [view(x) for x in image], "perturbed": [view(x) for x in image], "mild": [view(x) for x in image]},
            })
    return out


@pytest.mark.parametrize("seed", range(6))
def test_properties_on_random_batches(seed):
    batch = random_batch(seed)
    for r in compute_advantages(resolve_config("pgpo"), batch):
        close(r.weights.sum(), len(r.weights), 1e-9 * len(r.weights))
    for opts in ({}, {"rvd": "gate"}, {"beta": 2.5, "tau": 0.1}, {"threshold": {"quantile": 0.6}}, {"groundingFloor": 0, "instabilityFloor": 0}):
        c = resolve_config("prpo", opts)
        for r in compute_advantages(c, batch):
            tau = r.tau if r.tau is not None else c.tau
            assert bool(((r.weights >= 1) & (r.weights <= 1 + c.beta)).all())
            low = r.scores["rvd"] <= tau
            assert bool((r.weights[low] == 1).all()) and bool((r.token_advantages[low] == r.advantage).all())
    for top_k in (0.4, 0.1, 0.28, 0.75, 1):
        out = compute_advantages(resolve_config("vppo", {"topK": top_k}), batch)
        for r in out:
            S, m = r.scores["S"].tolist(), r.mask.tolist()
            assert sum(m) == tgf_count(top_k, len(m))
            for t in range(len(m)):
                for u in range(len(m)):
                    if m[t] == 1 and m[u] == 0:
                        assert S[t] > S[u] or (S[t] == S[u] and t < u)
        close(sum(r.alpha for r in out) / len(out), 1, 1e-6)


def test_bad_input_names_the_rollout_and_field():
    good = {"id": "r3", "group": "g", "reward": 1, "logp": {"image": [-1, -2], "blind": [-1, -2]}}
    with pytest.raises(InputError, match=r'^rollout "r4": logp\.blind has 1 entries, logp\.image has 2$'):
        compute_advantages(resolve_config("pgpo"), [good, {**good, "id": "r4", "logp": {"image": [-1, -2], "blind": [-1]}}])
    with pytest.raises(InputError, match=r'^rollout "r4": logp\.image\[1\] is NaN, expected a finite number$'):
        compute_advantages(resolve_config("grpo"), [{**good, "id": "r4", "logp": {"image": torch.tensor([0.0, math.nan])}}])
    with pytest.raises(InputError, match=r'^rollout "3": id must be a string, got 3$'):
        compute_advantages(resolve_config("grpo"), [{**good, "id": 3.0}])
    with pytest.raises(InputError, match=r'^rollout "r3": logp.perturbed is missing; vppo needs the perturbed view$'):
        compute_advantages(resolve_config("vppo"), [good])


def test_config_defaults_messages_and_round_trip():
    prpo = resolve_config("prpo")
    assert (prpo.rvd, prpo.lambda_, prpo.quantile, prpo.kappa, prpo.masks, prpo.tau, prpo.beta, prpo.mass_conserving, prpo.threshold) == (
        "soft", 1, 0.8, 1, 4, 0.4, 1.0, False, None)
    assert (prpo.grounding_floor, prpo.instability_floor) == (0.01, 0.05)
    assert resolve_config("pgpo").beta == 2.0 and resolve_config("vppo").sampled_nll_coef == 0.06
    assert resolve_config("grpo").clip_high == 0.2 and resolve_config("grpo").dynamic_sampling is False
    c = resolve_config("prpo", {"tau": 0.3, "rvd": "gate", "threshold": {"quantile": 0.7}, "normalizeByStd": False, "masks": 3.0})
    assert isinstance(c.masks, int)
    assert resolve_config("prpo", c.to_json()) == c
    assert list(c.to_json())[:4] == ["preset", "estimator", "normalizeByStd", "kl"]
    for preset, overrides, message in [
        ("ppo", {}, 'algorithm: expected one of grpo, dapo, vppo, pgpo, prpo, got "ppo"'),
        ("pgpo", {"tau": "x"}, 'config.tau: expected a number in [0, 1), got "x"'),
        ("pgpo", {"tau": 1}, "config.tau: expected a number in [0, 1), got 1"),
        ("prpo", {"groundingFloor": -0.01}, "config.groundingFloor: expected a number ≥ 0 (nats), got -0.01"),
        ("prpo", {"beta": -1e-7}, "config.beta: expected a number ≥ 0, got -1e-7"),
        ("prpo", {"masks": True}, "config.masks: expected an integer ≥ 2, got true"),
        ("prpo", {"threshold": {"quantile": 2}}, 'config.threshold: expected null or {"quantile": a number in [0, 1]}, got {"quantile":2}'),
        ("dapo", {"accuracyLow": 0.5, "accuracyHigh": 0.4}, "config.accuracyLow: expected less than accuracyHigh (0.4), got 0.5"),
        ("dapo", {"preset": "vppo"}, 'config.preset: expected "dapo", got "vppo"'),
    ]:
        with pytest.raises(ConfigError) as e:
            resolve_config(preset, overrides)
        assert str(e.value) == message
    with pytest.raises(ConfigError, match=r"^config\.tua: unknown key \(known: estimator, normalizeByStd, kl, topK, "):
        resolve_config("pgpo", {"tua": 0.3})


def test_views_for_and_a_user_estimator_from_the_registry():
    assert views_for(resolve_config("grpo")) == ViewRequirements(("image",), 0)
    assert views_for(resolve_config("vppo")) == ViewRequirements(("image", "perturbed"), 1)
    assert views_for(resolve_config("pgpo")) == ViewRequirements(("image", "blind"), 0)
    assert views_for(resolve_config("prpo")) == ViewRequirements(("image", "blind", "mild"), 0)
    assert views_for(resolve_config("prpo", {"rvd": "multimask", "masks": 6})) == ViewRequirements(("image", "perturbed"), 6)
    flip = FunctionEstimator(
        "test: negate the outcome advantage",
        lambda _c: ViewRequirements(("image",), 0),
        lambda _c, rollouts, A: [RolloutAdvantage(r["id"], float(A[i]), torch.full((len(r["logp"]["image"]),), -float(A[i]), dtype=torch.float64)) for i, r in enumerate(rollouts)],
    )
    register_estimator("flip", flip)
    try:
        assert "flip" in estimator_names()
        with pytest.raises(ValueError, match="already registered"):
            register_estimator("flip", flip)
        out = compute_advantages(resolve_config("dapo", {"estimator": "flip"}), [
            {"id": "a", "group": "g", "reward": 1, "logp": {"image": [-1, -2]}},
            {"id": "b", "group": "g", "reward": 0, "logp": {"image": [-1]}},
        ])
        assert out[0].advantage > 0 and out[0].token_advantages.tolist() == [-out[0].advantage] * 2
    finally:
        unregister_estimator("flip")
    assert "flip" not in estimator_names()
    with pytest.raises(ValueError, match="invalid name"):
        register_estimator("1bad", flip)


def test_k3_exact_kl_and_entropy():
    close(k3(0.0, math.log(2)), 2 - math.log(2) - 1)
    assert k3(0.0, 0.0).item() == 0
    assert k3(0.0, 30.0).item() == 10  # log-ratio clamped at 20, value at 10
    close(k3(0.0, -30.0), math.exp(-20) + 20 - 1 if math.exp(-20) + 19 < 10 else 10)
    a = torch.log(torch.tensor([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64))
    b = torch.log(torch.tensor([[0.25, 0.25, 0.5], [0.5, 0.5, 0.0]], dtype=torch.float64))
    close(exact_kl(a, b), [math.log(2), math.log(2)])
    close(token_entropy(a), [math.log(2), 0])
    assert exact_kl(b, a)[0].item() == math.inf


# §5 ----------------------------------------------------------------------------------------------------------

OPTS = {"clipLow": 0.2, "clipHigh": 0.28, "dualClip": 3, "entropyCoef": 0, "klCoef": 0}
CASES = [  # (Ã, r, pg)
    (1, 1.1, -1.1),  # inside the trust region: −Ã r
    (1, 1.5, -1.28),  # Ã > 0, r above 1 + ε_high
    (1, 0.5, -0.5),  # Ã > 0, r below 1 − ε_low: the pessimistic max
    (-1, 0.5, 0.8),
    (-1, 1.5, 1.5),
    (-1, 5, 3),  # dual clip at −C Ã
    (0, 7, 0),  # a VPPO-masked token adds 0 but counts
]


def t64(rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_policy_loss_per_token_cases_token_mean_and_fractions():
    for a, r, pg in CASES:
        out = policy_loss(t64([[math.log(r)]]), t64([[0.0]]), t64([[a]]), torch.ones(1, 1), OPTS)
        close(out.pg_loss, pg, 1e-12)
    # padded [2, 4] batch: 4 + 3 valid tokens; padding holds garbage that must not leak
    lp_new = t64([[math.log(c[1]) for c in CASES[:4]], [math.log(c[1]) for c in CASES[4:]] + [math.inf]])
    adv = t64([[c[0] for c in CASES[:4]], [c[0] for c in CASES[4:]] + [math.nan]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    out = policy_loss(lp_new, torch.zeros(2, 4, dtype=torch.float64), adv, mask, OPTS)
    close(out.pg_loss, sum(c[2] for c in CASES) / 7, 1e-12)
    assert out.tokens == 7
    close(out.clip_fraction, 2 / 7)
    close(out.dual_clip_fraction, 1 / 7)
    close(out.approx_kl, -sum(math.log(c[1]) for c in CASES) / 7, 1e-12)
    assert math.isfinite(out.loss.item())
    grpo = resolve_config("grpo")
    close(policy_loss(t64([[math.log(1.5)]]), t64([[0.0]]), t64([[1.0]]), torch.ones(1, 1), grpo).pg_loss, -1.2)


def test_policy_loss_terms_and_both_names_of_the_nll_term():
    lp_new, lp_old = t64([[-0.5, -1.5], [-2, 0]]), t64([[-0.5, -1.5], [-2, 0]])
    adv, ref = t64([[1, 1], [-1, 0]]), t64([[-0.7, -1.0], [-2, 0]])
    H = t64([[0.3, 0.9], [1.2, 0]])
    mask = torch.tensor([[1, 1], [1, 0]])
    pg, nll, ent = (-1 - 1 + 1) / 3, (0.5 + 1.5 + 2) / 3, (0.3 + 0.9 + 1.2) / 3
    kl = (k3(-0.5, -0.7).item() + k3(-1.5, -1.0).item()) / 3
    for key in ("entropyCoef", "sampledNllCoef"):
        o = {**OPTS, key: 0.06, "klCoef": 0.1, "entropyBonus": 0.01}
        if key == "sampledNllCoef":
            del o["entropyCoef"]
        out = policy_loss(lp_new, lp_old, adv, mask, o, logp_ref=ref, entropy=H)
        close(out.pg_loss, pg)
        close(out.sampled_nll, nll)
        close(out.entropy, ent)
        close(out.kl_loss, kl)
        close(out.loss.item(), pg + 0.06 * nll - 0.01 * ent + 0.1 * kl)
    close(policy_loss(lp_new, lp_old, adv, mask, resolve_config("vppo")).loss.item(), pg + 0.06 * nll)
    with pytest.raises(ConfigError, match="sampledNllCoef"):
        loss_options({"sampledNllCoef": 0.06, "entropyCoef": 0.01})
    assert loss_options({"sampledNllCoef": 0.06, "entropyCoef": 0.06}).sampled_nll_coef == 0.06
    with pytest.raises(ValueError, match="entropyBonus > 0 needs"):
        policy_loss(lp_new, lp_old, adv, mask, {"entropyBonus": 0.1})
    with pytest.raises(ValueError, match="klCoef > 0 needs"):
        policy_loss(lp_new, lp_old, adv, mask, {"klCoef": 0.1})
    assert loss_options(resolve_config("dapo"), entropy_bonus=0.002).entropy_bonus == 0.002


def test_policy_loss_gradient_matches_the_typescript_rule():
    """∂loss/∂logp_new per token as loss.ts writes it: −Ã r where the unclipped term is taken, 0 where a clip
    holds; − c_nll; + c_kl (1 − exp(ref − new)) inside the k3 clamps; all over N."""
    g = torch.Generator().manual_seed(5)
    n = 40
    lp_old = -3 * torch.rand(n, generator=g, dtype=torch.float64)
    lp_new = lp_old + (torch.rand(n, generator=g, dtype=torch.float64) - 0.5) * 1.2
    ref = lp_old + (torch.rand(n, generator=g, dtype=torch.float64) - 0.5) * 2
    adv = (torch.rand(n, generator=g, dtype=torch.float64) - 0.5) * 4
    adv[3], lp_new[3] = -2, lp_old[3] + 1.5  # dual-clip region
    x = lp_new.clone().requires_grad_(True)
    o = {**OPTS, "entropyCoef": 0.06, "klCoef": 0.2}
    policy_loss(x.view(2, 20), lp_old.view(2, 20), adv.view(2, 20), torch.ones(2, 20), o, logp_ref=ref.view(2, 20)).loss.backward()
    want = []
    for t in range(n):
        a, r = adv[t].item(), math.exp(lp_new[t].item() - lp_old[t].item())
        pg1, pg2 = -a * r, -a * min(max(r, 0.8), 1.28)
        gr = 0.0 if pg2 > pg1 else -a * r
        if a < 0 and max(pg1, pg2) > -3 * a:
            gr = 0.0
        d = ref[t].item() - lp_new[t].item()
        gr += -0.06 + 0.2 * (1 - math.exp(d))
        want.append(gr / n)
    close(x.grad, want, 1e-12)
    close(x.grad[3], (-0.06 + 0.2 * (1 - math.exp(ref[3].item() - lp_new[3].item()))) / n, 1e-15)


def test_policy_loss_micro_batches_add_up_to_the_step_token_mean():
    g = torch.Generator().manual_seed(1)
    lp_new = -torch.rand(4, 6, generator=g, dtype=torch.float64)
    lp_old = lp_new + 0.1 * torch.randn(4, 6, generator=g, dtype=torch.float64)
    adv = torch.randn(4, 6, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3, [1] * 5 + [0], [1] + [0] * 5])
    whole = policy_loss(lp_new, lp_old, adv, mask, OPTS).loss
    n = float(mask.sum())
    parts = sum(policy_loss(lp_new[i:i + 2], lp_old[i:i + 2], adv[i:i + 2], mask[i:i + 2], OPTS, num_tokens=n).loss for i in (0, 2))
    close(parts.item(), whole.item(), 1e-12)


def test_dynamic_sampling_keeps_groups_strictly_inside_the_bounds():
    rollouts = [
        {"id": "1", "group": "all-right", "correct": True}, {"id": "2", "group": "all-right", "correct": True},
        {"id": "3", "group": "mixed", "correct": True}, {"id": "4", "group": "mixed", "correct": False},
        {"id": "5", "group": "all-wrong", "correct": False}, {"id": "6", "group": "mixed", "correct": False},
    ]
    r = filter_groups_for_dynamic_sampling(rollouts)
    assert [x["id"] for x in r.kept] == ["3", "4", "6"]
    assert r.kept_groups == ["mixed"] and r.dropped_groups == ["all-right", "all-wrong"]
    close(r.group_accuracy["mixed"], 1 / 3)
    by_reward = [{"group": "a", "reward": 0.995}, {"group": "b", "reward": 0.5}, {"group": "c", "reward": 0.005}]
    assert filter_groups_for_dynamic_sampling(by_reward).kept_groups == ["b"]
    assert filter_groups_for_dynamic_sampling(by_reward, accuracy_high=0.999).kept_groups == ["a", "b"]
    assert filter_groups_for_dynamic_sampling(by_reward, accuracy=lambda x: 1 - x["reward"], accuracy_low=0.001).kept_groups == ["a", "b"]
    close(quantile([0, 0, 5], 0.8), 3)
