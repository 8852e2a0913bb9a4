"""`python -m prpo_studio serve`: the backend protocol over stdio with Content-Length framing, spawned as the
extension spawns it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from prpo_studio.jsonrpc import encode_message, read_message
from prpo_studio.run import derive_status, latest_checkpoint, read_events
from prpo_studio.trainer.core import Trainer
from vlm_helpers import FAST, metrics, shapes_data, tiny_models  # noqa: F401 — fixtures

SRC = str(Path(__file__).resolve().parents[1] / "src")


class Client:
    def __init__(self, extra_path: str | None = None) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([p for p in (extra_path, SRC) if p])}
        self.proc = subprocess.Popen([sys.executable, "-m", "prpo_studio", "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.messages: queue.Queue = queue.Queue()
        self.notes: list[dict] = []
        self.next_id = 0
        self.stderr: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def _read(self) -> None:
        while True:
            msg = read_message(self.proc.stdout)
            if msg is None:
                self.messages.put(None)
                return
            self.messages.put(msg)

    def request(self, method: str, params: dict | None = None, timeout: float = 120) -> dict:
        self.next_id += 1
        rid = self.next_id
        self.proc.stdin.write(encode_message({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}))
        self.proc.stdin.flush()
        return self.wait(lambda m: m.get("id") == rid, timeout)

    def wait(self, pred, timeout: float = 120) -> dict:
        for m in self.notes:
            if "id" not in m and pred(m):
                self.notes.remove(m)
                return m
        end = time.time() + timeout
        while time.time() < end:
            try:
                m = self.messages.get(timeout=max(0.01, end - time.time()))
            except queue.Empty:
                break
            if m is None:
                raise AssertionError(f"serve ended; stderr: {b''.join(self.stderr).decode()[-3000:]}")
            if pred(m):
                return m
            if "id" not in m:
                self.notes.append(m)
        raise AssertionError(f"timed out; stderr: {b''.join(self.stderr).decode()[-3000:]}")

    def note(self, method: str, pred=lambda p: True, timeout: float = 120) -> dict:
        return self.wait(lambda m: m.get("method") == method and pred(m["params"]), timeout)["params"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def client():
    c = Client()
    yield c
    c.close()


def start_params(tiny_models: dict, shapes_data: str, runs: Path, **cfg) -> dict:
    return {"runsDir": str(runs), "preset": "prpo", "steps": 200, "seed": 0, "model": tiny_models["qwen2-vl"], "data": shapes_data,
            "device": "cpu", "config": {**FAST, **cfg}}


def test_protocol_round_trip(client: Client, tiny_models: dict, shapes_data: str, tmp_path: Path) -> None:  # noqa: F811
    assert client.request("run/status")["result"] == {"state": "idle", "step": 0}
    assert client.request("run/pause")["error"]["code"] == 2
    # Bad starts are JSON-RPC errors with the reason, and leave the backend ready for a good one.
    p = {"runsDir": str(tmp_path), "preset": "prpo", "steps": 1, "data": shapes_data, "device": "cpu"}
    err = client.request("run/start", {**p, "model": str(tmp_path / "missing")})["error"]
    assert err["code"] == 3 and "does not exist" in err["message"]
    err = client.request("run/start", {**p, "model": tiny_models["qwen2-vl"], "config": {"bogus": 1}})["error"]
    assert err["code"] == 3 and "config.bogus: unknown key" in err["message"]
    assert client.request("run/start", {k: v for k, v in p.items() if k != "data"})["error"]["code"] == -32602
    started = client.request("run/start", start_params(tiny_models, shapes_data, tmp_path))["result"]
    assert started["state"] == "running" and Path(started["runDir"]).parent == tmp_path
    run_dir = Path(started["runDir"])
    m = client.note("run/metrics")
    assert m["runId"] == started["runId"] and m["row"]["step"] == 1 and "reward" in m["row"]
    r = client.note("run/rollouts")
    assert r["step"] == 1 and len(r["rollouts"]) == 4 and {"G", "U", "rvd"} <= set(r["rollouts"][0]["scores"])
    paused = client.request("run/pause")["result"]
    assert paused["state"] == "paused"
    ck = client.request("run/checkpoint")["result"]
    assert ck["step"] == paused["step"] and Path(ck["path"]).is_dir()
    assert client.note("run/checkpointSaved")["path"] == ck["path"]
    assert client.request("run/status")["result"]["state"] == "paused"
    assert client.request("run/resume")["result"]["state"] == "running"
    client.note("run/metrics", lambda p: p["row"]["step"] > paused["step"])
    assert client.request("run/start", start_params(tiny_models, shapes_data, tmp_path))["error"]["code"] == 1
    stopped = client.request("run/stop")["result"]
    assert stopped["state"] == "stopped"
    assert client.proc.wait(30) == 0
    types = [e["type"] for e in read_events(run_dir)]
    assert types[:2] == ["started", "paused"] and "resumed" in types and types[-2:] == ["checkpoint", "stopped"]
    assert latest_checkpoint(run_dir).endswith(f"step-{stopped['step']:06d}")


def test_sigterm_checkpoints_and_stops(client: Client, tiny_models: dict, shapes_data: str, tmp_path: Path) -> None:  # noqa: F811
    run_dir = Path(client.request("run/start", start_params(tiny_models, shapes_data, tmp_path))["result"]["runDir"])
    client.note("run/metrics")
    client.proc.send_signal(signal.SIGTERM)
    assert client.proc.wait(60) == 0
    events = read_events(run_dir)
    assert events[-1]["type"] == "stopped" and events[-2]["type"] == "checkpoint"


def test_kill_9_leaves_the_run_failed_and_resumable(client: Client, tiny_models: dict, shapes_data: str, tmp_path: Path) -> None:  # noqa: F811
    run_dir = Path(client.request("run/start", start_params(tiny_models, shapes_data, tmp_path, checkpointEvery=1))["result"]["runDir"])
    client.note("run/checkpointSaved")
    os.kill(client.proc.pid, signal.SIGKILL)
    client.proc.wait()
    assert derive_status(read_events(run_dir)) == "interrupted"
    ckpt_step = int(Path(latest_checkpoint(run_dir)).name.split("-")[1])
    t = Trainer.resume(run_dir=str(run_dir), steps=ckpt_step + 1, device="cpu")
    failed = [e for e in read_events(run_dir) if e["type"] == "failed"]
    assert failed and f"pid {client.proc.pid}" in failed[0]["reason"]
    assert t.step == ckpt_step
    t.run()
    assert derive_status(read_events(run_dir)) == "completed" and metrics(run_dir)[-1]["step"] == ckpt_step + 1


def test_missing_torch_names_the_pip_command(tmp_path: Path) -> None:
    fake = tmp_path / "site"
    (fake / "torch").mkdir(parents=True)
    (fake / "torch" / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    c = Client(extra_path=str(fake))
    try:
        err = c.request("run/start", {"runsDir": str(tmp_path), "preset": "grpo", "steps": 1, "model": "m", "data": "d"})["error"]
        assert err["code"] == 3 and err["message"].startswith("The PyTorch backend needs torch, which is not installed for ")
        assert "-m pip install torch torchvision transformers peft" in err["message"]
    finally:
        c.close()
