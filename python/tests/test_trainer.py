"""The PyTorch trainer on tiny random models of two families: every preset, the records, the errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prpo_studio.run import derive_status, read_checkpoint, read_events, latest_checkpoint, validate_rollout
from prpo_studio.trainer.cli import resume_main, train_main
from prpo_studio.trainer import records as trainer_records
from prpo_studio.trainer.core import Hooks, Trainer
from vlm_helpers import FAST, metrics, rollouts, shapes_data, tiny_models  # noqa: F401 — fixtures

VIEWS = {"grpo": set(), "dapo": set(), "vppo": {"perturbed"}, "pgpo": {"blind"}, "prpo": {"blind", "mild"}}
SCORES = {"grpo": set(), "dapo": set(), "vppo": {"S"}, "pgpo": {"S"}, "prpo": {"G", "U", "rvd"}}


@pytest.mark.parametrize("preset,family", [("grpo", "qwen2-vl"), ("dapo", "smolvlm"), ("vppo", "qwen2-vl"), ("pgpo", "smolvlm"),
                                           ("prpo", "qwen2-vl"), ("prpo", "qwen2.5-vl"), ("vppo", "qwen2.5-vl"),
                                           ("prpo", "smolvlm")])
def test_three_steps_of_every_preset(preset: str, family: str, tiny_models: dict, shapes_data: str, tmp_path: Path) -> None:  # noqa: F811
    t = Trainer.start(model=tiny_models[family], data=shapes_data, runs_dir=str(tmp_path), preset=preset, steps=3, seed=1,
                      config=FAST, device="cpu")
    assert t.run() == "completed"
    run = t.writer.dir
    rows = metrics(run)
    assert [r["step"] for r in rows] == [1, 2, 3]
    for r in rows:
        for k in ("reward", "accuracy", "loss", "pgLoss", "entropyLoss", "entropy", "approxKl", "gradNorm", "clipFraction",
                  "timeSampleMs", "timeProbeMs", "timeUpdateMs", "timeStepMs"):
            assert k in r, f"{preset}: metrics lack {k}"
        if preset != "grpo" and preset != "dapo":
            assert "dependencySparsity" in r
    for step in (1, 2, 3):
        for rec in rollouts(run, step):
            validate_rollout(rec, "test")
            assert "".join(rec["tokens"]) == rec["response"] and len(rec["tokenIds"]) == len(rec["tokens"]) >= 1
            assert set(rec["logp"]) == {"image"} | VIEWS[preset]
            assert set(rec.get("scores", {})) == SCORES[preset]
            assert all(x <= 0 for x in rec["logp"]["image"])
            assert (run / rec["image"]).is_file()
            assert len(rec["perceptual"]) == len(rec["tokens"])
            if preset == "vppo":
                assert set(rec["mask"]) <= {0, 1} and "alpha" in rec
            if preset in ("pgpo", "prpo"):
                assert len(rec["weights"]) == len(rec["tokens"])
    assert [e["type"] for e in read_events(run)] == ["started", "checkpoint", "completed"]
    manifest, files = read_checkpoint(latest_checkpoint(run))
    assert manifest["step"] == 3 and set(files) == {"weights.safetensors", "optimizer.safetensors", "rng.safetensors", "trainer.json"}
    assert json.loads(files["trainer.json"])["cursor"] >= 6


@pytest.mark.parametrize("estimator", ["oracle", "random"])
def test_the_controls_train_on_the_ground_truth_flags(estimator: str, tiny_models: dict, shapes_data: str, tmp_path: Path,  # noqa: F811
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The study's controls in the PyTorch trainer: no probe view; oracle boosts exactly the tokens the ground truth
    flags (w = 1 + β), random as many. A tiny random model seldom writes a perceptual word, so every other token is
    flagged here: what is checked is that the flags the records show are the ones the estimator read."""
    monkeypatch.setattr(trainer_records, "perceptual_flags", lambda example, tokens: [i % 2 for i in range(len(tokens))])
    t = Trainer.start(model=tiny_models["qwen2-vl"], data=shapes_data, runs_dir=str(tmp_path), preset="prpo", steps=1, seed=1,
                      config={**FAST, "estimator": estimator}, device="cpu")
    assert t.run() == "completed"
    recs = rollouts(t.writer.dir, 1)
    assert recs and any(sum(r["perceptual"]) > 0 for r in recs)
    for rec in recs:
        assert set(rec["logp"]) == {"image"}
        boosted = [1 if w > 1 else 0 for w in rec["weights"]]
        assert rec["scores"]["rvd"] == [float(x) for x in boosted]
        if estimator == "oracle":
            assert boosted == rec["perceptual"]
        else:
            assert sum(boosted) == sum(rec["perceptual"])


def test_old_logp_matches_the_update_pass(tiny_models: dict, shapes_data: str, tmp_path: Path) -> None:  # noqa: F811
    """On the first optimizer step the ratio is exactly 1: approxKl and clipFraction are 0."""
    t = Trainer.start(model=tiny_models["qwen2-vl"], data=shapes_data, runs_dir=str(tmp_path), preset="grpo", steps=1, config=FAST, device="cpu")
    t.run()
    row = metrics(t.writer.dir)[0]
    assert row["approxKl"] == 0 and row["clipFraction"] == 0


def test_kl_reference_is_the_base_model(tiny_models: dict, shapes_data: str, tmp_path: Path) -> None:  # noqa: F811
    t = Trainer.start(model=tiny_models["qwen2-vl"], data=shapes_data, runs_dir=str(tmp_path), preset="grpo", steps=2,
                      config={**FAST, "klCoef": 0.1, "lr": 0.05}, device="cpu")
    t.run()
    rows = metrics(t.writer.dir)
    assert rows[0]["klLoss"] == 0  # LoRA B starts at 0: the adapted model is the base model
    assert rows[1]["klLoss"] > 0 and rows[0]["gradNorm"] > 0


def test_full_finetune_and_black_blind(tiny_models: dict, shapes_data: str, tmp_path: Path) -> None:  # noqa: F811
    t = Trainer.start(model=tiny_models["smolvlm"], data=shapes_data, runs_dir=str(tmp_path), preset="pgpo", steps=1,
                      config={**FAST, "fullFinetune": True, "blind": "black"}, device="cpu")
    t.run()
    assert t.policy.describe()["trainableParameters"] == t.policy.describe()["parameters"]
    assert "blind" in rollouts(t.writer.dir, 1)[0]["logp"]


def test_cli_prints_the_run_dir(tiny_models: dict, shapes_data: str, tmp_path: Path, capsys) -> None:  # noqa: F811
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({k: v for k, v in FAST.items() if k != "reward"}))  # the default exact-match reward
    code = train_main(["--model", tiny_models["qwen2-vl"], "--data", shapes_data, "--preset", "dapo", "--steps", "1",
                       "--runs-dir", str(tmp_path / "runs"), "--device", "cpu", "--lora-rank", "4", "--config", str(cfg)])
    assert code == 0
    run_dir = Path(capsys.readouterr().out.strip())
    assert run_dir.parent == tmp_path / "runs" and derive_status(read_events(run_dir)) == "completed"
    assert json.loads((run_dir / "run.json").read_text())["config"]["loraRank"] == 4
    # resume continues it; a corrupt checkpoint is refused with the file named, and nothing is trained.
    assert resume_main([str(run_dir), "--steps", "2", "--device", "cpu"]) == 0
    assert capsys.readouterr().out.strip() == str(run_dir)
    assert [e["type"] for e in read_events(run_dir)][-3:] == ["resumed", "checkpoint", "completed"]
    weights = Path(latest_checkpoint(run_dir)) / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"x")
    assert resume_main([str(run_dir), "--steps", "3", "--device", "cpu"]) == 2
    assert "checkpoint step-000002: weights.safetensors is corrupt (its sha256 does not match the manifest)" in capsys.readouterr().err
    assert not (run_dir / "writer.lock").exists(), "the failed resume let go of the run"


def test_errors_are_actionable(tiny_models: dict, shapes_data: str, tmp_path: Path, capsys) -> None:  # noqa: F811
    args = ["--data", shapes_data, "--preset", "grpo", "--steps", "1", "--runs-dir", str(tmp_path), "--device", "cpu"]
    assert train_main(["--model", str(tmp_path / "nope"), *args]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert train_main(["--model", str(tmp_path / "empty"), *args]) == 2
    assert "has no config.json" in capsys.readouterr().err
    assert train_main(["--model", "someone/not-cached-vl", *args]) == 2
    err = capsys.readouterr().err
    assert "not in the local Hugging Face cache" in err and "download someone/not-cached-vl" in err
    cfg = tmp_path / "bad.json"
    cfg.write_text('{"groupSize": 0}')
    assert train_main(["--model", tiny_models["qwen2-vl"], *args, "--config", str(cfg)]) == 2
    assert "config.groupSize: expected an integer ≥ 1, got 0" in capsys.readouterr().err
    bad = tmp_path / "baddata"
    bad.mkdir()
    (bad / "data.jsonl").write_text('{"id": "a", "image": "x.png", "prompt": "p", "answer": "1"}\n')
    assert train_main(["--model", tiny_models["qwen2-vl"], "--data", str(bad), *args[2:]]) == 2
    assert "data.jsonl:1: image 'x.png' does not exist" in capsys.readouterr().err
    assert not any(p.name.startswith("grpo-") for p in tmp_path.iterdir()), "a failed start leaves no run directory"


def test_cuda_asked_without_gpu_falls_back_with_a_warning(tiny_models: dict, shapes_data: str, tmp_path: Path) -> None:  # noqa: F811
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    logs: list[tuple[str, str]] = []
    t = Trainer.start(model=tiny_models["qwen2-vl"], data=shapes_data, runs_dir=str(tmp_path), preset="grpo", steps=1, config=FAST,
                      device="cuda", hooks=Hooks(on_log=lambda lvl, m: logs.append((lvl, m))))
    assert t.policy.device.type == "cpu"
    assert any(lvl == "warn" and "no GPU" in m for lvl, m in logs)


def test_oom_message_names_the_setting_to_lower() -> None:
    from prpo_studio.trainer.config import resolve_run_config
    from prpo_studio.trainer.core import oom_message

    msg = oom_message("sampling", resolve_run_config("prpo", {"microBatchSize": 8}))
    assert "Lower config.microBatchSize (now 8)" in msg


def _sampler_that_draws(policy, token: int, calls: int):
    """Wraps the model's generate so that its first `calls` calls return `token` as the first new token of row 0:
    what a sampler that picks a zero-probability (suppressed) token does (torch.multinomial can, on CUDA)."""
    real = policy.model.generate
    seen = {"calls": 0}

    def generate(**kw):
        out = real(**kw)
        seen["calls"] += 1
        if seen["calls"] <= calls:
            out = out.clone()
            out[0, kw["input_ids"].shape[1]] = token
        return out

    policy.model.generate = generate
    return seen


def test_a_sampled_image_placeholder_is_drawn_again_not_scored(tiny_models: dict, shapes_data: str, tmp_path: Path) -> None:  # noqa: F811
    """PRPO-R on Qwen2-VL failed mid-run with transformers' "Image features and image tokens do not match,
    tokens: 17, features: 16" when a response held an <|image_pad|> the sampler drew despite suppress_tokens."""
    t = Trainer.start(model=tiny_models["qwen2-vl"], data=shapes_data, runs_dir=str(tmp_path), preset="prpo", steps=2,
                      config={**FAST, "promptsPerStep": 1, "dynamicSampling": False}, device="cpu")  # every group is scored
    image_pad = t.policy.config["image_token_id"]
    seen = _sampler_that_draws(t.policy, image_pad, calls=1)
    assert t.run() == "completed"
    assert seen["calls"] == 3  # 2 steps and 1 redraw of the spoiled row
    for step in (1, 2):
        for r in rollouts(t.writer.dir, step):
            assert not set(r["tokenIds"]) & set(t.policy.suppress_ids)


def test_a_sampler_that_keeps_drawing_placeholders_fails_clearly(tiny_models: dict, shapes_data: str) -> None:  # noqa: F811
    from PIL import Image

    from prpo_studio.models import ModelError, ModelSettings, Policy

    policy = Policy(tiny_models["qwen2-vl"], ModelSettings(device="cpu"))
    vision_start = policy.config["vision_start_token_id"]
    assert vision_start in policy.suppress_ids and policy.config["vision_end_token_id"] in policy.suppress_ids
    _sampler_that_draws(policy, vision_start, calls=100)
    with pytest.raises(ModelError, match="vision-boundary tokens .* suppressed"):
        policy.generate("how many cross ?", Image.new("RGB", (32, 32)), 2, 3, 1.0, 1.0)
    # Scoring such a response says what is wrong instead of transformers' token/feature count mismatch.
    enc = policy.encode(["how many cross ?"], [Image.new("RGB", (32, 32))])
    with pytest.raises(ModelError, match="never re-tokenized"):
        policy.score(enc, [[7, vision_start, 8]], 1.0)
