"""What a step leaves in the run directory besides its metrics row: the rollout records (ALGORITHMS.md §7, each
example's image saved once) and the dependency metrics over them — as src/backend/trainer/records.ts does for the
built-in trainer."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, Sequence

import torch

from ..algorithms import RolloutAdvantage, auroc, minmax
from ..data import Dataset, Example
from ..models import Policy
from ..run import RunWriter, encode_png, step_name

if TYPE_CHECKING:
    from .step import Sampled


def perceptual_flags(example: Example, tokens: Sequence[str]) -> list[int] | None:
    """1 where a response token is one of the example's perceptual words (the ground truth the diagnostics and
    the controls read); None when the dataset names none."""
    if not example.perceptual:
        return None
    words = set(example.perceptual)
    return [1 if tok.strip() in words else 0 for tok in tokens]


class Records:
    """Builds a step's rollout records, writing each example's image into the run's images/ the first time."""

    def __init__(self, writer: RunWriter, data: Dataset, policy: Policy) -> None:
        self.writer, self.data, self.policy = writer, data, policy
        self._images = {p.name for p in (writer.dir / "images").iterdir()}

    def record(self, step: int, i: int, s: "Sampled", a: RolloutAdvantage) -> dict:
        ex = s.example
        image_name = _safe_name(ex.id) + ".png"
        if image_name not in self._images:
            self.writer.write_image(image_name, encode_png(self.data.load_image(ex)))
            self._images.add(image_name)
        tokens = self.policy.pieces(s.ids)
        logp = {"image": s.logp.tolist()}  # type: ignore[union-attr] — the image pass filled it
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
        flags = perceptual_flags(ex, tokens)
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


def dependency_metrics(records: list[dict], tau: float) -> dict[str, float]:
    """AUROC of each dependency score against the ground-truth flags (when every record has them), the share of
    perceptual tokens, and the dependency sparsity: the share of tokens whose primary score is above τ."""
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


def _safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", s)[:100] or "image"
