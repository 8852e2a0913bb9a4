"""Resume determinism on CPU fp32: train 2 steps + resume to 4 reproduces a straight 4-step run."""

from __future__ import annotations

import json
from pathlib import Path

from prpo_studio.trainer.core import TIME_METRICS, Trainer
from vlm_helpers import FAST, metrics, rollouts, shapes_data, tiny_models  # noqa: F401 — fixtures


def _strip(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIME_METRICS} for r in rows]


def test_train_two_then_resume_to_four_equals_a_straight_run(tiny_models: dict, shapes_data: str, tmp_path: Path) -> None:  # noqa: F811
    kw = dict(model=tiny_models["qwen2-vl"], data=shapes_data, preset="prpo", seed=3, config=FAST, device="cpu", dtype="fp32")
    straight = Trainer.start(runs_dir=str(tmp_path / "a"), steps=4, **kw)
    straight.run()
    part = Trainer.start(runs_dir=str(tmp_path / "b"), steps=2, **kw)
    part.run()
    resumed = Trainer.resume(run_dir=str(part.writer.dir), steps=4, device="cpu")
    assert resumed.step == 2
    resumed.run()
    a, b = _strip(metrics(straight.writer.dir)), _strip(metrics(part.writer.dir))
    assert [r["step"] for r in b] == [1, 2, 3, 4]
    assert a == b  # exactly: every loss term, reward and dependency statistic
    for step in (3, 4):
        ra, rb = rollouts(straight.writer.dir, step), rollouts(part.writer.dir, step)
        assert [r["tokenIds"] for r in ra] == [r["tokenIds"] for r in rb]
        assert [r["tokenAdvantages"] for r in ra] == [r["tokenAdvantages"] for r in rb]
    # Resumed from an earlier checkpoint to a lower target, the run's target follows (3/3 when done, not 3/4).
    lower = Trainer.resume(run_dir=str(part.writer.dir), steps=3, checkpoint="checkpoints/step-000002", device="cpu")
    lower.run()
    manifest = json.loads((part.writer.dir / "run.json").read_text())
    assert manifest["steps"] == 3
