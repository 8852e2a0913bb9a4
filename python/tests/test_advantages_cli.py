"""`python -m prpo_studio advantages` beyond the shared vectors: the real process, the exact output text of a
batch whose numbers are exact, --pretty, --help, and the what-if path over a run's logged rollouts."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from prpo_studio.advantages_cli import main
from prpo_studio.algorithms.jsfmt import js_json, js_number

SRC = Path(__file__).resolve().parents[1] / "src"


def run_cli(args: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


DR_GRPO = {"algorithm": "dapo", "config": {"normalizeByStd": False}, "rollouts": [
    {"id": "a", "group": "g", "reward": 1, "logp": {"image": [-1, -2]}},
    {"id": "b", "group": "g", "reward": 0, "logp": {"image": [-1]}},
]}


def test_the_output_text_is_the_typescript_clis():
    code, stdout, stderr = run_cli([], json.dumps(DR_GRPO))
    assert (code, stderr) == (0, "")
    assert stdout == (
        '{"algorithm":"dapo","config":{"preset":"dapo","estimator":"dapo","normalizeByStd":false,"kl":"k3","topK":0.4,'
        '"betaMin":0.9,"tau":0.4,"beta":1,"rvd":"soft","lambda":1,"groundingFloor":0.01,"instabilityFloor":0.05,'
        '"quantile":0.8,"kappa":1,"masks":4,"massConserving":false,"threshold":null,"clipLow":0.2,"clipHigh":0.28,'
        '"dualClip":3,"sampledNllCoef":0,"entropyBonus":0,"klCoef":0,"dynamicSampling":true,"maxResampleTries":3,"accuracyLow":0.01,'
        '"accuracyHigh":0.99},"rollouts":[{"id":"a","advantage":0.5,"tokenAdvantages":[0.5,0.5]},'
        '{"id":"b","advantage":-0.5,"tokenAdvantages":[-0.5]}]}\n'
    )
    code, pretty, _ = run_cli(["--pretty"], json.dumps(DR_GRPO))
    assert code == 0 and pretty.startswith('{\n  "algorithm": "dapo",\n  "config": {\n    "preset": "dapo",')
    assert '"tokenAdvantages": [\n        0.5,\n        0.5\n      ]' in pretty
    assert json.loads(pretty) == json.loads(stdout)


def test_javascript_number_and_json_formatting():
    cases = {1.0: "1", 0.1: "0.1", 1e-7: "1e-7", 1e-6: "0.000001", 1e21: "1e+21", 1e20: "100000000000000000000",
             -0.0: "0", 123.456: "123.456", 2.5e-300: "2.5e-300", 7.000000000000001: "7.000000000000001"}
    for x, text in cases.items():
        assert js_number(x) == text, x
    assert js_json({"b": [1.0, float("nan")], "2": True, "1": None}) == '{"1":null,"2":true,"b":[1,null]}'


def test_help_and_options():
    code, stdout, _ = run_cli(["--help"])
    assert code == 0 and "--rollouts FILE" in stdout and "groundingFloor, instabilityFloor" in stdout
    code, stdout, _ = run_cli(["--algorithm=grpo", "--set", "normalizeByStd=false"], json.dumps(DR_GRPO))
    out = json.loads(stdout)
    assert out["algorithm"] == "grpo" and out["config"]["normalizeByStd"] is False and out["config"]["clipHigh"] == 0.2


def test_the_real_process_exit_codes():
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-m", "prpo_studio", "advantages"]
    # Both at once: each start imports torch, which takes a while on a busy machine.
    ok = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    bad = subprocess.Popen([*command, "--set", "tau=2"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    ok_out, ok_err = ok.communicate(json.dumps(DR_GRPO), timeout=180)
    bad_out, bad_err = bad.communicate(json.dumps(DR_GRPO), timeout=180)
    assert ok.returncode == 0, ok_err
    assert json.loads(ok_out)["rollouts"][1]["tokenAdvantages"] == [-0.5]
    assert bad.returncode == 2 and bad_out == ""
    assert bad_err == "prpo-studio advantages: config.tau: expected a number in [0, 1), got 2\n"


def write_run(tmp_path: Path, lines: list[str]) -> Path:
    run = tmp_path / "run-1"
    (run / "rollouts").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"algorithm": "pgpo", "config": {"tau": 0.3, "lr": 1e-4, "estimator": "pgpo"}}), encoding="utf-8")
    step = run / "rollouts" / "step-000001.jsonl"
    step.write_text("".join(lines), encoding="utf-8")
    return step


def record(rid: str, reward: float) -> str:
    return json.dumps({"id": rid, "group": "g", "reward": reward, "logp": {"image": [-1, -2, -3], "blind": [-1, -4, -3]},
                       "advantage": 0.1, "tokenAdvantages": [0.1, 0.1, 0.1], "tokens": ["a", "b", "c"]}) + "\n"


def test_what_if_over_logged_rollouts(tmp_path: Path):
    step = write_run(tmp_path, [record("a", 1), record("b", 0), '{"id": "c", "gro'])  # a torn last line is skipped
    code, stdout, stderr = run_cli(["--rollouts", str(step), "--set", "beta=3"])
    assert code == 0, stderr
    out = json.loads(stdout)
    assert out["algorithm"] == "pgpo" and out["config"]["tau"] == 0.3 and out["config"]["beta"] == 3
    assert [r["id"] for r in out["rollouts"]] == ["a", "b"]
    assert out["rollouts"][0]["logged"] == {"advantage": 0.1, "tokenAdvantages": [0.1, 0.1, 0.1]}
    assert list(out["rollouts"][0]) == ["id", "advantage", "tokenAdvantages", "scores", "weights", "logged"]
    # another algorithm drops the run's estimator and reads the views it needs
    code, stdout, stderr = run_cli(["--rollouts", str(step), "--algorithm", "grpo"])
    assert code == 0, stderr
    assert json.loads(stdout)["config"]["estimator"] == "grpo"


def test_what_if_bad_line_and_missing_file(tmp_path: Path):
    step = write_run(tmp_path, [record("a", 1), "{oops}\n", record("b", 0)])
    code, _, stderr = run_cli(["--rollouts", str(step)])
    assert code == 2 and stderr.startswith(f"prpo-studio advantages: {step}:2: not valid JSON (")
    code, _, stderr = run_cli(["--rollouts", str(tmp_path / "nope.jsonl")])
    assert code == 2 and stderr == f"prpo-studio advantages: --rollouts {tmp_path / 'nope.jsonl'}: no such file\n"


@pytest.mark.parametrize("argv", [["--input", "a", "--rollouts", "b"], ["--set", "x"], ["--bogus"]])
def test_usage_errors_are_one_line(argv: list[str]):
    code, stdout, stderr = run_cli(argv, "{}")
    assert code == 2 and stdout == "" and stderr.count("\n") == 1


def test_input_bytes_are_decoded_as_node_decodes_them():
    """Invalid UTF-8 becomes U+FFFD (Node's readFileSync(…, 'utf8') and stdin), not a traceback."""
    raw = b'{"algorithm": "grpo", "rollouts": [{"id": "\xff", "group": "g", "reward": 1, "logp": {"image": [-1]}}]}'
    out, err = io.StringIO(), io.StringIO()
    code = main([], stdin=io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"), stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    assert json.loads(out.getvalue())["rollouts"][0]["id"] == "\ufffd"
