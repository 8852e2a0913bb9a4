"""`python -m prpo_studio train …` and `python -m prpo_studio resume RUN_DIR --steps N`: train in this
process, print the run directory on stdout (progress goes to stderr). Ctrl-C or SIGTERM stops at the next
safe point with a checkpoint, so the run stays resumable."""

from __future__ import annotations

import argparse
import signal
import sys


def _progress(level: str, message: str) -> None:
    print(f"[{level}] {message}", file=sys.stderr, flush=True)


def _hooks():
    from .core import Hooks

    def metrics(row: dict) -> None:
        keys = ("reward", "accuracy", "loss", "entropy", "timeStepMs")
        print(f"step {row['step']}: " + " ".join(f"{k}={row[k]:.4g}" for k in keys if k in row), file=sys.stderr, flush=True)

    return Hooks(on_metrics=metrics, on_log=_progress)


def _run(make) -> int:
    from ..algorithms.config import ConfigError
    from ..data import DataError
    from ..models import ModelError
    from ..run import CheckpointError, RunFormatError
    from .core import TrainerError

    try:
        trainer = make()
    except (ConfigError, DataError, ModelError, CheckpointError, RunFormatError, TrainerError, FileExistsError) as e:
        print(f"prpo_studio: {e}", file=sys.stderr)
        return 2
    print(trainer.writer.dir, flush=True)

    def on_signal(signum, _frame) -> None:
        _progress("info", f"{signal.Signals(signum).name}: stopping at the next safe point with a checkpoint")
        trainer.request_stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        final = trainer.run()
    except Exception as e:  # noqa: BLE001 — reported; the run is marked failed and stays resumable
        print(f"prpo_studio: training failed at step {trainer.step + 1}: {e}", file=sys.stderr)
        return 1
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    _progress("info", f"{final} at step {trainer.step}")
    return 0


def train_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m prpo_studio train", description="Train a Hugging Face VLM with PRPO-R, VPPO, PGPO, DAPO or GRPO.")
    p.add_argument("--model", required=True, help="model folder (config.json + safetensors) or a Hub id already in the local cache")
    p.add_argument("--data", required=True, help="dataset folder (data.jsonl + images; docs/pytorch-backend.md)")
    p.add_argument("--preset", required=True, choices=["grpo", "dapo", "vppo", "pgpo", "prpo"])
    p.add_argument("--steps", required=True, type=int)
    p.add_argument("--runs-dir", required=True, help="folder that holds run directories")
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    p.add_argument("--dtype", default="auto", choices=["auto", "bf16", "fp32"])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--lora-rank", type=int)
    g.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    p.add_argument("--config", help="JSON file of configuration keys (algorithm and trainer keys, flat)")
    p.add_argument("--name")
    a = p.parse_args(argv)

    def make():
        from .config import read_config_file
        from .core import Trainer

        config = read_config_file(a.config) if a.config else {}
        if a.lora_rank is not None:
            config["loraRank"] = a.lora_rank
        if a.full:
            config["fullFinetune"] = True
        return Trainer.start(model=a.model, data=a.data, runs_dir=a.runs_dir, preset=a.preset, steps=a.steps, seed=a.seed,
                             name=a.name, config=config, checkpoint_every=a.checkpoint_every, device=a.device, dtype=a.dtype,
                             hooks=_hooks())

    return _run(make)


def resume_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m prpo_studio resume", description="Continue a PyTorch-backend run from a checkpoint.")
    p.add_argument("run_dir")
    p.add_argument("--steps", required=True, type=int, help="train until this step (inclusive)")
    p.add_argument("--checkpoint", help="checkpoint folder (absolute or relative to the run); the latest complete one by default")
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    p.add_argument("--dtype", choices=["auto", "bf16", "fp32"])
    a = p.parse_args(argv)

    def make():
        from .core import Trainer

        return Trainer.resume(run_dir=a.run_dir, steps=a.steps, checkpoint=a.checkpoint, device=a.device, dtype=a.dtype, hooks=_hooks())

    return _run(make)
