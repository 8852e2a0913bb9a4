"""Verifiable rewards. The default is exact match of the final answer; a user's function is named as
`module:function` (imported from the data folder or the Python path) and called as
`fn(response: str, answer: str, example: dict) -> float | (float, bool)`."""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable

_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_ANSWER_WORD = re.compile(r"\banswer\b\s*(?:is\s*)?[:=]?\s*", re.IGNORECASE)
_EDGE = ".,;:!?\"'()[]{}<>`"


def final_answer(response: str) -> str:
    """The response's final answer, first rule that applies:
    1. the content of the last `\\boxed{…}`;
    2. the first word after the last word "answer" (optionally "answer:", "answer is", "answer =") —
       the shapes task's `see … answer X` form;
    3. the last word of the response.
    Surrounding punctuation is stripped; the result is compared case-sensitively after that."""
    boxed = _BOXED.findall(response)
    if boxed:
        return boxed[-1].strip().strip(_EDGE)
    matches = list(_ANSWER_WORD.finditer(response))
    if matches:
        rest = response[matches[-1].end():].split()
        return rest[0].strip(_EDGE) if rest else ""
    words = response.split()
    return words[-1].strip(_EDGE) if words else ""


@dataclass
class RewardResult:
    reward: float
    correct: bool


def exact_match(response: str, answer: str, example: dict | None = None) -> RewardResult:
    correct = final_answer(response) == str(answer).strip()
    return RewardResult(1.0 if correct else 0.0, correct)


RewardFn = Callable[[str, str, dict], RewardResult]


def load_reward(spec: str | None, data_dir: str | None = None) -> RewardFn:
    """`None`/'exact' → exact_match; else `module:function`. The data folder is put on the path first, so a
    `reward.py` next to data.jsonl is found as `reward:fn`."""
    if not spec or spec == "exact":
        return exact_match
    if ":" not in spec:
        raise ValueError(f"reward {spec!r}: expected 'module:function' (e.g. 'my_rewards:score') or 'exact'")
    mod_name, fn_name = spec.split(":", 1)
    if data_dir and data_dir not in sys.path:
        sys.path.insert(0, data_dir)
    try:
        fn = getattr(importlib.import_module(mod_name), fn_name)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"reward {spec!r}: cannot import it ({e}); put {mod_name}.py in the data folder or on PYTHONPATH") from None

    def call(response: str, answer: str, example: dict) -> RewardResult:
        out: Any = fn(response, answer, example)
        if isinstance(out, tuple):
            return RewardResult(float(out[0]), bool(out[1]))
        r = float(out)
        return RewardResult(r, r > 0)

    return call
