"""The run-directory records the verl trainer writes (prpo_studio.verl.records): pure functions, no verl import."""

from __future__ import annotations

import math

import pytest
import torch

from prpo_studio.run import validate_metrics_row, validate_rollout
from prpo_studio.verl.records import metrics_row, rollout_record, run_id_for, select_groups


def test_whole_groups_are_recorded_up_to_the_limit_never_cut():
    keys = ["b_0_0", "a_1_0", "b_1_0", "a_0_0", "c_0_0", "c_1_0"]
    groups = [k.split("_")[0] for k in keys]
    pick = lambda limit: [keys[i] for i in select_groups(keys, groups, limit)]  # noqa: E731
    assert pick(2) == ["a_0_0", "a_1_0"]
    assert pick(3) == ["a_0_0", "a_1_0", "b_0_0", "b_1_0"]  # the second group is taken whole
    assert pick(-1) == sorted(keys)
    assert pick(0) == []


def test_metrics_keep_numbers_under_verls_names_and_add_the_run_formats():
    row = metrics_row(
        7,
        {"critic/score/mean": 0.25, "actor/pg_loss": torch.tensor(0.5), "timing_s/step": 1.5, "actor/lr": 1e-6,
         "response_length/clip_ratio": 0, "val/text": "x", "hist": [1, 2], "flag": True, "loss": math.nan},
    )
    assert row == {"step": 7, "critic/score/mean": 0.25, "reward": 0.25, "actor/pg_loss": 0.5, "pgLoss": 0.5,
                   "timing_s/step": 1.5, "timeStepMs": 1500.0, "actor/lr": 1e-6, "response_length/clip_ratio": 0,
                   "loss": row["loss"]}
    assert math.isnan(row["loss"])
    validate_metrics_row(row, "metrics.jsonl:1")


def test_a_rollout_record_places_valid_token_values_back_on_their_tokens():
    mask = torch.tensor([1, 1, 0, 1])  # a multi-turn response: token 2 came from a tool, not the policy
    rec = rollout_record(
        step=3, key="u1_0_0", group="u1", prompt="How many?", response_ids=[5, 6, 7, 8], response_mask=mask,
        reward=1.0, logp={"image": torch.tensor([-0.1, -0.2, -0.3, -0.4]), "perturbed": [torch.zeros(4), torch.ones(4)]},
        token_advantages=torch.tensor([0.5, 1.0, 0.0, 0.5]),
        result={"advantage": 0.5, "scores": {"S": torch.tensor([0.0, 2.0, 0.1])}, "mask": [0, 1, 1], "alpha": 1.1},
        decode_token=lambda t: f" t{t}", answer="3",
    )
    validate_rollout(rec, "rollouts/step-000003.jsonl:1")
    assert rec["response"] == " t5 t6 t7 t8" and rec["answer"] == "3" and rec["alpha"] == 1.1
    assert rec["scores"]["S"][:2] == [0.0, 2.0] and math.isnan(rec["scores"]["S"][2]) and rec["scores"]["S"][3] == pytest.approx(0.1)
    assert rec["logp"]["perturbed"] == [0.0] * 4  # the run format holds one perturbed row: the first mask
    with pytest.raises(ValueError, match="2 values for 3 valid response tokens"):
        rollout_record(step=3, key="k", group="g", prompt="", response_ids=[5, 6, 7, 8], response_mask=mask, reward=0.0,
                       logp={"image": torch.zeros(4)}, token_advantages=torch.zeros(4), result={"weights": [1.0, 1.0]},
                       decode_token=str)


def test_run_ids_are_stable_folder_names_from_the_experiment():
    assert run_id_for("qwen2.5 vl/3b PRPO-R") == "verl-qwen2.5-vl-3b-PRPO-R"
    assert run_id_for(8) == "verl-8" and run_id_for("///") == "verl-run"
