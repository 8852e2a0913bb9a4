"""The Python run-directory writer: the records and the byte-level rules of docs/run-format.md."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from prpo_studio.run import (
    CheckpointError,
    RunFormatError,
    RunWriter,
    clean_checkpoint_leftovers,
    derive_status,
    latest_checkpoint,
    list_checkpoints,
    mark_interrupted_as_failed,
    read_checkpoint,
    read_events,
)
from prpo_studio.run.example import write_example_run

MANIFEST = {
    "name": "t", "source": "prpo-studio", "algorithm": "grpo", "config": {}, "model": {"name": "m", "config": {}},
    "task": {"name": "shapes", "config": {}}, "seed": 1,
}


def test_run_id_rule_and_layout(tmp_path: Path) -> None:
    w = RunWriter.create(tmp_path, MANIFEST)
    assert re.fullmatch(r"grpo-\d{8}-\d{6}-[0-9a-f]{4}", w.dir.name)
    assert sorted(p.name for p in w.dir.iterdir()) == ["checkpoints", "images", "rollouts", "run.json", "writer.lock"]
    m = json.loads((w.dir / "run.json").read_text())
    assert m["schema"] == "prpo-studio/run@1" and m["id"] == w.dir.name and m["created"].endswith("Z")
    with pytest.raises(FileExistsError, match="already exists"):
        RunWriter.create(tmp_path, {**MANIFEST, "id": w.dir.name})
    assert not list(w.dir.glob("run.json.tmp-*"))


def test_bad_manifest_leaves_no_folder(tmp_path: Path) -> None:
    with pytest.raises(RunFormatError, match="algorithm must be one of"):
        RunWriter.create(tmp_path / "runs", {**MANIFEST, "algorithm": "ppo"})
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_nan_is_null_and_bad_records_fail_before_writing(tmp_path: Path) -> None:
    w = RunWriter.create(tmp_path, MANIFEST)
    w.append_metrics({"step": 1, "loss": math.nan, "reward": math.inf})
    assert (w.dir / "metrics.jsonl").read_text() == '{"step":1,"loss":null,"reward":null}\n'
    good = {"id": "a", "step": 2, "group": "g", "prompt": "p", "response": "a b", "reward": 1, "advantage": 0.5,
            "tokens": ["a", " b"], "logp": {"image": [-0.1, -math.inf]}, "tokenAdvantages": [0.5, 0.5]}
    bad = {**good, "id": "b", "tokenAdvantages": [0.5]}
    with pytest.raises(RunFormatError, match=r"rollout 1: tokenAdvantages has 1 entries, tokens has 2"):
        w.append_rollouts(2, [good, bad])
    assert not (w.dir / "rollouts" / "step-000002.jsonl").exists()
    w.append_rollouts(2, [good])
    line = (w.dir / "rollouts" / "step-000002.jsonl").read_text()
    assert '"image":[-0.1,null]' in line and line.endswith("\n")


def test_torn_last_line_is_ended_before_appending(tmp_path: Path) -> None:
    w = RunWriter.create(tmp_path, MANIFEST)
    (w.dir / "metrics.jsonl").write_text('{"step":1}\n{"step":2,"lo')
    RunWriter.open(w.dir).append_metrics({"step": 2})
    assert (w.dir / "metrics.jsonl").read_text().splitlines() == ['{"step":1}', '{"step":2,"lo', '{"step":2}']


def test_events_status_and_dead_writer(tmp_path: Path) -> None:
    w = RunWriter.create(tmp_path, MANIFEST)
    e = w.append_event({"type": "started", "step": 0})
    assert e["pid"] == os.getpid() and e["host"]
    assert derive_status(read_events(w.dir)) == "running"
    # A writer that died: a pid that no longer exists.
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    w.append_event({"type": "resumed", "step": 0, "pid": p.pid, "host": e["host"]})
    assert derive_status(read_events(w.dir)) == "interrupted"
    failed = mark_interrupted_as_failed(w.dir)
    assert failed and failed["type"] == "failed" and f"pid {p.pid}" in failed["reason"]
    assert derive_status(read_events(w.dir)) == "failed"
    assert mark_interrupted_as_failed(w.dir) is None


def test_checkpoint_atomic_manifest_and_errors(tmp_path: Path) -> None:
    w = RunWriter.create(tmp_path, MANIFEST)
    w.write_checkpoint(1, {"weights.safetensors": b"a" * 100, "trainer.json": b"{}"})
    p2 = w.write_checkpoint(2, {"weights.safetensors": b"b" * 100})
    w.write_checkpoint(2, {"weights.safetensors": b"c" * 100})  # a re-save of the same step replaces it
    assert read_checkpoint(p2)[1]["weights.safetensors"] == b"c" * 100
    assert [c.step for c in list_checkpoints(w.dir)] == [1, 2]
    assert latest_checkpoint(w.dir) == p2
    m = json.loads(Path(p2, "manifest.json").read_text())
    assert m["files"]["weights.safetensors"]["bytes"] == 100 and len(m["files"]["weights.safetensors"]["sha256"]) == 64
    Path(p2, "weights.safetensors").write_bytes(b"d" * 100)
    with pytest.raises(CheckpointError, match=r"checkpoint step-000002: weights.safetensors is corrupt .* pick an earlier checkpoint"):
        read_checkpoint(p2)
    Path(p2, "weights.safetensors").write_bytes(b"d" * 10)
    with pytest.raises(CheckpointError, match=r"weights.safetensors is truncated \(10 of 100 bytes\)"):
        read_checkpoint(p2)
    assert latest_checkpoint(w.dir).endswith("step-000001")  # the truncated one is not complete
    Path(p2, "manifest.json").unlink()
    with pytest.raises(CheckpointError, match="manifest.json is missing"):
        read_checkpoint(p2)


def test_leftovers_of_a_dead_writer_are_tidied(tmp_path: Path) -> None:
    w = RunWriter.create(tmp_path, MANIFEST)
    w.write_checkpoint(3, {"a": b"1"})
    root = w.dir / "checkpoints"
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    (root / f".tmp-step-000004-{p.pid}-abcdef").mkdir()
    os.rename(root / "step-000003", root / f".old-step-000003-{p.pid}-abcdef")
    (root / f".tmp-step-000005-{os.getppid()}-abcdef").mkdir()  # a live writer's: left alone
    done = clean_checkpoint_leftovers(w.dir)
    assert sorted(done) == [f"removed .tmp-step-000004-{p.pid}-abcdef", f"restored step-000003 from .old-step-000003-{p.pid}-abcdef"]
    assert sorted(x.name for x in root.iterdir()) == [f".tmp-step-000005-{os.getppid()}-abcdef", "step-000003"]


def test_example_run_reads_back(tmp_path: Path) -> None:
    run_dir = Path(write_example_run(str(tmp_path)))
    lines = (run_dir / "rollouts" / "step-000001.jsonl").read_text().splitlines()
    assert len(lines) == 2 and '"mild":[-0.1,-0.3,-0.25,-0.6,null]' in lines[0]
    assert (run_dir / "images" / "train-000000.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [e["type"] for e in read_events(run_dir)] == ["started", "checkpoint", "completed"]
    assert read_checkpoint(latest_checkpoint(run_dir))[0]["step"] == 1


def test_a_second_writer_on_a_live_run_is_refused_and_a_dead_ones_lock_taken_over(tmp_path: Path) -> None:
    from prpo_studio.run import RunBusyError

    w = RunWriter.create(tmp_path, MANIFEST)
    w.append_metrics({"step": 1, "reward": 0.5})
    w.release()
    # Another process holds the run (it opens it and waits).
    code = f"import sys, time; from prpo_studio.run import RunWriter; RunWriter.open({str(w.dir)!r}); print('open', flush=True); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert child.stdout.readline().strip() == "open"
        before = {p.name: p.read_bytes() for p in w.dir.iterdir() if p.is_file()}
        with pytest.raises(RunBusyError, match=rf"is being written by process {child.pid} on this machine; stop that run first"):
            RunWriter.open(w.dir)
        assert {p.name: p.read_bytes() for p in w.dir.iterdir() if p.is_file()} == before
    finally:
        child.kill()
        child.wait()
    again = RunWriter.open(w.dir)  # kill -9 left the lock behind: its process is gone, so it is taken over
    assert json.loads((w.dir / "writer.lock").read_text())["pid"] == os.getpid()
    again.append_event({"type": "completed", "step": 1})
    assert not (w.dir / "writer.lock").exists(), "a completed run lets go of it"
    (w.dir / "writer.lock").write_text(json.dumps({"pid": 4242, "host": "gpu-node-7"}))
    with pytest.raises(RunBusyError, match="process 4242 on gpu-node-7"):
        RunWriter.open(w.dir)
