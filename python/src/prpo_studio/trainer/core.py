"""The RLVR trainer for Hugging Face VLMs (issue #9 item 4), mirroring the built-in trainer
(src/backend/trainer/trainer.ts): per step, P prompts × G rollouts sampled with `generate`, the verifiable
reward, DAPO dynamic sampling where the preset says, the probe views the preset needs as batched
teacher-forced passes, the advantages of prpo_studio.algorithms, the §5 loss over micro-batches with
gradient accumulation, AdamW and gradient clipping; then rollouts, metrics and checkpoints in the run
directory (docs/run-format.md).

Control happens between steps (the safe point): pause holds, a checkpoint request writes one, stop
checkpoints and ends the run. Reproducibility: the data order is a seeded permutation per epoch (the state is
the cursor), and every random draw of a step (sampling, views) comes from generators seeded by (seed, step,
try), so a resumed run repeats the straight run; the RNG states are still saved in each checkpoint."""

from __future__ import annotations

import io
import json
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ..algorithms import auroc, compute_advantages, filter_groups_for_dynamic_sampling, loss_options, minmax, policy_loss, views_for
from ..data import Dataset, Example
from ..models import ModelError, ModelSettings, Policy
from ..rewards import load_reward
from ..run import (
    CheckpointError,
    RunWriter,
    derive_status,
    encode_png,
    latest_checkpoint,
    mark_interrupted_as_failed,
    parse_step_name,
    read_checkpoint,
    read_events,
    step_name,
)
from ..views import black, mild_noise, perturb_patches
from .config import RunConfig, resolve_run_config

CHECKPOINT_FILES = {"weights": "weights.safetensors", "optimizer": "optimizer.safetensors", "rng": "rng.safetensors", "trainer": "trainer.json"}
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


@dataclass
class Sampled:
    example: Example
    group: str
    ids: list[int]
    reward: float
    correct: bool
    logp: torch.Tensor | None = None  # old log-probs, filled by the image pass
    views: dict[str, torch.Tensor] = field(default_factory=dict)


def _seed(*parts: Any) -> int:
    """A 63-bit seed from the parts (stable across processes, unlike hash())."""
    import hashlib

    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little") >> 1


def _safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", s)[:100] or "image"


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
        self.views = views_for(self.algo)
        self.loss_options = loss_options(self.algo)
        self.reward_fn = load_reward(config["reward"], str(data.folder))
        self.optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=config["lr"], weight_decay=config["weightDecay"])
        self.state = "idle"
        self.last_reward: float | None = None
        self.last_checkpoint_step = -1
        self._cond = threading.Condition()
        self._pause = False
        self._stop = False
        self._checkpoint_waiters: list[dict] = []
        self._images = {p.name for p in (writer.dir / "images").iterdir()}

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
        torch.manual_seed(_seed(seed, "init"))  # LoRA's A matrices are drawn at random: the same seed, the same run
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
            torch.manual_seed(_seed(m["seed"], "init"))  # without a checkpoint, the run starts over from the same weights
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

    # ---- one step ----------------------------------------------------------------------------------------
    def _draw(self, n: int) -> list[Example]:
        N = len(self.data)
        out = []
        for _ in range(n):
            epoch, i = divmod(self.cursor, N)
            perm = np.random.default_rng(_seed(self.seed, "data", epoch)).permutation(N)
            out.append(self.data.examples[int(perm[i])])
            self.cursor += 1
        return out

    def _sample(self, examples: list[Example], step: int, attempt: int) -> list[Sampled]:
        t = self.config.trainer
        torch.manual_seed(_seed(self.seed, "sampling", step, attempt))
        out = []
        for ex in examples:
            image = self.data.load_image(ex)
            for ids in self.policy.generate(ex.prompt, image, t["groupSize"], t["maxNewTokens"], t["temperature"], t["topP"]):
                r = self.reward_fn(self.policy.answer_text(ids), ex.answer, ex.as_dict())
                out.append(Sampled(ex, ex.id, ids, r.reward, r.correct))
        return out

    def _groups(self, batch: list[Sampled]) -> list[list[Sampled]]:
        groups: dict[tuple[str, int], list[Sampled]] = {}
        order: list[tuple[str, int]] = []
        for i, s in enumerate(batch):
            # A prompt drawn twice in one step makes two groups: consecutive runs of one example id.
            key = (s.group, 0)
            while key in groups and groups[key][-1] is not batch[i - 1]:
                key = (key[0], key[1] + 1)
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append(s)
        return [groups[k] for k in order]

    def _view_inputs(self, g: list[Sampled], view: str, rng: np.random.Generator):
        """Processor inputs of one group's prompt under a view (one row per rollout)."""
        t = self.config.trainer
        ex = g[0].example
        image = self.data.load_image(ex)
        prompts = [ex.prompt] * len(g)
        if view == "image":
            return self.policy.encode(prompts, [image] * len(g))
        if view == "blind":
            return self.policy.encode(prompts, None) if t["blind"] == "text" else self.policy.encode(prompts, [black(image)] * len(g))
        if view == "mild":
            return self.policy.encode(prompts, [mild_noise(image, t["mildSigma"], rng) for _ in g])
        if view == "perturbed":
            return self.policy.encode(prompts, [perturb_patches(image, t["perturbPatchSize"], t["patchDropProb"], rng) for _ in g])
        raise ValueError(view)

    def _micro(self, g: list[Sampled]) -> list[slice]:
        mb = self.config["microBatchSize"]
        return [slice(i, min(i + mb, len(g))) for i in range(0, len(g), mb)]

    @torch.no_grad()
    def _probe(self, batch: list[Sampled], step: int) -> None:
        """Old log-probs (the image view) and the preset's probe views, teacher-forced, per group in micro-batches."""
        rng = np.random.default_rng(_seed(self.seed, "perturbation", step))
        need = ["image", *[v for v in self.views.views if v != "image"]]
        temp = self.config["temperature"]
        for g in self._groups(batch):
            for view in need:
                reps = max(1, self.views.perturbed_samples) if view == "perturbed" else 1
                for rep in range(reps):
                    enc = self._view_inputs(g, view, rng)
                    for sl in self._micro(g):
                        sub = {k: _rows(v, sl, len(g)) for k, v in enc.items()}
                        logp, _, _ = self.policy.score(sub, [s.ids for s in g[sl]], temp)
                        for s, row in zip(g[sl], logp):
                            row = row[: len(s.ids)].detach().to("cpu", torch.float64)
                            if view == "image":
                                s.logp = row
                            elif view == "perturbed" and reps > 1:
                                s.views.setdefault("perturbed_rows", []).append(row)  # type: ignore[arg-type]
                            else:
                                s.views[view] = row
            if self.algo.kl_coef > 0:
                with self.policy.reference():
                    enc = self._view_inputs(g, "image", rng)
                    for sl in self._micro(g):
                        sub = {k: _rows(v, sl, len(g)) for k, v in enc.items()}
                        logp, _, _ = self.policy.score(sub, [s.ids for s in g[sl]], temp)
                        for s, row in zip(g[sl], logp):
                            s.views["ref"] = row[: len(s.ids)].detach().to("cpu", torch.float64)

    def _update(self, batch: list[Sampled], adv: list[torch.Tensor]) -> dict[str, float]:
        t = self.config.trainer
        lr = t["lr"] * (min(1.0, (self.step + 1) / t["lrWarmupSteps"]) if t["lrWarmupSteps"] > 0 else 1.0)
        for pg in self.optimizer.param_groups:
            pg["lr"] = lr
        groups = self._groups(batch)
        index = {id(s): i for i, s in enumerate(batch)}
        parts = max(1, min(t["miniBatches"], len(groups)))
        keys = ("loss", "pg_loss", "sampled_nll", "kl_loss", "entropy", "clip_fraction", "approx_kl")
        totals = dict.fromkeys(keys, 0.0)
        tokens = 0
        grad_norms = []
        temp = t["temperature"]
        for p in range(parts):
            mini = groups[round(p * len(groups) / parts): round((p + 1) * len(groups) / parts)]
            # Micro-batches add up to the token-mean over every valid token of the mini-batch (§5).
            n_tokens = sum(len(s.ids) for g in mini for s in g)
            tokens += n_tokens
            self.optimizer.zero_grad(set_to_none=True)
            for g in mini:
                enc = self._view_inputs(g, "image", np.random.default_rng(0))
                for sl in self._micro(g):
                    sub = {k: _rows(v, sl, len(g)) for k, v in enc.items()}
                    rows = g[sl]
                    logp, mask, ent = self.policy.score(sub, [s.ids for s in rows], temp, entropy=True)
                    dev, L = logp.device, logp.shape[1]
                    old = _pad([s.logp for s in rows], L, dev)
                    a = _pad([adv[index[id(s)]] for s in rows], L, dev)
                    ref = _pad([s.views["ref"] for s in rows], L, dev) if self.algo.kl_coef > 0 else None
                    res = policy_loss(logp, old, a, mask, self.loss_options, logp_ref=ref, entropy=ent, num_tokens=n_tokens)
                    res.loss.backward()
                    totals["loss"] += float(res.loss.detach()) * n_tokens
                    for k in keys[1:]:
                        totals[k] += float(getattr(res, k) or 0.0) * n_tokens
            norm = torch.nn.utils.clip_grad_norm_(self.policy.trainable_parameters(), t["maxGradNorm"])
            grad_norms.append(float(norm))
            self.optimizer.step()
        n = max(1, tokens)
        return {"loss": totals["loss"] / n, "pgLoss": totals["pg_loss"] / n, "entropyLoss": totals["sampled_nll"] / n,
                "klLoss": totals["kl_loss"] / n, "clipFraction": totals["clip_fraction"] / n, "entropy": totals["entropy"] / n,
                "approxKl": totals["approx_kl"] / n, "gradNorm": sum(grad_norms) / len(grad_norms)}

    def _train_step(self) -> None:
        step = self.step + 1
        t = self.config.trainer
        algo = self.algo
        cuda = self.policy.device.type == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        # 1. Rollouts, with DAPO dynamic sampling where the preset says.
        first = self._sample(self._draw(t["promptsPerStep"]), step, 0)
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
                more = self._sample(self._draw(missing), step, tries)
                sampled_all += more
                batch = batch + keep(more)
            if not batch:  # nothing informative after the retries: train on the last sample (advantages all 0)
                batch = sampled_all[-t["promptsPerStep"] * t["groupSize"]:]
        _sync(cuda)
        t1 = time.perf_counter()
        # 2. Old log-probs and probe views.
        self._probe(batch, step)
        _sync(cuda)
        t2 = time.perf_counter()
        # 3. Advantages, then the update.
        inputs = []
        for i, s in enumerate(batch):
            logp: dict[str, Any] = {"image": s.logp}
            for v in ("blind", "mild"):
                if v in s.views:
                    logp[v] = s.views[v]
            if "perturbed_rows" in s.views:
                logp["perturbed"] = s.views["perturbed_rows"]
            elif "perturbed" in s.views:
                logp["perturbed"] = s.views["perturbed"]
            rollout: dict[str, Any] = {"id": f"{step}-{i}", "group": s.group, "reward": s.reward, "logp": logp}
            # The ground-truth flags ride along for the study's controls (oracle, random); the estimators ignore them.
            flags = self._perceptual_flags(s)
            if flags is not None:
                rollout["labels"] = flags
            inputs.append(rollout)
        adv = compute_advantages(algo, inputs)
        stats = self._update(batch, [a.token_advantages for a in adv])
        _sync(cuda)
        t3 = time.perf_counter()
        # 4. Records and metrics.
        self.step = step
        records = [self._record(step, i, s, adv[i]) for i, s in enumerate(batch)]
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
            **stats, **self._dependency_metrics(records),
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

    def _perceptual_flags(self, s: Sampled, tokens: list[str] | None = None) -> list[int] | None:
        """1 where a response token is one of the example's perceptual words (the ground truth the diagnostics and
        the controls read); None when the dataset names none."""
        if not s.example.perceptual:
            return None
        words = set(s.example.perceptual)
        return [1 if tok.strip() in words else 0 for tok in (tokens if tokens is not None else self.policy.pieces(s.ids))]

    def _record(self, step: int, i: int, s: Sampled, a: Any) -> dict:
        ex = s.example
        image_name = _safe_name(ex.id) + ".png"
        if image_name not in self._images:
            self.writer.write_image(image_name, encode_png(self.data.load_image(ex)))
            self._images.add(image_name)
        tokens = self.policy.pieces(s.ids)
        logp = {"image": s.logp.tolist()}
        for v in ("blind", "mild", "perturbed"):
            if v in s.views:
                logp[v] = s.views[v].tolist()
        if "perturbed_rows" in s.views:
            logp["perturbed"] = s.views["perturbed_rows"][0].tolist()  # type: ignore[index]
        rec: dict[str, Any] = {
            "id": f"{step_name(step)}-{i:03d}", "step": step, "group": s.group, "prompt": ex.prompt,
            "image": f"images/{image_name}", "answer": ex.answer, "response": "".join(tokens), "reward": s.reward,
            "correct": s.correct, "advantage": float(a.advantage), "tokens": tokens, "tokenIds": list(s.ids), "logp": logp,
            "tokenAdvantages": a.token_advantages.tolist(),
        }
        flags = self._perceptual_flags(s, tokens)
        if flags is not None:
            rec["perceptual"] = flags
        if a.alpha is not None:
            rec["alpha"] = float(a.alpha)
        if a.scores:
            rec["scores"] = {k: v.tolist() for k, v in a.scores.items()}
        if a.weights is not None:
            rec["weights"] = a.weights.tolist()
        if a.mask is not None:
            rec["mask"] = a.mask.tolist()
        return rec

    def _dependency_metrics(self, records: list[dict]) -> dict[str, float]:
        out: dict[str, float] = {}
        labelled = [r for r in records if "perceptual" in r]
        labels = [x for r in labelled for x in r["perceptual"]]
        if labelled and len(labelled) == len(records):
            for k, metric in (("S", "aurocS"), ("G", "aurocG"), ("U", "aurocU"), ("rvd", "aurocRvd")):
                if all(k in (r.get("scores") or {}) for r in records):
                    v = auroc([x for r in records for x in r["scores"][k]], labels)
                    if math.isfinite(v):
                        out[metric] = float(v)
            out["perceptualShare"] = sum(labels) / max(1, len(labels))
        tau = self.algo.tau
        marked = total = 0
        for r in records:
            sc = r.get("scores") or {}
            if "rvd" in sc:
                primary = sc["rvd"]
            elif "S" in sc or "G" in sc:
                primary = minmax(torch.log1p(torch.tensor(sc.get("S", sc.get("G")), dtype=torch.float64))).tolist()
            else:
                continue
            marked += sum(1 for x in primary if x > tau)
            total += len(primary)
        if total:
            out["dependencySparsity"] = marked / total
        return out

    # ---- checkpoints -------------------------------------------------------------------------------------
    def _write_checkpoint(self) -> dict:
        opt = self.optimizer.state_dict()
        tensors: dict[str, torch.Tensor] = {}
        for pid, st in opt["state"].items():
            for k, v in st.items():
                tensors[f"state.{pid}.{k}"] = (v if isinstance(v, torch.Tensor) else torch.tensor(v)).detach().cpu().contiguous()
        rng = {"torch_cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            for d, s in enumerate(torch.cuda.get_rng_state_all()):
                rng[f"torch_cuda_{d}"] = s
        trainer_state = {"version": 1, "step": self.step, "cursor": self.cursor, "backend": "pytorch",
                         "optimizer": {"param_groups": opt["param_groups"]}, "lora": self.policy.lora}
        path = self.writer.write_checkpoint(self.step, _stalled_for_tests({
            CHECKPOINT_FILES["weights"]: st_save(self.policy.trainable_state()),
            CHECKPOINT_FILES["optimizer"]: st_save(tensors) if tensors else st_save({"empty": torch.zeros(0)}),
            CHECKPOINT_FILES["rng"]: st_save(rng),
            CHECKPOINT_FILES["trainer"]: (json.dumps(trainer_state, indent=2) + "\n").encode(),
        }))
        self.last_checkpoint_step = self.step
        self.writer.append_event({"type": "checkpoint", "step": self.step, "checkpoint": f"checkpoints/{step_name(self.step)}"})
        info = {"runId": self.writer.manifest["id"], "step": self.step, "path": path}
        if self.hooks.on_checkpoint:
            self.hooks.on_checkpoint(info)
        return info

    def _load_checkpoint(self, folder: str) -> None:
        _, files = read_checkpoint(folder)
        for name in CHECKPOINT_FILES.values():
            if name not in files:
                raise CheckpointError(folder, f"checkpoint {Path(folder).name}: {name} is missing from its manifest — pick an earlier checkpoint")
        try:
            st = json.loads(files[CHECKPOINT_FILES["trainer"]])
        except json.JSONDecodeError as e:
            raise CheckpointError(folder, f"checkpoint {Path(folder).name}: trainer.json is not valid JSON ({e.msg})") from None
        if st.get("version") != 1 or st.get("backend") != "pytorch":
            raise CheckpointError(folder, f"checkpoint {Path(folder).name}: trainer.json is not a PyTorch-backend trainer state")
        if bool(st.get("lora")) != self.policy.lora:
            raise CheckpointError(folder, f"checkpoint {Path(folder).name}: it holds {'LoRA adapters' if st.get('lora') else 'full weights'}, the run is configured otherwise")
        self.policy.load_trainable_state({k: v.to(self.policy.device) for k, v in st_load(files[CHECKPOINT_FILES["weights"]]).items()})
        tensors = st_load(files[CHECKPOINT_FILES["optimizer"]])
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, v in tensors.items():
            if key == "empty":
                continue
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
        self.optimizer.load_state_dict({"state": state, "param_groups": st["optimizer"]["param_groups"]})
        rng = st_load(files[CHECKPOINT_FILES["rng"]])
        torch.set_rng_state(rng["torch_cpu"])
        if torch.cuda.is_available():
            cuda_states = [rng[k] for k in sorted(rng) if k.startswith("torch_cuda_")]
            if len(cuda_states) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(cuda_states)
        self.step = int(st["step"])
        self.cursor = int(st["cursor"])


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


def _rows(v: torch.Tensor, sl: slice, n: int) -> torch.Tensor:
    """Rows `sl` of a processor output whose first dimension is the batch (else, e.g. Qwen's flattened
    pixel_values of n equal images, the matching share of it)."""
    if v.shape[0] == n:
        return v[sl]
    per = v.shape[0] // n
    return v[sl.start * per: sl.stop * per]


def _pad(rows: list[torch.Tensor], L: int, device: torch.device) -> torch.Tensor:
    out = torch.zeros((len(rows), L), dtype=torch.float32, device=device)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r.to(device=device, dtype=torch.float32)
    return out


def _sync(cuda: bool) -> None:
    if cuda:
        torch.cuda.synchronize()


class _Stalled(dict):
    """Checkpoint files whose items() are handed over late (see _stalled_for_tests)."""

    stall_s = 0.0

    def items(self):  # type: ignore[override]
        time.sleep(self.stall_s)
        return super().items()


def _stalled_for_tests(files: dict) -> dict:
    """A test hook, the twin of trainer.ts stalledForTests: with PRPO_STUDIO_TEST_CHECKPOINT_STALL_MS set, the
    files are handed to RunWriter.write_checkpoint that much later — after it has created its temporary folder —
    so a crash soak can kill the process mid-checkpoint for sure (test/soak/pytorch.ts). Unset: `files` as is."""
    try:
        ms = float(os.environ.get("PRPO_STUDIO_TEST_CHECKPOINT_STALL_MS", "0"))
    except ValueError:
        ms = 0.0
    if not ms > 0:
        return files
    stalled = _Stalled(files)
    stalled.stall_s = ms / 1000
    return stalled
