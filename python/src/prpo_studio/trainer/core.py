"""The RLVR trainer for Hugging Face VLMs (issue #9 item 4), mirroring the built-in trainer
(src/backend/trainer/trainer.ts): per step, P prompts × G rollouts sampled with `generate`, the verifiable
reward, DAPO dynamic sampling where the preset says, the probe views the preset needs as batched
teacher-forced passes, the advantages of prpo_studio.algorithms, the §5 loss over micro-batches with
gradient accumulation, AdamW and gradient clipping; then rollouts, metrics and checkpoints in the run
directory (docs/run-format.md). This module owns the run: opening (start, resume), control, the loop and the
order of a step; the stages are step.py's, the records records.py's, the checkpoint contents checkpoint.py's.

Control happens between steps (the safe point): pause holds, a checkpoint request writes one, stop
checkpoints and ends the run. Reproducibility: the data order is a seeded permutation per epoch (the state is
the cursor), and every random draw of a step (sampling, views) comes from generators seeded by (seed, step,
try), so a resumed run repeats the straight run; the RNG states are still saved in each checkpoint."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from ..algorithms import filter_groups_for_dynamic_sampling
from ..data import Dataset, Example
from ..models import ModelError, ModelSettings, Policy
from ..run import RunWriter, derive_status, latest_checkpoint, mark_interrupted_as_failed, parse_step_name, read_events, step_name
from .checkpoint import load_checkpoint, write_checkpoint
from .config import RunConfig, resolve_run_config
from .records import Records, dependency_metrics
from .step import Sampled, StepStages, seed_of

TIME_METRICS = ("time", "timeSampleMs", "timeProbeMs", "timeUpdateMs", "timeStepMs", "tokensPerSecond", "peakGpuMemoryMb")


class TrainerError(Exception):
    """A failure with an actionable message (shown as is by the CLI and the JSON-RPC server)."""


@dataclass
class Hooks:
    on_metrics: Callable[[dict], None] | None = None
    on_rollouts: Callable[[int, list], None] | None = None
    on_checkpoint: Callable[[dict], None] | None = None
    on_state: Callable[[dict], None] | None = None
    on_log: Callable[[str, str], None] | None = None


def oom_message(phase: str, config: RunConfig) -> str:
    t = config.trainer
    return (f"CUDA out of memory while {phase}. Lower config.microBatchSize (now {t['microBatchSize']}) first, then "
            f"groupSize ({t['groupSize']}), maxNewTokens ({t['maxNewTokens']}) or promptsPerStep ({t['promptsPerStep']}); "
            "keep LoRA (not fullFinetune) and dtype bf16 on a GPU.")


class Trainer:
    def __init__(self, writer: RunWriter, config: RunConfig, policy: Policy, data: Dataset, step: int, cursor: int,
                 steps: int, seed: int, hooks: Hooks) -> None:
        self.writer, self.config, self.policy, self.data = writer, config, policy, data
        self.step, self.cursor, self.steps, self.seed = step, cursor, steps, seed
        self.hooks = hooks
        self.algo = config.algorithm
        self.optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=config["lr"], weight_decay=config["weightDecay"])
        self.stages = StepStages(config, policy, data, self.optimizer, seed)
        self.records = Records(writer, data, policy)
        self.state = "idle"
        self.last_reward: float | None = None
        self.last_checkpoint_step = -1
        self._cond = threading.Condition()
        self._pause = False
        self._stop = False
        self._checkpoint_waiters: list[dict] = []

    # ---- construction ------------------------------------------------------------------------------------
    @classmethod
    def start(cls, *, model: str, data: str, runs_dir: str, preset: str, steps: int, seed: int = 0, name: str | None = None,
              config: dict | None = None, checkpoint_every: int | None = None, device: str = "auto", dtype: str = "auto",
              hooks: Hooks | None = None) -> "Trainer":
        hooks = hooks or Hooks()
        overrides = dict(config or {})
        if checkpoint_every is not None:
            overrides["checkpointEvery"] = checkpoint_every
        rc = resolve_run_config(preset, overrides)
        dataset = Dataset(data)
        torch.manual_seed(seed_of(seed, "init"))  # LoRA's A matrices are drawn at random: the same seed, the same run
        policy = _load_policy(model, rc, device, dtype, hooks)
        writer = RunWriter.create(runs_dir, {
            "name": name or f"{rc.algorithm.preset} {Path(policy.path).name} seed {seed}",
            "source": "prpo-studio",
            "algorithm": rc.algorithm.preset,
            "config": rc.flat(),
            "model": {"name": Path(policy.path).name, "config": {"path": policy.path, "ref": model, "family": policy.family,
                                                                "backend": "pytorch", "dtype": policy.dtype}},
            "task": {"name": dataset.folder.name, "config": {"data": str(dataset.folder), "examples": len(dataset)}},
            "seed": seed,
            "steps": steps,
        })
        t = cls(writer, rc, policy, dataset, 0, 0, steps, seed, hooks)
        writer.append_event({"type": "started", "step": 0})
        t._log("info", f"run {writer.dir.name}: {json.dumps(policy.describe())}")
        return t

    @classmethod
    def resume(cls, *, run_dir: str, steps: int, checkpoint: str | None = None, device: str = "auto", dtype: str | None = None,
               hooks: Hooks | None = None) -> "Trainer":
        hooks = hooks or Hooks()
        events = read_events(run_dir)
        status = derive_status(events)
        if status in ("running", "paused"):
            pid = next((e.get("pid") for e in reversed(events) if e["type"] in ("started", "resumed")), "?")
            raise TrainerError(f"Cannot resume {run_dir}: it is {status} in another process (pid {pid}); stop that first.")
        if status == "interrupted":
            mark_interrupted_as_failed(run_dir)
        writer = RunWriter.open(run_dir)
        # Until 'resumed' is written this process holds the run without writing it: a failure (a corrupt
        # checkpoint, a missing model) lets go of it, so that another process can resume the run.
        try:
            m = writer.manifest
            if m["model"]["config"].get("backend") != "pytorch":
                raise TrainerError(f"Cannot resume {run_dir} here: it was not written by the PyTorch backend (resume it with the built-in one).")
            rc = resolve_run_config(m["algorithm"], {k: v for k, v in m["config"].items() if k not in ("estimator",)} | {"estimator": m["config"].get("estimator", m["algorithm"])})
            dataset = Dataset(m["task"]["config"]["data"])
            torch.manual_seed(seed_of(m["seed"], "init"))  # without a checkpoint, the run starts over from the same weights
            policy = _load_policy(m["model"]["config"]["path"], rc, device, dtype or m["model"]["config"].get("dtype", "auto"), hooks)
            ckpt = (checkpoint if os.path.isabs(checkpoint) else str(writer.dir / checkpoint)) if checkpoint else latest_checkpoint(writer.dir)
            t = cls(writer, rc, policy, dataset, 0, 0, steps, m["seed"], hooks)
            if ckpt:
                t._load_checkpoint(ckpt)
                t.last_checkpoint_step = t.step
            # Rollout files of steps after the checkpoint belong to the abandoned continuation: they are redone.
            for f in (writer.dir / "rollouts").iterdir():
                s = parse_step_name(f.name.removesuffix(".jsonl"))
                if s is not None and s > t.step:
                    f.unlink()
            # The target is the latest resume's, lower ones too: a run resumed to step 60 and done there reads 60/60.
            if steps != m.get("steps"):
                writer.update_manifest({"steps": steps})
            writer.append_event({"type": "resumed", "step": t.step})
            return t
        except BaseException:
            writer.release()
            raise

    # ---- control (any thread) ----------------------------------------------------------------------------
    def status(self) -> dict:
        s = {"state": self.state, "runId": self.writer.manifest["id"], "runDir": str(self.writer.dir), "step": self.step,
             "steps": self.steps, "ep": "cuda" if self.policy.device.type == "cuda" else "cpu",
             "device": f"cuda:{torch.cuda.current_device()}" if self.policy.device.type == "cuda" else "cpu"}
        if self.last_reward is not None:
            s["lastReward"] = self.last_reward
        return s

    def request_pause(self) -> None:
        with self._cond:
            if self.state == "running":
                self._pause = True

    def wait_paused(self, timeout: float | None = None) -> dict:
        with self._cond:
            self._cond.wait_for(lambda: self.state != "running" or not self._pause, timeout)
        return self.status()

    def resume_run(self) -> dict:
        with self._cond:
            self._pause = False
            if self.state == "paused":
                self._set_state("running")
                self.writer.append_event({"type": "resumed", "step": self.step})
            self._cond.notify_all()
        return self.status()

    def request_checkpoint(self) -> dict:
        """Blocks until written: at the next safe point while running, at once otherwise."""
        with self._cond:
            if self.state != "running":
                return self._write_checkpoint()
            waiter: dict = {}
            self._checkpoint_waiters.append(waiter)
            self._cond.wait_for(lambda: "result" in waiter or "error" in waiter)
        if "error" in waiter:
            raise waiter["error"]
        return waiter["result"]

    def request_stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def mark_failed(self, reason: str) -> None:
        if self.state == "failed":
            return
        self.writer.append_event({"type": "failed", "step": self.step, "reason": reason})
        self._set_state("failed")

    # ---- the loop ----------------------------------------------------------------------------------------
    def run(self) -> str:
        """Trains until `steps` or a stop; returns 'completed' or 'stopped'. On an exception the run is marked
        failed (the last checkpoint stays resumable) and the exception propagates."""
        self._set_state("running")
        try:
            while self.step < self.steps:
                self._safe_point()
                if self._stop:
                    break
                self._train_step()
                every = self.config["checkpointEvery"]
                if every > 0 and self.step % every == 0:
                    self._write_checkpoint()
            self._safe_point()
            if self.last_checkpoint_step != self.step:
                self._write_checkpoint()
            final = "stopped" if self._stop and self.step < self.steps else "completed"
            self.writer.append_event({"type": final, "step": self.step})
            self._set_state(final)
            return final
        except BaseException as e:
            if isinstance(e, torch.cuda.OutOfMemoryError):
                e = TrainerError(oom_message(f"training step {self.step + 1}", self.config))
            self.mark_failed(str(e) or type(e).__name__)
            with self._cond:
                for w in self._checkpoint_waiters:
                    w["error"] = e
                self._checkpoint_waiters.clear()
                self._cond.notify_all()
            raise e
        finally:
            with self._cond:
                self._cond.notify_all()

    def _safe_point(self) -> None:
        with self._cond:
            while True:
                for w in self._checkpoint_waiters:
                    try:
                        w["result"] = self._write_checkpoint()
                    except Exception as e:  # noqa: BLE001 — handed to the waiter
                        w["error"] = e
                self._checkpoint_waiters.clear()
                self._cond.notify_all()
                if not self._pause or self._stop:
                    return
                if self.state != "paused":
                    self._set_state("paused")
                    self.writer.append_event({"type": "paused", "step": self.step})
                    self._cond.notify_all()
                self._cond.wait(0.5)
                if not self._pause and self.state == "paused" and not self._stop:
                    continue

    def _set_state(self, s: str) -> None:
        self.state = s
        if self.hooks.on_state:
            self.hooks.on_state(self.status())

    def _log(self, level: str, message: str) -> None:
        if self.hooks.on_log:
            self.hooks.on_log(level, message)

    # ---- one step (the stages are step.py's) -----------------------------------------------------------
    def _draw(self, n: int) -> list[Example]:
        out = self.stages.draw(self.cursor, n)
        self.cursor += n
        return out

    def _train_step(self) -> None:
        step = self.step + 1
        t = self.config.trainer
        algo = self.algo
        stages = self.stages
        cuda = self.policy.device.type == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        # 1. Rollouts, with DAPO dynamic sampling where the preset says.
        first = stages.sample(self._draw(t["promptsPerStep"]), step, 0)
        sampled_all = list(first)
        batch = first
        tries = 0
        if algo.dynamic_sampling:
            def keep(rs: list[Sampled]) -> list[Sampled]:
                return filter_groups_for_dynamic_sampling(rs, lambda r: 1.0 if r.correct else 0.0, algo.accuracy_low, algo.accuracy_high).kept

            batch = keep(first)
            while len(batch) < t["promptsPerStep"] * t["groupSize"] and tries < algo.max_resample_tries:
                tries += 1
                missing = t["promptsPerStep"] - len(batch) // t["groupSize"]
                more = stages.sample(self._draw(missing), step, tries)
                sampled_all += more
                batch = batch + keep(more)
            if not batch:  # nothing informative after the retries: train on the last sample (advantages all 0)
                batch = sampled_all[-t["promptsPerStep"] * t["groupSize"]:]
        _sync(cuda)
        t1 = time.perf_counter()
        # 2. Old log-probs and probe views.
        stages.probe(batch, step)
        _sync(cuda)
        t2 = time.perf_counter()
        # 3. Advantages, then the update.
        adv = stages.advantages(batch, step)
        stats = stages.update(batch, [a.token_advantages for a in adv], step)
        _sync(cuda)
        t3 = time.perf_counter()
        # 4. Records and metrics.
        self.step = step
        records = [self.records.record(step, i, s, adv[i]) for i, s in enumerate(batch)]
        self.writer.append_rollouts(step, records)
        if self.hooks.on_rollouts:
            self.hooks.on_rollouts(step, records)
        mean = lambda xs: float(sum(xs) / len(xs)) if xs else 0.0  # noqa: E731
        gen_tokens = sum(len(s.ids) for s in sampled_all)
        row: dict[str, Any] = {
            "step": step, "time": time.time(),
            "reward": mean([s.reward for s in sampled_all]),
            "accuracy": mean([1.0 if s.correct else 0.0 for s in sampled_all]),
            "trainReward": mean([s.reward for s in batch]),
            "groupsTrained": len(batch) / t["groupSize"], "groupsSampled": len(sampled_all) / t["groupSize"],
            "resampleTries": tries, "responseLength": mean([len(s.ids) for s in batch]),
            **stats, **dependency_metrics(records, algo.tau),
            "timeSampleMs": (t1 - t0) * 1000, "timeProbeMs": (t2 - t1) * 1000, "timeUpdateMs": (t3 - t2) * 1000,
            "tokensPerSecond": gen_tokens / max(1e-9, t1 - t0),
        }
        if cuda:
            row["peakGpuMemoryMb"] = torch.cuda.max_memory_allocated() / 2**20
        row["timeStepMs"] = (time.perf_counter() - t0) * 1000
        clean = {k: v for k, v in row.items() if v is not None and (not isinstance(v, float) or math.isfinite(v))}
        self.last_reward = clean["reward"]
        self.writer.append_metrics(clean)
        if self.hooks.on_metrics:
            self.hooks.on_metrics(clean)
        if self.hooks.on_state:
            self.hooks.on_state(self.status())

    # ---- checkpoints (their contents are checkpoint.py's) ----------------------------------------------
    def _write_checkpoint(self) -> dict:
        path = write_checkpoint(self.writer, self.policy, self.optimizer, self.step, self.cursor)
        self.last_checkpoint_step = self.step
        self.writer.append_event({"type": "checkpoint", "step": self.step, "checkpoint": f"checkpoints/{step_name(self.step)}"})
        info = {"runId": self.writer.manifest["id"], "step": self.step, "path": path}
        if self.hooks.on_checkpoint:
            self.hooks.on_checkpoint(info)
        return info

    def _load_checkpoint(self, folder: str) -> None:
        self.step, self.cursor = load_checkpoint(folder, self.policy, self.optimizer)


def _load_policy(model: str, rc: RunConfig, device: str, dtype: str, hooks: Hooks) -> Policy:
    t = rc.trainer
    settings = ModelSettings(device=device, dtype=dtype, lora_rank=t["loraRank"], lora_alpha=t["loraAlpha"],
                             lora_target_modules=t["loraTargetModules"], full_finetune=t["fullFinetune"])
    warn = (lambda m: hooks.on_log("warn", m)) if hooks.on_log else (lambda m: None)
    if rc.algorithm.kl_coef > 0 and t["fullFinetune"]:
        raise ModelError("klCoef > 0 needs a reference policy: with fullFinetune there is none (it would take a second copy of the model); use LoRA")
    try:
        return Policy(model, settings, warn)
    except torch.cuda.OutOfMemoryError:
        raise TrainerError(f"CUDA out of memory while loading {model}: use dtype bf16, LoRA, or a smaller model.") from None


def _sync(cuda: bool) -> None:
    if cuda:
        torch.cuda.synchronize()
