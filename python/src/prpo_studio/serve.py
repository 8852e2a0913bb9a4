"""`python -m prpo_studio serve`: the backend protocol of src/core/protocol/backend.ts over stdin/stdout with
`Content-Length` framing (jsonrpc.py), one run per process, as src/backend/server.ts:

requests   run/start, run/resumeFrom, run/pause, run/resume, run/checkpoint, run/stop, run/status
notices    run/state, run/metrics, run/rollouts (full records), run/checkpointSaved, run/log, run/error

StartParams here: the protocol's fields plus `model` (folder or Hub id in the local cache), `data` (dataset
folder), `device` ('auto'|'cuda'|'cpu'; default from `ep`, else auto) and `dtype` ('bf16'|'fp32'|'auto');
LoRA and every other setting go in `config` (loraRank, loraAlpha, loraTargetModules, fullFinetune, …).
Pause, checkpoint and stop take effect at the next safe point (between steps). SIGTERM, SIGINT or the client
closing stdin stop the run with a checkpoint; a failure marks the run failed (resumable from its last
checkpoint) and is reported before the process exits. stdout carries only protocol messages; logs go to
stderr."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from typing import Any, Callable

from .jsonrpc import FramingError, MessageWriter, read_message

ERR_BUSY, ERR_NO_RUN, ERR_FAILED = 1, 2, 3
ERR_INVALID_PARAMS, ERR_METHOD = -32602, -32601

INSTALL_HINT = "{python} -m pip install torch torchvision transformers peft safetensors pillow numpy"


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def log(message: str) -> None:
    print(f"[prpo_studio serve] {message}", file=sys.stderr, flush=True)


def _device(p: dict) -> str:
    """`device` when given, else the protocol's `ep` ('cuda' or 'cpu'; 'webgpu' means nothing here), else auto."""
    return p.get("device") or {"cuda": "cuda", "cpu": "cpu"}.get(p.get("ep", ""), "auto")


class Server:
    def __init__(self, out: MessageWriter, exit_fn: Callable[[int], None]) -> None:
        self.out = out
        self.exit_fn = exit_fn
        self.trainer: Any = None
        self.thread: threading.Thread | None = None
        self.exiting = False
        self.lock = threading.Lock()

    # ---- notifications -----------------------------------------------------------------------------------
    def hooks(self):
        from .trainer.core import Hooks

        rid = lambda: self.trainer.writer.manifest["id"] if self.trainer else ""  # noqa: E731
        return Hooks(
            on_state=lambda s: self.out.notify("run/state", s),
            on_metrics=lambda row: self.out.notify("run/metrics", {"runId": rid(), "row": row}),
            on_rollouts=lambda step, rs: self.out.notify("run/rollouts", {"runId": rid(), "step": step, "rollouts": rs, "sentAt": time.time() * 1000}),
            on_checkpoint=lambda info: self.out.notify("run/checkpointSaved", info),
            on_log=lambda level, message: self.out.notify("run/log", {"level": level, "message": message}),
        )

    # ---- requests ----------------------------------------------------------------------------------------
    def _import_trainer(self):
        try:
            from .trainer import core
        except ImportError as e:
            missing = getattr(e, "name", None) or str(e)
            raise RpcError(ERR_FAILED, f"The PyTorch backend needs {missing}, which is not installed for {sys.executable}. "
                                       f"Install it with: {INSTALL_HINT.format(python=sys.executable)}") from None
        return core

    def _begin(self, make: Callable[[Any], Any]) -> dict:
        with self.lock:
            if self.trainer is not None:
                raise RpcError(ERR_BUSY, f"This backend already runs {self.trainer.writer.manifest['id']}; start another backend for another run.")
            core = self._import_trainer()
            from .algorithms.config import ConfigError
            from .data import DataError
            from .models import ModelError
            from .run import CheckpointError, RunFormatError

            try:
                trainer = make(core)
            except (ConfigError, DataError, ModelError, CheckpointError, RunFormatError, core.TrainerError, FileExistsError, ValueError) as e:
                raise RpcError(ERR_FAILED, str(e)) from None
            self.trainer = trainer
            self.thread = threading.Thread(target=self._train, name="trainer", daemon=True)
            self.thread.start()
            return trainer.status()

    def _train(self) -> None:
        t = self.trainer
        try:
            t.run()
            self.out.notify("run/state", t.status())
        except BaseException as e:  # noqa: BLE001 — reported, then the process ends (the run is marked failed)
            log(traceback.format_exc())
            self.out.notify("run/error", {"message": f"Training failed at step {t.step + 1}: {e}", "fatal": True})
            self._exit_soon(1)

    def start(self, p: dict) -> dict:
        for k in ("runsDir", "preset", "steps", "model", "data"):
            if k not in p:
                raise RpcError(ERR_INVALID_PARAMS, f"run/start: params.{k} is missing (the PyTorch backend needs runsDir, preset, steps, model and data)")
        device = _device(p)
        return self._begin(lambda core: core.Trainer.start(
            model=p["model"], data=p["data"], runs_dir=p["runsDir"], preset=p["preset"], steps=int(p["steps"]), seed=int(p.get("seed", 0)),
            name=p.get("name"), config=p.get("config") or {}, checkpoint_every=p.get("checkpointEvery"), device=device,
            dtype=p.get("dtype") or "auto", hooks=self.hooks()))

    def resume_from(self, p: dict) -> dict:
        for k in ("runDir", "steps"):
            if k not in p:
                raise RpcError(ERR_INVALID_PARAMS, f"run/resumeFrom: params.{k} is missing")
        device = _device(p)
        return self._begin(lambda core: core.Trainer.resume(run_dir=p["runDir"], steps=int(p["steps"]), checkpoint=p.get("checkpoint"),
                                                            device=device, dtype=p.get("dtype"), hooks=self.hooks()))

    def current(self):
        if self.trainer is None:
            raise RpcError(ERR_NO_RUN, "No run has been started in this backend (send run/start or run/resumeFrom first).")
        return self.trainer

    def pause(self, _p: Any) -> dict:
        t = self.current()
        t.request_pause()
        return t.wait_paused()

    def resume(self, _p: Any) -> dict:
        return self.current().resume_run()

    def checkpoint(self, _p: Any) -> dict:
        try:
            return self.current().request_checkpoint()
        except RpcError:
            raise
        except Exception as e:  # noqa: BLE001
            raise RpcError(ERR_FAILED, f"Checkpoint failed: {e}") from None

    def stop(self, _p: Any) -> dict:
        status = self._stop_run()
        self._exit_soon(0)
        return status

    def status(self, _p: Any) -> dict:
        return self.trainer.status() if self.trainer else {"state": "idle", "step": 0}

    def _stop_run(self) -> dict:
        t = self.trainer
        if t is None:
            return {"state": "idle", "step": 0}
        if t.state == "idle":  # never ran: still leave a checkpoint and a stopped event
            t._write_checkpoint()
            t.writer.append_event({"type": "stopped", "step": t.step})
            t._set_state("stopped")
            return t.status()
        t.request_stop()
        if self.thread is not None:
            self.thread.join()
        return t.status()

    def shutdown(self, reason: str) -> None:
        if self.exiting:
            return
        if self.trainer is not None and self.trainer.state in ("running", "paused", "idle"):
            self.out.notify("run/log", {"level": "info", "message": f"{reason}: stopping the run with a checkpoint"})
            try:
                self._stop_run()
            except Exception:  # noqa: BLE001
                log(traceback.format_exc())
        self._exit_soon(0)

    def _exit_soon(self, code: int) -> None:
        if self.exiting:
            return
        self.exiting = True
        threading.Timer(0.1, lambda: self.exit_fn(code)).start()

    METHODS = {"run/start": "start", "run/resumeFrom": "resume_from", "run/pause": "pause", "run/resume": "resume",
               "run/checkpoint": "checkpoint", "run/stop": "stop", "run/status": "status"}

    def handle(self, msg: dict) -> None:
        method, id_ = msg.get("method"), msg.get("id")
        if method is None:
            return  # a response to nothing we sent
        name = self.METHODS.get(method)
        if name is None:
            if id_ is not None:
                self.out.error(id_, ERR_METHOD, f"Unknown method {method}")
            return
        params = msg.get("params")

        def work() -> None:
            try:
                result = getattr(self, name)(params if isinstance(params, dict) else {})
                if id_ is not None:
                    self.out.respond(id_, result)
            except RpcError as e:
                if id_ is not None:
                    self.out.error(id_, e.code, str(e))
            except Exception as e:  # noqa: BLE001
                log(traceback.format_exc())
                if id_ is not None:
                    self.out.error(id_, ERR_FAILED, str(e))

        # Requests that wait for a safe point run on their own thread, so status requests still get answers.
        if name in ("pause", "checkpoint", "stop"):
            threading.Thread(target=work, daemon=True).start()
        else:
            work()


def main(argv: list[str] | None = None) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    # Anything printed by libraries must not corrupt the protocol stream: stdout now points at stderr.
    sys.stdout = sys.stderr
    out = MessageWriter(stdout)

    def hard_exit(code: int) -> None:
        try:
            stdout.flush()
        finally:
            os._exit(code)

    server = Server(out, hard_exit)

    def on_signal(signum, _frame) -> None:
        threading.Thread(target=server.shutdown, args=(signal.Signals(signum).name,), daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while True:
        try:
            msg = read_message(stdin)
        except FramingError as e:
            out.send({"id": None, "error": {"code": -32700, "message": f"Parse error: {e}"}})
            continue
        if msg is None:
            break
        server.handle(msg)
    # The client went away: stop the run with a checkpoint, as the built-in backend does.
    server.shutdown("the client closed the connection")
    threading.Event().wait(3600)  # shutdown's timer ends the process
    return 0
