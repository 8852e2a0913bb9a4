"""Checks of the run-directory records, mirroring src/core/run/validate.ts: a record the Python trainer writes
must read back without an issue in the TypeScript reader, so the writer checks it here first and a bad record
fails in the trainer (naming the field) instead of surfacing later in the viewer."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

RUN_SCHEMA = "prpo-studio/run@1"
ALGORITHMS = ("grpo", "dapo", "vppo", "pgpo", "prpo")
RUN_SOURCES = ("prpo-studio", "verl", "easyr1", "trl")
EVENT_TYPES = ("started", "paused", "resumed", "checkpoint", "stopped", "completed", "failed")
VIEWS = ("image", "blind", "perturbed", "mild")
SCORES = ("S", "G", "U", "rvd")
CHECKPOINT_MANIFEST = "manifest.json"


class RunFormatError(ValueError):
    """A record that the TypeScript reader would report: `where: field reason`."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


def is_plain_file_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and not re.search(r"[\\/\0]", name)


def _show(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, list):
        return f"an array of {len(v)}"
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, str):
        return f"string {v[:40]!r}"
    return f"{type(v).__name__} {v}"


def _is_num(v: Any) -> bool:
    # bool is an int in Python but not a number in JSON's sense.
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return _is_num(v) and math.isfinite(v) and float(v).is_integer()


class _Fields:
    def __init__(self, o: dict, where: str, prefix: str = "") -> None:
        self.o, self.where, self.prefix = o, where, prefix

    def fail(self, field: str, reason: str) -> None:
        raise RunFormatError(self.where, f"{self.prefix}{field} {reason}")

    def present(self, k: str, optional: bool) -> bool:
        if k not in self.o:
            if optional:
                return False
            self.fail(k, "is missing")
        return True

    def str_(self, k: str, optional: bool = False) -> None:
        if self.present(k, optional) and not isinstance(self.o[k], str):
            self.fail(k, f"must be a string, got {_show(self.o[k])}")

    def num(self, k: str, optional: bool = False) -> None:
        # NaN in a scalar field is written as null, which the TS reader refuses: the writer must not emit it.
        if self.present(k, optional) and not (_is_num(self.o[k]) and math.isfinite(self.o[k])):
            self.fail(k, f"must be a (finite) number, got {_show(self.o[k])}")

    def int_(self, k: str, optional: bool = False, minimum: float = 0) -> None:
        if self.present(k, optional):
            v = self.o[k]
            if not _is_int(v) or v < minimum:
                self.fail(k, f"must be an integer ≥ {minimum}, got {_show(v)}")

    def bool_(self, k: str, optional: bool = False) -> None:
        if self.present(k, optional) and not isinstance(self.o[k], bool):
            self.fail(k, f"must be true or false, got {_show(self.o[k])}")

    def one_of(self, k: str, allowed: tuple[str, ...]) -> None:
        self.present(k, False)
        if self.o[k] not in allowed:
            self.fail(k, f"must be one of {', '.join(allowed)}, got {_show(self.o[k])}")

    def obj(self, k: str, optional: bool = False) -> dict | None:
        if not self.present(k, optional):
            return None
        if not isinstance(self.o[k], dict):
            self.fail(k, f"must be an object, got {_show(self.o[k])}")
        return self.o[k]

    def sub(self, k: str, optional: bool = False) -> "_Fields | None":
        v = self.obj(k, optional)
        return None if v is None else _Fields(v, self.where, f"{self.prefix}{k}.")

    def numbers(self, k: str, length: int | None, optional: bool, label: str = "tokens") -> None:
        if not self.present(k, optional):
            return
        v = self.o[k]
        if not isinstance(v, list):
            self.fail(k, f"must be an array of numbers, got {_show(v)}")
        for i, x in enumerate(v):
            if x is not None and not _is_num(x):
                self.fail(f"{k}[{i}]", f"must be a number, got {_show(x)}")
        if length is not None and len(v) != length:
            self.fail(k, f"has {len(v)} entries, {label} has {length}")

    def strings(self, k: str, optional: bool = False) -> None:
        if not self.present(k, optional):
            return
        v = self.o[k]
        if not isinstance(v, list):
            self.fail(k, f"must be an array of strings, got {_show(v)}")
        for i, x in enumerate(v):
            if not isinstance(x, str):
                self.fail(f"{k}[{i}]", f"must be a string, got {_show(x)}")


def _record(v: Any, where: str, what: str) -> dict:
    if not isinstance(v, dict):
        raise RunFormatError(where, f"expected {what} (a JSON object), got {_show(v)}")
    return v


def _iso_time(f: _Fields, k: str, optional: bool = False) -> None:
    f.str_(k, optional)
    v = f.o.get(k)
    if isinstance(v, str):
        try:
            datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            f.fail(k, f"must be an ISO-8601 time, got {_show(v)}")


def validate_manifest(o: Any, where: str) -> dict:
    o = _record(o, where, "a run manifest")
    f = _Fields(o, where)
    if o.get("schema") != RUN_SCHEMA:
        f.fail("schema", f'must be "{RUN_SCHEMA}", got {_show(o.get("schema"))}')
    f.str_("id")
    if not is_plain_file_name(o["id"]) or o["id"].startswith("."):
        f.fail("id", f"must be a folder name (no separators, not starting with \".\"), got {_show(o['id'])}")
    f.str_("name")
    _iso_time(f, "created")
    f.one_of("source", RUN_SOURCES)
    f.one_of("algorithm", ALGORITHMS)
    f.obj("config")
    for k in ("model", "task"):
        s = f.sub(k)
        assert s is not None
        s.str_("name")
        s.obj("config")
    f.int_("seed", False, -(2**53))
    f.int_("steps", True)
    return o


def validate_metrics_row(o: Any, where: str) -> dict:
    o = _record(o, where, "a metrics row")
    f = _Fields(o, where)
    f.int_("step")
    for k, x in o.items():
        if x is not None and not _is_num(x):
            f.fail(k, f"must be a number, got {_show(x)}")
    return o


def validate_rollout(o: Any, where: str) -> dict:
    o = _record(o, where, "a rollout")
    f = _Fields(o, where)
    f.str_("id")
    f.int_("step")
    f.str_("group")
    f.str_("prompt")
    f.str_("image", True)
    f.str_("answer", True)
    f.str_("response")
    f.num("reward")
    f.bool_("correct", True)
    f.num("advantage")
    f.num("alpha", True)
    f.strings("tokens")
    n = len(o["tokens"])
    f.numbers("tokenIds", n, True)
    for i, x in enumerate(o.get("tokenIds") or []):
        if not _is_int(x):
            f.fail(f"tokenIds[{i}]", f"must be an integer, got {_show(x)}")
    logp = f.sub("logp")
    assert logp is not None
    for view in VIEWS:
        logp.numbers(view, n, view != "image")
    scores = f.sub("scores", True)
    if scores:
        for s in SCORES:
            scores.numbers(s, n, True)
    f.numbers("weights", n, True)
    f.numbers("mask", n, True)
    f.numbers("tokenAdvantages", n, False)
    f.numbers("perceptual", n, True)
    if "".join(o["tokens"]) != o["response"]:
        # Not a TS check, but §7 asks for it: the views colour the response by its tokens.
        f.fail("tokens", "do not concatenate to the response")
    f.strings("synthetic", True)
    f.obj("extra", True)
    return o


def validate_event(o: Any, where: str) -> dict:
    o = _record(o, where, "a run event")
    f = _Fields(o, where)
    f.one_of("type", EVENT_TYPES)
    _iso_time(f, "time")
    f.int_("step")
    f.str_("reason", True)
    f.str_("checkpoint", True)
    f.int_("pid", True, 1)
    f.str_("host", True)
    return o


def validate_checkpoint_manifest(o: Any, where: str) -> dict:
    o = _record(o, where, "a checkpoint manifest")
    f = _Fields(o, where)
    f.int_("step")
    _iso_time(f, "time")
    files = f.obj("files")
    assert files is not None
    for name in files:
        if not is_plain_file_name(name) or name == CHECKPOINT_MANIFEST:
            f.fail(f"files.{name}", "must be a plain file name other than manifest.json")
        e = _Fields(files, where, "files.").sub(name)
        assert e is not None
        e.int_("bytes")
        e.str_("sha256")
        if not re.fullmatch(r"[0-9a-f]{64}", e.o["sha256"]):
            f.fail(f"files.{name}.sha256", f"must be 64 hex digits, got {_show(e.o['sha256'])}")
    return o
