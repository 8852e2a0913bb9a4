"""One training step's stages, named as the built-in trainer names them (src/backend/trainer/step.ts): sample G
rollouts per prompt with their verifiable reward, the probe views teacher-forced, the advantages, and the update
(the §5 loss over micro-batches with gradient accumulation, AdamW and gradient clipping). The Trainer (core.py)
runs them in order and owns the loop, the control and the run directory."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..algorithms import RolloutAdvantage, compute_advantages, loss_options, policy_loss, views_for
from ..data import Dataset, Example
from ..models import Policy
from ..rewards import load_reward
from ..views import black, mild_noise, perturb_patches
from .config import RunConfig
from . import records

LOSS_KEYS = ("loss", "pg_loss", "sampled_nll", "kl_loss", "entropy", "clip_fraction", "approx_kl")


@dataclass
class Sampled:
    example: Example
    group: str
    ids: list[int]
    reward: float
    correct: bool
    logp: torch.Tensor | None = None  # old log-probs, filled by the image pass
    views: dict[str, torch.Tensor] = field(default_factory=dict)


def seed_of(*parts: Any) -> int:
    """A 63-bit seed from the parts (stable across processes, unlike hash())."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little") >> 1


class StepStages:
    """The stages of a step for one run: its config, policy, data, optimizer and seed."""

    def __init__(self, config: RunConfig, policy: Policy, data: Dataset, optimizer: torch.optim.Optimizer, seed: int) -> None:
        self.config, self.policy, self.data, self.optimizer, self.seed = config, policy, data, optimizer, seed
        self.algo = config.algorithm
        self.views = views_for(self.algo)
        self.loss_options = loss_options(self.algo)
        self.reward_fn = load_reward(config["reward"], str(data.folder))

    # ---- 1. sampling -------------------------------------------------------------------------------------
    def draw(self, cursor: int, n: int) -> list[Example]:
        """The `n` examples from data cursor `cursor` on: a seeded permutation per epoch."""
        N = len(self.data)
        out = []
        for c in range(cursor, cursor + n):
            epoch, i = divmod(c, N)
            perm = np.random.default_rng(seed_of(self.seed, "data", epoch)).permutation(N)
            out.append(self.data.examples[int(perm[i])])
        return out

    def sample(self, examples: list[Example], step: int, attempt: int) -> list[Sampled]:
        t = self.config.trainer
        torch.manual_seed(seed_of(self.seed, "sampling", step, attempt))
        out = []
        for ex in examples:
            image = self.data.load_image(ex)
            for ids in self.policy.generate(ex.prompt, image, t["groupSize"], t["maxNewTokens"], t["temperature"], t["topP"]):
                r = self.reward_fn(self.policy.answer_text(ids), ex.answer, ex.as_dict())
                out.append(Sampled(ex, ex.id, ids, r.reward, r.correct))
        return out

    # ---- 2. probes ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def probe(self, batch: list[Sampled], step: int) -> None:
        """Old log-probs (the image view) and the preset's probe views, teacher-forced, per group in micro-batches."""
        rng = np.random.default_rng(seed_of(self.seed, "perturbation", step))
        need = ["image", *[v for v in self.views.views if v != "image"]]
        for g in groups(batch):
            for view in need:
                reps = max(1, self.views.perturbed_samples) if view == "perturbed" else 1
                for _ in range(reps):
                    for s, row in self._score(g, self._view_inputs(g, view, rng)):
                        if view == "image":
                            s.logp = row
                        elif view == "perturbed" and reps > 1:
                            s.views.setdefault("perturbed_rows", []).append(row)  # type: ignore[arg-type]
                        else:
                            s.views[view] = row
            if self.algo.kl_coef > 0:
                with self.policy.reference():
                    for s, row in self._score(g, self._view_inputs(g, "image", rng)):
                        s.views["ref"] = row

    def _score(self, g: list[Sampled], enc: dict) -> list[tuple[Sampled, torch.Tensor]]:
        """Each rollout of group `g` with its teacher-forced log-probs under the encoded prompt `enc` (CPU, float64)."""
        out = []
        for rows, sub in self._micro_batches(g, enc):
            logp, _, _ = self.policy.score(sub, [s.ids for s in rows], self.config["temperature"])
            out += [(s, row[: len(s.ids)].detach().to("cpu", torch.float64)) for s, row in zip(rows, logp)]
        return out

    def _view_inputs(self, g: list[Sampled], view: str, rng: np.random.Generator) -> dict:
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

    def _micro_batches(self, g: list[Sampled], enc: dict):
        """Group `g` in micro-batches: each run of rollouts with the matching rows of its encoded prompt `enc`."""
        mb = self.config["microBatchSize"]
        for i in range(0, len(g), mb):
            sl = slice(i, min(i + mb, len(g)))
            yield g[sl], {k: _rows(v, sl, len(g)) for k, v in enc.items()}

    # ---- 3. advantages -----------------------------------------------------------------------------------
    def advantages(self, batch: list[Sampled], step: int) -> list[RolloutAdvantage]:
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
            flags = records.perceptual_flags(s.example, self.policy.pieces(s.ids))
            if flags is not None:
                rollout["labels"] = flags
            inputs.append(rollout)
        return compute_advantages(self.algo, inputs)

    # ---- 4. the update -----------------------------------------------------------------------------------
    def update(self, batch: list[Sampled], adv: list[torch.Tensor], step: int) -> dict[str, float]:
        """Mini-batches of whole groups, each one optimizer step; returns the step's loss terms (token means)."""
        t = self.config.trainer
        lr = t["lr"] * (min(1.0, step / t["lrWarmupSteps"]) if t["lrWarmupSteps"] > 0 else 1.0)
        for pg in self.optimizer.param_groups:
            pg["lr"] = lr
        grouped = groups(batch)
        index = {id(s): i for i, s in enumerate(batch)}
        parts = max(1, min(t["miniBatches"], len(grouped)))
        totals = dict.fromkeys(LOSS_KEYS, 0.0)
        tokens = 0
        grad_norms = []
        for p in range(parts):
            mini = grouped[round(p * len(grouped) / parts): round((p + 1) * len(grouped) / parts)]
            # Micro-batches add up to the token-mean over every valid token of the mini-batch (§5).
            n_tokens = sum(len(s.ids) for g in mini for s in g)
            tokens += n_tokens
            self.optimizer.zero_grad(set_to_none=True)
            for g in mini:
                enc = self._view_inputs(g, "image", np.random.default_rng(0))
                for rows, sub in self._micro_batches(g, enc):
                    logp, mask, ent = self.policy.score(sub, [s.ids for s in rows], t["temperature"], entropy=True)
                    dev, L = logp.device, logp.shape[1]
                    old = _pad([s.logp for s in rows], L, dev)
                    a = _pad([adv[index[id(s)]] for s in rows], L, dev)
                    ref = _pad([s.views["ref"] for s in rows], L, dev) if self.algo.kl_coef > 0 else None
                    res = policy_loss(logp, old, a, mask, self.loss_options, logp_ref=ref, entropy=ent, num_tokens=n_tokens)
                    res.loss.backward()
                    totals["loss"] += float(res.loss.detach()) * n_tokens
                    for k in LOSS_KEYS[1:]:
                        totals[k] += float(getattr(res, k) or 0.0) * n_tokens
            norm = torch.nn.utils.clip_grad_norm_(self.policy.trainable_parameters(), t["maxGradNorm"])
            grad_norms.append(float(norm))
            self.optimizer.step()
        n = max(1, tokens)
        return {"loss": totals["loss"] / n, "pgLoss": totals["pg_loss"] / n, "entropyLoss": totals["sampled_nll"] / n,
                "klLoss": totals["kl_loss"] / n, "clipFraction": totals["clip_fraction"] / n, "entropy": totals["entropy"] / n,
                "approxKl": totals["approx_kl"] / n, "gradNorm": sum(grad_norms) / len(grad_norms)}


def groups(batch: list[Sampled]) -> list[list[Sampled]]:
    """The batch's groups in order; a prompt drawn twice in one step makes two groups (consecutive runs of one id)."""
    found: dict[tuple[str, int], list[Sampled]] = {}
    order: list[tuple[str, int]] = []
    for i, s in enumerate(batch):
        key = (s.group, 0)
        while key in found and found[key][-1] is not batch[i - 1]:
            key = (key[0], key[1] + 1)
        if key not in found:
            found[key] = []
            order.append(key)
        found[key].append(s)
    return [found[k] for k in order]


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
