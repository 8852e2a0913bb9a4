"""`python -m prpo_studio.gpucheck`: one PRPO-R step end to end on a GPU, sized to finish in under five
minutes on one H200 — a real-size random-init model (the Qwen2-VL-2B architecture, bf16 weights, LoRA) and the
tiny one — reporting the step's split (sample / probes / update), sampled tokens per second, peak GPU memory
and the probes' share of the step (goal ≤ 25 %). The last line on stdout is one JSON object.

`--cpu-smoke` runs the tiny model only, on the CPU (what the tests run where no GPU is lent).

The real-size model keeps the 2B architecture (28 layers, hidden 1536, the 32-layer 1280-wide vision tower)
but the tiny byte-level tokenizer, so its vocabulary is small: the logits and embedding are ~0.4 % of the
real ones. Its weights are random: responses run to maxNewTokens, which is the worst case for the split."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

# The Qwen2-VL-2B-Instruct architecture (its config.json), vocabulary aside.
QWEN2_VL_2B = {
    "text": {"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28, "num_attention_heads": 12,
             "num_key_value_heads": 2, "max_position_embeddings": 32768},
    "rope": {"rope_type": "default", "mrope_section": [16, 24, 24], "rope_theta": 1000000.0},
    "vision": {"depth": 32, "embed_dim": 1280, "hidden_size": 1536, "hidden_act": "quick_gelu", "mlp_ratio": 4, "num_heads": 16,
               "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "in_channels": 3},
    "pixels": {"min_pixels": 56 * 56, "max_pixels": 448 * 448},
}


def one_step(model_dir: str, data_dir: str, runs_dir: str, device: str, dtype: str, config: dict) -> dict:
    from .trainer.core import Trainer

    logs: list[str] = []
    from .trainer.core import Hooks

    t = Trainer.start(model=model_dir, data=data_dir, runs_dir=runs_dir, preset="prpo", steps=1, seed=0, config=config,
                      device=device, dtype=dtype, hooks=Hooks(on_log=lambda lvl, m: logs.append(f"{lvl}: {m}")))
    t0 = time.perf_counter()
    t.run()
    wall = time.perf_counter() - t0
    row = [json.loads(x) for x in (t.writer.dir / "metrics.jsonl").read_text().splitlines()][-1]
    step = row["timeSampleMs"] + row["timeProbeMs"] + row["timeUpdateMs"]
    out = {
        "model": t.policy.describe(), "runDir": str(t.writer.dir), "wallS": round(wall, 2),
        "timeSampleMs": round(row["timeSampleMs"], 1), "timeProbeMs": round(row["timeProbeMs"], 1),
        "timeUpdateMs": round(row["timeUpdateMs"], 1), "timeStepMs": round(row["timeStepMs"], 1),
        "probeShare": round(row["timeProbeMs"] / step, 4) if step else None,
        "tokensPerSecond": round(row.get("tokensPerSecond", 0.0), 1), "responseLength": row.get("responseLength"),
        "peakGpuMemoryMb": round(row["peakGpuMemoryMb"], 1) if "peakGpuMemoryMb" in row else None,
        "rollouts": int(row["groupsTrained"] * config["groupSize"]),
    }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m prpo_studio.gpucheck", description=__doc__.split("\n\n")[0])
    p.add_argument("--cpu-smoke", action="store_true", help="the tiny model only, on the CPU")
    p.add_argument("--out", help="working folder (default: a temporary one)")
    p.add_argument("--skip-real", action="store_true", help="the tiny model only (on the GPU)")
    a = p.parse_args(argv)
    work = Path(a.out or tempfile.mkdtemp(prefix="prpo-gpucheck-"))
    work.mkdir(parents=True, exist_ok=True)
    from .data import write_shapes_dataset
    from .tiny_model import build

    import torch

    result: dict = {"device": "cpu" if a.cpu_smoke else (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"),
                    "torch": torch.__version__}
    if not a.cpu_smoke and not torch.cuda.is_available():
        print("gpucheck: no GPU is visible to PyTorch; run with --cpu-smoke for the CPU check", file=sys.stderr)
        return 2
    device, dtype = ("cpu", "fp32") if a.cpu_smoke else ("cuda", "bf16")
    t0 = time.perf_counter()
    tiny = build("qwen2-vl", str(work / "tiny-qwen2-vl"))
    small_data = write_shapes_dataset(str(work / "data-small"), n=8, size=56)
    # No DAPO re-sampling: a random model's groups are all wrong, and re-sampling them would only repeat the sample.
    tiny_cfg = {"promptsPerStep": 2, "groupSize": 4, "maxNewTokens": 16, "microBatchSize": 4, "maxResampleTries": 0}
    result["tiny"] = one_step(tiny, small_data, str(work / "runs"), device, dtype, tiny_cfg)
    print(f"tiny: {json.dumps(result['tiny'])}", file=sys.stderr, flush=True)
    if not a.cpu_smoke and not a.skip_real:
        tb = time.perf_counter()
        real = build("qwen2-vl", str(work / "qwen2-vl-2b-random"), size="2b")
        result["realBuildS"] = round(time.perf_counter() - tb, 1)
        data = write_shapes_dataset(str(work / "data-448"), n=16, size=448)
        real_cfg = {"promptsPerStep": 4, "groupSize": 8, "maxNewTokens": 128, "microBatchSize": 8, "loraRank": 64, "loraAlpha": 128,
                    "maxResampleTries": 0}
        result["real"] = {"config": real_cfg, **one_step(real, data, str(work / "runs"), device, dtype, real_cfg)}
        print(f"real: {json.dumps(result['real'])}", file=sys.stderr, flush=True)
    result["totalS"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
