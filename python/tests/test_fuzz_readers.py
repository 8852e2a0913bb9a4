"""Property-based fuzzing (Hypothesis) of the Python readers of files other programs write (issue #14):
run.json, events.jsonl, checkpoint manifests and files, and the `advantages` input. Valid files are damaged —
truncated, bit-flipped, given bytes that break UTF-8, values of the wrong type, huge numbers and strings, deep
nesting — and every case must end in a value or the reader's documented error, never another exception.
Seeded (derandomized); PRPO_FUZZ=long runs thousands of cases per reader instead of a few hundred."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prpo_studio.advantages_cli import main as advantages_main
from prpo_studio.run import CheckpointError, RunFormatError, RunWriter, read_checkpoint, read_events, read_manifest

LONG = os.environ.get("PRPO_FUZZ") == "long"
FUZZ = settings(max_examples=2000 if LONG else 200, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

DEEP = "[" * 20_000 + "]" * 20_000
REPLACEMENTS = ["null", "true", '"x"', "[]", "{}", "-1", "1.5", "1e308", "1e999", "9007199254740993", "1000000000",
                json.dumps("a" * (1 << 20)), DEEP, '{"a":' * 5000 + "0" + "}" * 5000, '"\\ud800"',
                json.dumps("<script>alert(1)</script>\u202e{{x}}"), '"../../etc/passwd"']
HOSTILE_BYTES = [b"\xff", b"\xc3", b"\xe2\x80", b"\xed\xa0\x80", b"\x00", b"\n", b"\xef\xbb\xbf", b"{", b'"']

ops = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1, max_size=4)


def damage_bytes(data: bytes, steps: list[tuple[int, int, int]]) -> bytes:
    b = bytearray(data)
    for kind, a, c in steps:
        at = a % (len(b) + 1)
        if kind == 0:
            del b[at:]
        elif kind == 1 and b:
            b[a % len(b)] ^= 1 << (c % 8)
        elif kind == 2:
            b[at:at] = HOSTILE_BYTES[c % len(HOSTILE_BYTES)]
        elif kind == 3:
            del b[at:at + 1 + c % 32]
        elif kind == 4 and b:
            b[a % len(b)] = c % 256
        else:
            b[at:at] = b[at:at + 1 + c % 64]
    return bytes(b)


def damage_json(doc: dict, steps: list[tuple[int, int, int]]) -> bytes:
    """Replaces values (by their position in a walk) with REPLACEMENTS, then applies the byte steps with kind 5."""
    paths: list[tuple] = []

    def walk(v, at=()):
        paths.append(at)
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, (*at, k))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, (*at, i))

    value = json.loads(json.dumps(doc))
    marks: list[str] = []
    for kind, a, c in steps:
        paths.clear()
        walk(value)  # again: an earlier replacement may have removed a subtree
        path = paths[a % len(paths)]
        if not path:
            continue
        parent = value
        for k in path[:-1]:
            parent = parent[k]
        parent[path[-1]] = f"\u0001M{len(marks)}\u0001"
        marks.append(REPLACEMENTS[c % len(REPLACEMENTS)])
    text = json.dumps(value)
    for i, m in enumerate(marks):
        text = text.replace(json.dumps(f"\u0001M{i}\u0001"), m, 1)
    return damage_bytes(text.encode("utf-8", "surrogatepass"), [s for s in steps if s[0] == 5])


MANIFEST = {"name": "t", "source": "prpo-studio", "algorithm": "grpo", "config": {"k": 1}, "model": {"name": "m", "config": {}},
            "task": {"name": "shapes", "config": {}}, "seed": 1, "steps": 3}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    w = RunWriter.create(tmp_path_factory.mktemp("fuzz"), MANIFEST)
    w.append_event({"type": "started", "step": 0})
    w.write_checkpoint(1, {"weights.safetensors": b"\x00" * 64, "trainer.json": b'{"step": 1}'})
    w.append_event({"type": "completed", "step": 1})
    return w.dir


@FUZZ
@given(steps=ops)
def test_run_json_is_read_or_refused_with_run_format_error(run_dir: Path, steps) -> None:
    good = json.loads((run_dir / "run.json").read_text())
    path = run_dir / "run.json"
    path.write_bytes(damage_json(good, steps))
    try:
        m = read_manifest(run_dir)
        assert isinstance(m["id"], str)
    except RunFormatError as e:
        assert e.where.startswith(str(path)) and e.reason
    finally:
        path.write_text(json.dumps(good, indent=2))


@FUZZ
@given(steps=ops, which=st.integers(0, 2))
def test_events_jsonl_never_raises(run_dir: Path, steps, which: int) -> None:
    path = run_dir / "events.jsonl"
    good = path.read_bytes()
    lines = good.decode().splitlines()
    lines[which % len(lines)] = damage_json(json.loads(lines[which % len(lines)]), steps).decode("utf-8", "replace")
    path.write_bytes(damage_bytes("\n".join(lines).encode() + b"\n", [s for s in steps if s[0] in (1, 2)]))
    try:
        for e in read_events(run_dir):
            assert isinstance(e["type"], str)
    finally:
        path.write_bytes(good)


@FUZZ
@given(steps=ops, target=st.integers(0, 2))
def test_checkpoints_are_read_whole_or_refused_with_checkpoint_error(run_dir: Path, steps, target: int) -> None:
    folder = run_dir / "checkpoints" / "step-000001"
    names = ["manifest.json", "weights.safetensors", "trainer.json"]
    good = {n: (folder / n).read_bytes() for n in names}
    name = names[target]
    damaged = damage_json(json.loads(good[name]), steps) if name == "manifest.json" else damage_bytes(good[name], steps)
    (folder / name).write_bytes(damaged)
    try:
        _, files = read_checkpoint(folder)
        for n, data in files.items():
            assert data == good[n], "what a checkpoint read accepts is what was written"
    except CheckpointError as e:
        assert str(e).startswith("checkpoint step-000001: ")
    finally:
        for n, data in good.items():
            (folder / n).write_bytes(data)


BATCH = {"algorithm": "prpo", "config": {"tau": 0.3}, "rollouts": [
    {"id": f"r{i}", "group": f"g{i // 2}", "reward": i % 2,
     "logp": {"image": [-0.1, -0.5, -1.2], "blind": [-0.4, -0.6, -2.5], "mild": [-0.2, -0.5, -1.5]}} for i in range(4)]}


class _Stdin(io.StringIO):
    def isatty(self) -> bool:
        return False


@FUZZ
@given(steps=ops)
def test_advantages_input_exits_0_or_2_with_one_line(steps) -> None:
    out, err = io.StringIO(), io.StringIO()
    stdin = _Stdin(damage_json(BATCH, steps).decode("utf-8", "replace"))
    code = advantages_main([], stdin=stdin, stdout=out, stderr=err)
    if code == 0:
        assert isinstance(json.loads(out.getvalue())["rollouts"], list)
    else:
        assert code == 2
        text = err.getvalue()
        assert text.startswith("prpo-studio advantages: ") and text.count("\n") == 1


def test_deep_or_non_utf8_run_files_are_errors_not_crashes(tmp_path: Path) -> None:
    """Found by the fuzzers: json.loads raised RecursionError on 20,000-deep nesting, read_text raised
    UnicodeDecodeError on invalid UTF-8 (the TS reader reads both as a refused or skipped line)."""
    w = RunWriter.create(tmp_path, MANIFEST)
    (w.dir / "run.json").write_text('{"schema": ' + DEEP + "}")
    with pytest.raises(RunFormatError, match="not valid JSON \\(nested too deeply"):
        read_manifest(w.dir)
    (w.dir / "events.jsonl").write_bytes(b'{"type": "started", "step": 0, "time": "2026-01-01T00:00:00Z"}\n\xff\xfe{\n' + DEEP.encode() + b"\n")
    assert [e["type"] for e in read_events(w.dir)] == ["started"]
    ck = Path(w.write_checkpoint(1, {"a.bin": b"x"}))
    (ck / "manifest.json").write_text(DEEP)
    with pytest.raises(CheckpointError, match="manifest.json is not valid JSON \\(nested too deeply\\)"):
        read_checkpoint(ck)


def test_a_deeply_nested_advantages_input_is_exit_2() -> None:
    err = io.StringIO()
    assert advantages_main([], stdin=_Stdin(DEEP), stdout=io.StringIO(), stderr=err) == 2
    assert err.getvalue() == "prpo-studio advantages: stdin is not valid JSON (nested too deeply)\n"


def test_a_reward_of_1e308_is_not_an_overflow_error() -> None:
    """Found by the long fuzz (PRPO_FUZZ=long, the derandomized case steps=[(0, 188, 194)]): a reward of 1e308 made
    the group's sum of squares raise OverflowError (`d ** 2`); it is inf, as in the TypeScript code, and both
    give the same advantages."""
    doc = json.loads(json.dumps(BATCH))
    doc["rollouts"][2]["reward"] = 1e308
    out, err = io.StringIO(), io.StringIO()
    assert advantages_main([], stdin=_Stdin(json.dumps(doc)), stdout=out, stderr=err) == 0, err.getvalue()
    got = [(r["id"], r["advantage"]) for r in json.loads(out.getvalue())["rollouts"]]
    assert got == [("r0", -0.7071057811879616), ("r1", 0.7071057811879616), ("r2", 0.0), ("r3", 0.0)]
