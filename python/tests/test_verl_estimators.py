"""Our estimators as verl calls them: looked up in verl 0.9.1's registry, called through verl's own
`compute_advantage` on a DataProto, and compared with the shared vectors (test/vectors/advantages.json, written
from the TypeScript CLI)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("verl", reason="verl 0.9.1 is installed in .toolchain/python by the project's set-up")

from omegaconf import OmegaConf  # noqa: E402  (verl's dependency)

import prpo_studio.verl.plugin  # noqa: E402,F401  (attaches, as verl's entry point does)
from prpo_studio.verl.estimators import ESTIMATORS, EstimatorInputError, FedViews, feeding_views  # noqa: E402

VECTORS = Path(__file__).resolve().parents[2] / "test" / "vectors" / "advantages.json"


def verl_compute_advantage(data, estimator: str, algorithm: dict):
    from verl.trainer.ppo.ray_trainer import compute_advantage

    return compute_advantage(data, adv_estimator=estimator, config=OmegaConf.create(algorithm))


def padded(rows: list[list[float]], width: int) -> torch.Tensor:
    out = torch.zeros(len(rows), width, dtype=torch.float64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.float64)
    return out


def batch_from_rollouts(rollouts: list[dict], views: list[str], masks: int):
    """A verl DataProto as `_compute_advantage` builds it, and the views' padded log-probs."""
    from verl import DataProto

    width = max(len(r["logp"]["image"]) for r in rollouts)
    lengths = [len(r["logp"]["image"]) for r in rollouts]
    mask = torch.zeros(len(rollouts), width, dtype=torch.float64)
    rewards = torch.zeros(len(rollouts), width, dtype=torch.float64)
    for i, (n, r) in enumerate(zip(lengths, rollouts)):
        mask[i, :n] = 1
        rewards[i, n - 1] = r["reward"]  # verl puts an outcome reward on the last response token
    data = DataProto.from_dict(
        tensors={"token_level_rewards": rewards, "response_mask": mask},
        non_tensors={"uid": np.array([r["group"] for r in rollouts], dtype=object)},
    )
    logp = {"image": padded([r["logp"]["image"] for r in rollouts], width)}
    for v in views:
        if v == "perturbed" and masks > 1:
            logp[v] = [padded([r["logp"][v][j] for r in rollouts], width) for j in range(masks)]
        else:
            logp[v] = padded([r["logp"][v] for r in rollouts], width)
    return data, logp, lengths


def vector_cases():
    cases = json.loads(VECTORS.read_text())["cases"]
    out = []
    for c in cases:
        if c["input"] is None:
            continue  # the CLI's what-if cases read a logged run directory, not a batch
        if c["output"]["algorithm"] not in ESTIMATORS:
            continue  # grpo/dapo are verl's own estimators
        out.append(pytest.param(c, id=c["name"]))
    return out


def needed(config: dict) -> tuple[list[str], int]:
    from prpo_studio.verl.estimators import needed_views, studio_config

    return needed_views(studio_config(config["preset"], {"prpo_studio": config}))


def close(a: float, b: float, tol: float) -> bool:
    if math.isnan(b):
        return math.isnan(a)
    return abs(a - b) <= tol * max(1.0, abs(b))


@pytest.mark.parametrize("case", vector_cases())
def test_registered_estimator_matches_the_shared_vectors(case):
    from verl.trainer.ppo.core_algos import get_adv_estimator_fn

    expected = case["output"]
    config = expected["config"]  # the resolved configuration the TypeScript CLI echoed
    if config["kl"] == "exact":
        pytest.skip("kl=exact needs per-token full-vocabulary KLs, which verl's engine does not return (docs/verl.md)")
    if config["estimator"] in ("oracle", "random"):
        pytest.skip("the controls read ground-truth perceptual flags, which verl's rollouts do not carry (docs/verl.md)")
    views, masks = needed(config)
    rollouts = case["input"]["rollouts"]
    if masks > 1:
        masks = len(rollouts[0]["logp"]["perturbed"])  # the vectors score fewer masks than the default M
    data, logp, lengths = batch_from_rollouts(rollouts, views, masks)
    estimator = expected["algorithm"]  # the preset's registered name (the CLI's --algorithm wins over the input's)
    assert get_adv_estimator_fn(estimator) is ESTIMATORS[estimator]

    fed = FedViews(logp=logp, ids=[r["id"] for r in rollouts])
    with feeding_views(fed):
        out = verl_compute_advantage(data, estimator, {"norm_adv_by_std_in_grpo": True, "prpo_studio": config})

    tol = json.loads(VECTORS.read_text())["tolerance"]
    for i, (want, n) in enumerate(zip(expected["rollouts"], lengths)):
        got = out.batch["advantages"][i]
        assert all(close(float(g), w, tol) for g, w in zip(got[:n].tolist(), want["tokenAdvantages"])), (case["name"], i)
        assert torch.all(got[n:] == 0)
        assert close(float(fed.results[i].advantage), want["advantage"], tol)
    torch.testing.assert_close(out.batch["returns"], out.batch["advantages"])


def test_the_vectors_exercise_every_registered_estimator():
    cases = [c.values[0] for c in vector_cases()]
    presets = {c["output"]["algorithm"] for c in cases}
    assert {"prpo", "pgpo", "vppo"} <= presets
    assert len(cases) >= 40


def test_without_the_views_verl_gets_a_clear_error():
    data, _, _ = batch_from_rollouts(
        [{"id": "a", "group": "g", "reward": 1.0, "logp": {"image": [-1.0, -2.0]}},
         {"id": "b", "group": "g", "reward": 0.0, "logp": {"image": [-1.0]}}],
        [],
        0,
    )
    with pytest.raises(EstimatorInputError, match=r"trainer\.v1\.trainer_mode=prpo_sync"):
        verl_compute_advantage(data, "prpo", {})


def test_padding_rollouts_get_zero_and_do_not_change_the_others():
    rollouts = [
        {"id": "a", "group": "g", "reward": 1.0, "logp": {"image": [-1.0, -2.0], "blind": [-3.0, -2.0]}},
        {"id": "b", "group": "g", "reward": 0.0, "logp": {"image": [-1.0, -0.5], "blind": [-1.0, -4.0]}},
    ]
    data, logp, _ = batch_from_rollouts(rollouts, ["blind"], 0)
    with feeding_views(FedViews(logp=logp)):
        alone = verl_compute_advantage(data, "pgpo", {}).batch["advantages"].clone()

    # verl's synthetic padding rollout: response_mask all 0, reward 0, its own uid
    from verl import DataProto

    pad_data = DataProto.from_dict(
        tensors={
            "token_level_rewards": torch.cat([data.batch["token_level_rewards"], torch.zeros(1, 2, dtype=torch.float64)]),
            "response_mask": torch.cat([data.batch["response_mask"], torch.zeros(1, 2, dtype=torch.float64)]),
        },
        non_tensors={"uid": np.array(["g", "g", "pad0"], dtype=object)},
    )
    pad_logp = {k: torch.cat([v, torch.zeros(1, 2, dtype=torch.float64)]) for k, v in logp.items()}
    fed = FedViews(logp=pad_logp)
    with feeding_views(fed):
        padded_out = verl_compute_advantage(pad_data, "pgpo", {}).batch["advantages"]
    torch.testing.assert_close(padded_out[:2], alone)
    assert torch.all(padded_out[2] == 0) and fed.results[2] is None


def test_settings_come_from_algorithm_prpo_studio_with_the_studio_key_names():
    from prpo_studio.algorithms.config import ConfigError
    from prpo_studio.verl.estimators import studio_config

    cfg = studio_config("prpo", OmegaConf.create({"norm_adv_by_std_in_grpo": False, "prpo_studio": {"tau": 0.3, "rvd": "gate"}}))
    assert (cfg.tau, cfg.rvd, cfg.normalize_by_std) == (0.3, "gate", False)
    with pytest.raises(ConfigError, match="config.taux: unknown key"):
        studio_config("prpo", {"prpo_studio": {"taux": 1}})
