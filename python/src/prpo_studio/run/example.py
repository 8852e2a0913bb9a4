"""`python -m prpo_studio.run.example OUT_DIR`: writes one small run directory with every kind of record
(run.json, metrics with a NaN, rollouts with every §7 field and a -Infinity log-prob, an image, a checkpoint,
started/checkpoint/completed events) through RunWriter, and prints its path. The TypeScript test reads it with
the TS reader and validator (the cross-check of issue #9 item 3); the Python tests use it too."""

from __future__ import annotations

import math
import sys

from .writer import RunWriter, encode_png


def write_example_run(runs_root: str, run_id: str | None = None) -> str:
    manifest = {
        "name": "python writer example",
        "source": "prpo-studio",
        "algorithm": "prpo",
        "config": {"preset": "prpo", "groupSize": 2, "backend": "pytorch"},
        "model": {"name": "tiny-qwen2-vl", "config": {"family": "qwen2-vl"}},
        "task": {"name": "shapes", "config": {"data": "example"}},
        "seed": 7,
        "steps": 1,
    }
    if run_id:
        manifest["id"] = run_id
    w = RunWriter.create(runs_root, manifest)
    w.append_event({"type": "started", "step": 0})
    import numpy as np

    img = np.zeros((8, 8, 3), dtype=np.float32)
    img[2:6, 2:6, 0] = 1.0
    image = w.write_image("train-000000.png", encode_png(img))
    tokens = ["I", " see", " 1", " red", " square"]
    base = {
        "step": 1, "group": "q0", "prompt": "How many red squares?", "image": image, "answer": "1",
        "response": "".join(tokens), "tokens": tokens, "tokenIds": [11, 57, 5, 20, 31],
    }
    rollouts = [
        {
            **base, "id": "step-000001-000", "reward": 1.0, "correct": True, "advantage": 0.7071,
            "logp": {"image": [-0.1, -0.3, -0.2, -0.5, -0.4], "blind": [-0.1, -0.3, -2.5, -1.5, -0.4],
                     "mild": [-0.1, -0.3, -0.25, -0.6, -math.inf]},
            "scores": {"G": [0, 0, 1.9, 0.4, 0], "U": [0, 0, 0.01, 0.02, math.nan], "rvd": [0, 0, 1, 0.2, 0]},
            "weights": [1, 1, 2, 1, 1], "tokenAdvantages": [0.7071, 0.7071, 1.4142, 0.7071, 0.7071],
            "perceptual": [0, 0, 1, 1, 1],
            "topAlternatives": [[["I", -0.1]], [[" see", -0.3]], [[" 1", -0.2], [" 2", -1.9]], [[" red", -0.5]], [[" square", -0.4]]],
        },
        {
            **base, "id": "step-000001-001", "reward": 0.0, "correct": False, "advantage": -0.7071,
            "logp": {"image": [-0.1, -0.3, -1.2, -0.5, -0.4]},
            "tokenAdvantages": [-0.7071] * 5,
        },
    ]
    w.append_rollouts(1, rollouts)
    w.append_metrics({"step": 1, "time": 1763780000.5, "reward": 0.5, "accuracy": 0.5, "loss": math.nan, "timeStepMs": 12.5})
    path = w.write_checkpoint(1, {"weights.safetensors": b"\x00" * 64, "trainer.json": b'{"version": 1}\n'})
    w.append_event({"type": "checkpoint", "step": 1, "checkpoint": "checkpoints/step-000001"})
    w.append_event({"type": "completed", "step": 1})
    assert path
    return str(w.dir)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m prpo_studio.run.example OUT_DIR   (writes a run directory inside OUT_DIR, prints its path)", file=sys.stderr)
        return 2
    print(write_example_run(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
