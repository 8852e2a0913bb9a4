"""Shared by the trainer, resume, serve and tiny-model tests: tiny random models of three families and a small
shapes dataset, made once per test session (import the fixtures into a test module to use them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FAMILIES = ("qwen2-vl", "qwen2.5-vl", "smolvlm")

# Small enough for 2 CPU cores: 2 prompts × 2 rollouts, 6 new tokens. A random model never answers right, so the
# exact-match reward would be 0 everywhere (no advantage, no update): the tests reward the parity of the
# response's length instead (a user's `module:function` reward, kept in the data folder).
FAST = {"promptsPerStep": 2, "groupSize": 2, "maxNewTokens": 6, "microBatchSize": 2, "lr": 1e-3, "checkpointEvery": 0,
        "maxResampleTries": 1, "reward": "parity_reward:score"}
PARITY_REWARD = "def score(response, answer, example):\n    return float(len(response) % 2)\n"


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    from prpo_studio.tiny_model import build

    root = tmp_path_factory.mktemp("tiny-models")
    return {f: build(f, str(root / f)) for f in FAMILIES}


@pytest.fixture(scope="session")
def shapes_data(tmp_path_factory) -> str:
    from prpo_studio.data import write_shapes_dataset

    folder = write_shapes_dataset(str(tmp_path_factory.mktemp("shapes") / "data"), n=6, size=32)
    (Path(folder) / "parity_reward.py").write_text(PARITY_REWARD)
    return folder


def metrics(run_dir: str | Path) -> list[dict]:
    """metrics.jsonl's rows, the last row of each step (what the TS reader keeps after a resume)."""
    rows: dict[int, dict] = {}
    for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        rows[r["step"]] = r
    return [rows[s] for s in sorted(rows)]


def rollouts(run_dir: str | Path, step: int) -> list[dict]:
    return [json.loads(x) for x in (Path(run_dir) / "rollouts" / f"step-{step:06d}.jsonl").read_text().splitlines()]
