"""The PyTorch backend's checkpoint contents: trainable weights (LoRA adapters or the full model), the AdamW
state, the RNG states (safetensors each) and trainer.json (step, data cursor, parameter groups). The folder, its
manifest with sha256 and the atomic rename are the run writer's (docs/run-format.md)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ..models import Policy
from ..run import CheckpointError, RunWriter, read_checkpoint

CHECKPOINT_FILES = {"weights": "weights.safetensors", "optimizer": "optimizer.safetensors", "rng": "rng.safetensors", "trainer": "trainer.json"}


def write_checkpoint(writer: RunWriter, policy: Policy, optimizer: torch.optim.Optimizer, step: int, cursor: int) -> str:
    """Writes checkpoints/step-NNNNNN of the run; returns its path."""
    opt = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for pid, st in opt["state"].items():
        for k, v in st.items():
            tensors[f"state.{pid}.{k}"] = (v if isinstance(v, torch.Tensor) else torch.tensor(v)).detach().cpu().contiguous()
    rng = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for d, s in enumerate(torch.cuda.get_rng_state_all()):
            rng[f"torch_cuda_{d}"] = s
    trainer_state = {"version": 1, "step": step, "cursor": cursor, "backend": "pytorch",
                     "optimizer": {"param_groups": opt["param_groups"]}, "lora": policy.lora}
    return writer.write_checkpoint(step, _stalled_for_tests({
        CHECKPOINT_FILES["weights"]: st_save(policy.trainable_state()),
        CHECKPOINT_FILES["optimizer"]: st_save(tensors) if tensors else st_save({"empty": torch.zeros(0)}),
        CHECKPOINT_FILES["rng"]: st_save(rng),
        CHECKPOINT_FILES["trainer"]: (json.dumps(trainer_state, indent=2) + "\n").encode(),
    }))


def load_checkpoint(folder: str, policy: Policy, optimizer: torch.optim.Optimizer) -> tuple[int, int]:
    """Restores the weights, the optimizer and the RNG states from `folder`; returns (step, data cursor).
    A missing or foreign file is a CheckpointError naming the checkpoint."""
    name = Path(folder).name
    _, files = read_checkpoint(folder)
    for f in CHECKPOINT_FILES.values():
        if f not in files:
            raise CheckpointError(folder, f"checkpoint {name}: {f} is missing from its manifest — pick an earlier checkpoint")
    try:
        st = json.loads(files[CHECKPOINT_FILES["trainer"]])
    except json.JSONDecodeError as e:
        raise CheckpointError(folder, f"checkpoint {name}: trainer.json is not valid JSON ({e.msg})") from None
    if st.get("version") != 1 or st.get("backend") != "pytorch":
        raise CheckpointError(folder, f"checkpoint {name}: trainer.json is not a PyTorch-backend trainer state")
    if bool(st.get("lora")) != policy.lora:
        raise CheckpointError(folder, f"checkpoint {name}: it holds {'LoRA adapters' if st.get('lora') else 'full weights'}, the run is configured otherwise")
    policy.load_trainable_state({k: v.to(policy.device) for k, v in st_load(files[CHECKPOINT_FILES["weights"]]).items()})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, v in st_load(files[CHECKPOINT_FILES["optimizer"]]).items():
        if key == "empty":
            continue
        _, pid, param = key.split(".", 2)
        state.setdefault(int(pid), {})[param] = v
    optimizer.load_state_dict({"state": state, "param_groups": st["optimizer"]["param_groups"]})
    rng = st_load(files[CHECKPOINT_FILES["rng"]])
    torch.set_rng_state(rng["torch_cpu"])
    if torch.cuda.is_available():
        cuda_states = [rng[k] for k in sorted(rng) if k.startswith("torch_cuda_")]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
    return int(st["step"]), int(st["cursor"])


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
