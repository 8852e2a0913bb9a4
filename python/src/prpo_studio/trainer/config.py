"""The PyTorch trainer's configuration: the algorithm keys (prpo_studio.algorithms, ALGORITHMS.md) and the
trainer's own keys, one flat camelCase object as in the built-in trainer (src/backend/trainer/config.ts).
Every key is checked; an unknown key or a wrong type is an error naming it
(`config.groupSize: expected an integer ≥ 1, got 0`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable

from ..algorithms.config import CONFIG_KEYS, ConfigError, resolve_config


def _int(lo: int) -> tuple[str, Callable[[Any], bool]]:
    return f"an integer ≥ {lo}", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= lo


def _num(lo: float, hi: float, lo_open: bool = False) -> tuple[str, Callable[[Any], bool]]:
    def ok(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and (v > lo if lo_open else v >= lo) and v <= hi

    return f"a number in {'(' if lo_open else '['}{lo}, {hi}]", ok


_BOOL = ("true or false", lambda v: isinstance(v, bool))
_STR = ("a non-empty string", lambda v: isinstance(v, str) and bool(v))
_STRS = ("a non-empty list of strings", lambda v: isinstance(v, list) and bool(v) and all(isinstance(x, str) and x for x in v))

# key: (default, (expected, check), doc)
TRAINER_KEYS: dict[str, tuple[Any, tuple[str, Callable[[Any], bool]], str]] = {
    "promptsPerStep": (2, _int(1), "prompts per step; each gets groupSize rollouts"),
    "groupSize": (4, _int(1), "rollouts per prompt (G)"),
    "maxNewTokens": (32, _int(1), "longest sampled response"),
    "temperature": (1.0, _num(0, 10, True), "sampling temperature (the log-probs are those of the sampling distribution)"),
    "topP": (1.0, _num(0, 1, True), "nucleus sampling"),
    "lr": (1e-5, _num(0, 1), "AdamW learning rate"),
    "lrWarmupSteps": (0, _int(0), "steps of linear learning-rate warm-up"),
    "weightDecay": (0.0, _num(0, 1), "AdamW weight decay"),
    "maxGradNorm": (1.0, _num(0, 1e6, True), "gradient clipping (global L2 norm)"),
    "miniBatches": (1, _int(1), "optimizer steps per training step, each on a slice of whole groups"),
    "microBatchSize": (4, _int(1), "sequences per forward/backward pass (gradient accumulation over them)"),
    "checkpointEvery": (10, _int(0), "checkpoint every N steps (0: only on request, on stop and at the end)"),
    "patchDropProb": (0.5, _num(0, 1), "perturbed view: probability that a square is blackened"),
    "perturbPatchSize": (14, _int(1), "perturbed view: side of the blackened squares in pixels (VPPO: 14)"),
    "mildSigma": (0.1, _num(0, 1), "mild view: σ of the Gaussian pixel noise on [0, 1]"),
    "blind": ("text", ("'text' or 'black'", lambda v: v in ("text", "black")), "blind view: the prompt without the image, or a black image"),
    "reward": ("exact", _STR, "'exact' (final-answer match) or a user's module:function"),
    "loraRank": (16, _int(1), "LoRA rank r"),
    "loraAlpha": (32.0, _num(0, 1e6, True), "LoRA alpha"),
    "loraTargetModules": (["q_proj", "k_proj", "v_proj", "o_proj"], _STRS, "module names LoRA adapts"),
    "fullFinetune": (False, _BOOL, "train every weight instead of LoRA adapters"),
}


@dataclass
class RunConfig:
    algorithm: Any  # prpo_studio.algorithms.config.AlgorithmConfig
    trainer: dict[str, Any]

    def flat(self) -> dict[str, Any]:
        """run.json's `config`: algorithm keys and trainer keys, flat."""
        return {**self.algorithm.to_json(), **self.trainer}

    def __getitem__(self, key: str) -> Any:
        return self.trainer[key]


def _show(v: Any) -> str:
    try:
        return json.dumps(v)
    except (TypeError, ValueError):
        return repr(v)


def resolve_run_config(preset: str, overrides: dict[str, Any] | None = None) -> RunConfig:
    overrides = dict(overrides or {})
    if not isinstance(overrides, dict):
        raise ConfigError("config", f"config: expected an object, got {_show(overrides)}")
    algo: dict[str, Any] = {}
    trainer = {k: (list(d) if isinstance(d, list) else d) for k, (d, _, _) in TRAINER_KEYS.items()}
    for key, v in overrides.items():
        if key in TRAINER_KEYS:
            expected, ok = TRAINER_KEYS[key][1]
            if not ok(v):
                raise ConfigError(f"config.{key}", f"config.{key}: expected {expected}, got {_show(v)}")
            trainer[key] = float(v) if isinstance(TRAINER_KEYS[key][0], float) else v
        elif key == "preset" or key in CONFIG_KEYS:
            algo[key] = v
        else:
            known = ", ".join([*TRAINER_KEYS, *CONFIG_KEYS])
            raise ConfigError(f"config.{key}", f"config.{key}: unknown key (known: {known})")
    return RunConfig(resolve_config(preset, algo), trainer)


def read_config_file(path: str) -> dict[str, Any]:
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        raise ConfigError("config", f"{path}: cannot be read ({e.strerror})") from None
    try:
        v = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError("config", f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(v, dict):
        raise ConfigError("config", f"{path}: expected a JSON object of configuration keys, got {_show(v)}")
    return v
