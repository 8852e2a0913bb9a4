"""The shared vectors (test/vectors/advantages.json, written by `npm run vectors` from the TypeScript CLI) through
`python -m prpo_studio advantages`: every case's output to 1e-6 with the same fields in the same order, and every
bad input's exit code 2 with the TypeScript message, word for word."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pytest

from prpo_studio.advantages_cli import main

VECTORS_DIR = Path(__file__).resolve().parents[2] / "test" / "vectors"
VECTORS = json.loads((VECTORS_DIR / "advantages.json").read_text(encoding="utf-8"))
MARK = "{vectors}"  # stands for the absolute path of test/vectors in arguments and messages


def with_vectors_dir(args: list[str]) -> list[str]:
    return [a.replace(MARK, str(VECTORS_DIR)) for a in args]


def run_cli(args: list[str], stdin: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def assert_close(got: Any, want: Any, tol: float, path: str) -> None:
    """Same keys in the same order, same strings and booleans, numbers within tol (relative above 1)."""
    if isinstance(want, bool) or want is None or isinstance(want, str):
        assert got == want and type(got) is type(want), f"{path}: {got!r} vs {want!r}"
    elif isinstance(want, (int, float)):
        assert isinstance(got, (int, float)) and not isinstance(got, bool), f"{path}: expected a number, got {got!r}"
        assert abs(got - want) <= tol * max(1.0, abs(want)), f"{path}: {got!r} vs {want!r}"
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: {got!r} vs {want!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, tol, f"{path}[{i}]")
    else:
        assert isinstance(got, dict), f"{path}: expected an object"
        assert list(got) == list(want), f"{path}: keys {list(got)} vs {list(want)}"
        for k, w in want.items():
            assert_close(got[k], w, tol, f"{path}.{k}")


def test_the_vectors_are_big_enough():
    assert VECTORS["rollouts"] >= 200
    assert len(VECTORS["errors"]) >= 30
    assert VECTORS["tolerance"] == 1e-6


def test_the_vectors_cover_the_controls():
    """oracle and random (the study's controls) are in the contract: cases with labels, and their bad inputs."""
    for estimator in ("oracle", "random"):
        cases = [c for c in VECTORS["cases"] if c["output"]["config"]["estimator"] == estimator]
        assert len(cases) >= 3, estimator
        assert sum(len(c["input"]["rollouts"]) for c in cases) >= 40, estimator
        assert all("labels" in r for c in cases for r in c["input"]["rollouts"]), estimator
    names = {e["name"] for e in VECTORS["errors"]}
    assert {"oracle without labels", "random without labels", "labels of the wrong length"} <= names


def test_the_random_control_draws_typescripts_sets():
    """The seeded draw is TypeScript's bit for bit: src/core/random.ts's mulberry32 and hashString (FNV-1a over
    UTF-16 code units), checked against values the TypeScript functions give."""
    from prpo_studio.algorithms import hash_string, mulberry32, random_set_like

    assert hash_string("random|g|b") == 4113692249
    assert hash_string("é😀x") == 647924891
    u = mulberry32(4113692249)
    assert [u() for _ in range(3)] == [0.44282121188007295, 0.050592297688126564, 0.6343645427841693]
    assert random_set_like([1, 0, 1], hash_string("random|g|a")).tolist() == [1.0, 1.0, 0.0]


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_case(case: dict[str, Any]) -> None:
    code, stdout, stderr = run_cli(with_vectors_dir(case["args"]), "" if case["input"] is None else json.dumps(case["input"]))
    assert code == 0, stderr
    assert stderr == ""
    assert_close(json.loads(stdout), case["output"], VECTORS["tolerance"], case["name"])


@pytest.mark.parametrize("error", VECTORS["errors"], ids=[e["name"] for e in VECTORS["errors"]])
def test_bad_input(error: dict[str, Any]) -> None:
    code, stdout, stderr = run_cli(with_vectors_dir(error["args"]), error["stdin"])
    assert code == 2, stderr
    assert stdout == ""
    assert stderr.startswith("prpo-studio advantages: ") and stderr.endswith("\n") and stderr.count("\n") == 1, repr(stderr)
    message = stderr[len("prpo-studio advantages: "):].rstrip("\n").replace(str(VECTORS_DIR), MARK)
    if error["match"] == "exact":
        assert message == error["message"]
    else:
        assert message.startswith(error["message"]), message


def test_numbers_are_written_as_javascript_writes_them():
    """Beyond agreeing to 1e-6, the text looks the same: no `1.0`, no `1e-07`."""
    case = next(c for c in VECTORS["cases"] if c["name"].startswith("grpo {\"normalizeByStd\":false}"))
    code, stdout, _ = run_cli(case["args"], json.dumps(case["input"]))
    assert code == 0
    assert ".0," not in stdout and ".0]" not in stdout and "e-0" not in stdout
    assert not any(isinstance(x, float) and math.isnan(x) for x in json.loads(stdout)["rollouts"][0]["tokenAdvantages"])
