"""Writes a run directory exactly as docs/run-format.md says (the Python twin of src/core/run/writer.ts and
checkpoint.ts): run.json rewritten only atomically, append-only JSONL with NaN/±Infinity as null, images and
checkpoints written under a temporary name and renamed, checkpoint manifest (sizes, sha256) written last."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import math
import os
import re
import secrets
import shutil
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .validate import (
    CHECKPOINT_MANIFEST,
    RUN_SCHEMA,
    RunFormatError,
    is_plain_file_name,
    validate_checkpoint_manifest,
    validate_event,
    validate_manifest,
    validate_metrics_row,
    validate_rollout,
)


def step_name(step: int) -> str:
    return f"step-{step:06d}"


def parse_step_name(name: str) -> int | None:
    m = re.fullmatch(r"step-(\d+)", name)
    return int(m.group(1)) if m else None


def now_iso() -> str:
    """ISO-8601 UTC with milliseconds and Z, as JavaScript's Date.toISOString writes it."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id(preset: str, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{preset}-{now.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def json_safe(v: Any) -> Any:
    """NaN/±Infinity → None (JSON.stringify's null), numpy/torch scalars and arrays → plain Python."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, int):
        return v
    if isinstance(v, Mapping):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    tolist = getattr(v, "tolist", None)  # numpy arrays/scalars, torch tensors
    if tolist is not None:
        return json_safe(tolist())
    raise TypeError(f"cannot write {type(v).__name__} as JSON")


def json_line(v: Any) -> str:
    return json.dumps(json_safe(v), ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"


def _write_durable(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # Windows cannot open a folder; the rename is still atomic there
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_file_atomic(path: Path, data: bytes | str) -> None:
    """Through a temporary sibling, fsync'd, then renamed over `path` (atomic on POSIX)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{secrets.token_hex(3)}")
    _write_durable(tmp, raw)
    os.replace(tmp, path)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except PermissionError:
        return True
    except OSError as e:
        return e.errno == errno.EPERM


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_png(image: Any) -> bytes:
    """PNG bytes of a PIL image, or of an HWC uint8 / float-in-[0,1] array."""
    from PIL import Image  # pillow is a dependency of the package; imported here to keep `run` light

    if not isinstance(image, Image.Image):
        import numpy as np

        a = np.asarray(image)
        if a.dtype != np.uint8:
            a = (np.nan_to_num(a.astype(np.float64), nan=0.0).clip(0, 1) * 255 + 0.5).astype(np.uint8)
        image = Image.fromarray(a)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


# ---- reading ---------------------------------------------------------------------------------------------


def _loads(text: str) -> Any:
    """json.loads, with a document nested too deeply for Python's recursive decoder refused as bad JSON (a
    hostile file must be an error naming it, not a RecursionError)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None


def read_events(run_dir: str | os.PathLike) -> list[dict]:
    """events.jsonl's valid events (a torn or bad line is skipped, as the TS reader does)."""
    out: list[dict] = []
    path = Path(run_dir) / "events.jsonl"
    if not path.exists():
        return out
    # Invalid UTF-8 becomes U+FFFD, as the TS reader decodes (a damaged line is then skipped, not a crash).
    for n, text in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1):
        if not text.strip():
            continue
        try:
            out.append(validate_event(_loads(text), f"{path}:{n}"))
        except (ValueError, RunFormatError):
            continue
    return out


def derive_status(events: list[dict], is_alive: Callable[[int], bool] = pid_alive) -> str:
    """docs/run-format.md "Status": the last non-checkpoint event decides; a running/paused run whose writer
    (pid of the last started/resumed on this host) is gone is 'interrupted'."""
    last = next((e for e in reversed(events) if e["type"] != "checkpoint"), None)
    if last is None:
        return "stopped"
    status = {"started": "running", "resumed": "running"}.get(last["type"], last["type"])
    if status in ("running", "paused"):
        writer = next((e for e in reversed(events) if e["type"] in ("started", "resumed")), None)
        pid = writer.get("pid") if writer else None
        host = writer.get("host") if writer else None
        if pid is not None and (host is None or host == socket.gethostname()) and pid != os.getpid() and not is_alive(pid):
            return "interrupted"
    return status


def read_manifest(run_dir: str | os.PathLike) -> dict:
    path = Path(run_dir) / "run.json"
    try:
        text = path.read_text("utf-8", errors="replace")
    except FileNotFoundError:
        raise RunFormatError(str(path), "is missing (not a run directory)") from None
    try:
        value = _loads(text)
    except json.JSONDecodeError as e:
        raise RunFormatError(f"{path}:{e.lineno}", f"not valid JSON ({e.msg})") from None
    return validate_manifest(value, str(path))


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message names the folder and the file."""

    def __init__(self, checkpoint: str, message: str) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint


def _fail(folder: Path, what: str) -> CheckpointError:
    return CheckpointError(str(folder), f"checkpoint {folder.name}: {what} — pick an earlier checkpoint")


def read_checkpoint_manifest(folder: str | os.PathLike) -> dict:
    folder = Path(folder)
    path = folder / CHECKPOINT_MANIFEST
    try:
        text = path.read_text("utf-8", errors="replace")
    except FileNotFoundError:
        if not folder.exists():
            raise CheckpointError(str(folder), f"checkpoint {folder} does not exist") from None
        raise _fail(folder, f"{CHECKPOINT_MANIFEST} is missing (the checkpoint was not completely written)") from None
    try:
        return validate_checkpoint_manifest(_loads(text), CHECKPOINT_MANIFEST)
    except RunFormatError as e:
        raise _fail(folder, str(e)) from None
    except json.JSONDecodeError as e:
        raise _fail(folder, f"{CHECKPOINT_MANIFEST} is not valid JSON ({e.msg})") from None


def _size_problem(folder: Path, name: str, size_expected: int) -> str | None:
    try:
        size = (folder / name).stat().st_size
    except FileNotFoundError:
        return f"{name} is missing"
    if size < size_expected:
        return f"{name} is truncated ({size} of {size_expected} bytes)"
    if size > size_expected:
        return f"{name} has {size} bytes, the manifest says {size_expected}"
    return None


def read_checkpoint(folder: str | os.PathLike) -> tuple[dict, dict[str, bytes]]:
    """(manifest, {name: bytes}) after checking presence, size and sha256 of every file; else CheckpointError
    (`checkpoint step-000004: optimizer.safetensors is corrupt (its sha256 does not match the manifest) — …`)."""
    folder = Path(folder)
    manifest = read_checkpoint_manifest(folder)
    files: dict[str, bytes] = {}
    for name, entry in manifest["files"].items():
        problem = _size_problem(folder, name, entry["bytes"])
        if problem:
            raise _fail(folder, problem)
        data = (folder / name).read_bytes()
        if len(data) != entry["bytes"]:
            raise _fail(folder, f"{name} changed while being read ({len(data)} of {entry['bytes']} bytes)")
        if sha256(data) != entry["sha256"]:
            raise _fail(folder, f"{name} is corrupt (its sha256 does not match the manifest)")
        files[name] = data
    return manifest, files


def checkpoint_complete(folder: str | os.PathLike) -> bool:
    try:
        m = read_checkpoint_manifest(folder)
    except CheckpointError:
        return False
    return all(_size_problem(Path(folder), n, e["bytes"]) is None for n, e in m["files"].items())


@dataclass
class CheckpointEntry:
    step: int
    path: str
    complete: bool


def list_checkpoints(run_dir: str | os.PathLike) -> list[CheckpointEntry]:
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    out = []
    for e in root.iterdir():
        step = parse_step_name(e.name) if e.is_dir() else None
        if step is not None:
            out.append(CheckpointEntry(step, str(e.resolve()), checkpoint_complete(e)))
    return sorted(out, key=lambda c: c.step)


def latest_checkpoint(run_dir: str | os.PathLike) -> str | None:
    done = [c for c in list_checkpoints(run_dir) if c.complete]
    return done[-1].path if done else None


def clean_checkpoint_leftovers(run_dir: str | os.PathLike, is_alive: Callable[[int], bool] = pid_alive) -> list[str]:
    """A dead writer's `.tmp-step-N-<pid>-…` folder is removed; its `.old-step-N-<pid>-…` is put back as
    step-N when that is missing, else removed. A live writer's folders are left alone."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    done = []
    for e in sorted(root.iterdir()):
        m = re.fullmatch(r"\.(tmp|old)-(step-\d+)-(\d+)-[0-9a-f]+", e.name)
        if not m:
            continue
        kind, step, pid = m.group(1), m.group(2), int(m.group(3))
        if pid != os.getpid() and is_alive(pid):
            continue
        if kind == "old" and not (root / step).exists():
            os.rename(e, root / step)
            done.append(f"restored {step} from {e.name}")
        else:
            shutil.rmtree(e, ignore_errors=True)
            done.append(f"removed {e.name}")
    return done


# ---- writing ---------------------------------------------------------------------------------------------


def _ends_at_line_start(path: Path) -> bool:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return True
    if size == 0:
        return True
    with open(path, "rb") as f:
        f.seek(size - 1)
        return f.read(1) == b"\n"


WRITER_LOCK = "writer.lock"


class RunBusyError(Exception):
    """Another live process writes the run (its writer.lock; docs/run-format.md, "One writer at a time")."""

    def __init__(self, run_dir: Path, pid: int, host: str) -> None:
        where = "this machine" if host == socket.gethostname() else host
        super().__init__(
            f"{run_dir} is being written by process {pid} on {where}; stop that run first"
            f" (if that process is gone, delete {run_dir / WRITER_LOCK})"
        )
        self.run_dir, self.pid, self.host = run_dir, pid, host


def _take_writer_lock(run_dir: Path, is_alive: Callable[[int], bool] = pid_alive) -> None:
    """The twin of writer.ts takeWriterLock: create writer.lock exclusively, or take over one whose process is
    gone (or that is torn); refuse one held by a live process (another host's pid counts as live)."""
    path = run_dir / WRITER_LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for attempt in range(4):
        try:
            with open(path, "x", encoding="utf-8") as f:
                f.write(json.dumps(me) + "\n")
            return
        except FileExistsError:
            if attempt == 3:
                raise
        try:
            holder = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            holder = None  # torn or vanished: nobody holds it
        pid = holder.get("pid") if isinstance(holder, dict) else None
        host = holder.get("host") if isinstance(holder, dict) and isinstance(holder.get("host"), str) else me["host"]
        if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0:
            if pid == me["pid"] and host == me["host"]:
                return
            if host != me["host"] or is_alive(pid):
                raise RunBusyError(run_dir, pid, host)
        path.unlink(missing_ok=True)  # stale: its writer died


class RunWriter:
    """One run directory. Use RunWriter.create (a new run) or RunWriter.open (resume). Either takes writer.lock
    first: a run another live process writes is refused with RunBusyError, before anything is written."""

    def __init__(self, run_dir: Path, manifest: dict) -> None:
        self.dir = run_dir
        self.manifest = manifest
        self._line_start: set[Path] = set()

    @classmethod
    def create(cls, runs_root: str | os.PathLike, manifest: dict) -> "RunWriter":
        """Creates `<runs_root>/<id>/` with run.json and the empty folders. The id is `<preset>-<time>-<hex>`
        unless `manifest['id']` is given; a drawn id that exists is drawn again, a given one is an error."""
        root = Path(runs_root).resolve()
        rest = dict(manifest)
        given = rest.pop("id", None)
        created = datetime.now(timezone.utc)
        draw = lambda: given or new_run_id(str(rest.get("algorithm")), created)  # noqa: E731
        full = validate_manifest(
            json.loads(json_line({"schema": RUN_SCHEMA, "id": draw(), "created": now_iso(), **rest})), str(root / "run.json")
        )
        root.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, 21):
            try:
                os.mkdir(root / full["id"])  # not recursive: two writers never share a folder
                break
            except FileExistsError:
                if given:
                    raise FileExistsError(f"A run named {given} already exists in {root}; choose another id or open it to resume.") from None
                full["id"] = draw()
        else:
            raise RuntimeError(f"Could not find a free run id in {root} after {attempt} tries.")
        run_dir = root / full["id"]
        for sub in ("rollouts", "images", "checkpoints"):
            (run_dir / sub).mkdir(exist_ok=True)
        _take_writer_lock(run_dir)
        write_file_atomic(run_dir / "run.json", json.dumps(full, indent=2, ensure_ascii=False) + "\n")
        return cls(run_dir, full)

    @classmethod
    def open(cls, run_dir: str | os.PathLike) -> "RunWriter":
        d = Path(run_dir).resolve()
        manifest = read_manifest(d)
        _take_writer_lock(d)
        for sub in ("rollouts", "images", "checkpoints"):
            (d / sub).mkdir(exist_ok=True)
        clean_checkpoint_leftovers(d)
        return cls(d, manifest)

    def _append(self, path: Path, text: str) -> None:
        if path not in self._line_start:
            if not _ends_at_line_start(path):
                text = "\n" + text  # a crashed writer's torn line becomes one reported bad line
            self._line_start.add(path)
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)

    def append_metrics(self, row: Mapping[str, Any]) -> None:
        text = json_line(row)
        validate_metrics_row(json.loads(text), "append_metrics")
        self._append(self.dir / "metrics.jsonl", text)

    def append_rollouts(self, step: int, rollouts: Iterable[Mapping[str, Any]]) -> None:
        """Validates every record as it will read back (NaN → null) before writing any."""
        parts = []
        for i, r in enumerate(rollouts):
            text = json_line(r)
            validate_rollout(json.loads(text), f"append_rollouts(step {step}) rollout {i}")
            if r["step"] != step:
                raise ValueError(f"append_rollouts(step {step}): rollout {i} has step {r['step']}")
            parts.append(text)
        if parts:
            self._append(self.dir / "rollouts" / f"{step_name(step)}.jsonl", "".join(parts))

    def append_event(self, event: Mapping[str, Any]) -> dict:
        """Stamped with the time; 'started'/'resumed' also record this pid and host."""
        e = {**event, "time": now_iso()}
        if e["type"] in ("started", "resumed") and "pid" not in e:
            e["pid"] = os.getpid()
            e["host"] = socket.gethostname()
        text = json_line(e)
        validate_event(json.loads(text), "append_event")
        self._append(self.dir / "events.jsonl", text)
        if e["type"] in ("stopped", "completed", "failed"):
            self.release()  # a finished run has no live writer: another process may resume it
        return e

    def release(self) -> None:
        """Removes writer.lock if it is this process's (append_event does on stopped/completed/failed)."""
        path = self.dir / WRITER_LOCK
        try:
            holder = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(holder, dict) and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
            path.unlink(missing_ok=True)

    def write_image(self, name: str, png: bytes) -> str:
        if not is_plain_file_name(name):
            raise ValueError(f"write_image: {name!r} is not a plain file name")
        write_file_atomic(self.dir / "images" / name, png)
        return f"images/{name}"

    def update_manifest(self, patch: Mapping[str, Any]) -> dict:
        rest = {k: v for k, v in patch.items() if k not in ("id", "schema", "created")}
        nxt = validate_manifest(json.loads(json_line({**self.manifest, **rest})), str(self.dir / "run.json"))
        write_file_atomic(self.dir / "run.json", json.dumps(nxt, indent=2, ensure_ascii=False) + "\n")
        self.manifest = nxt
        return nxt

    def write_checkpoint(self, step: int, files: Mapping[str, bytes]) -> str:
        """checkpoints/step-NNNNNN/ with `files` + manifest.json (sizes, sha256), built in a .tmp-… folder
        (every file fsync'd, the manifest last), then renamed into place. Returns the folder's path."""
        root = self.dir / "checkpoints"
        root.mkdir(exist_ok=True)
        clean_checkpoint_leftovers(self.dir)
        tag = f"{step_name(step)}-{os.getpid()}-{secrets.token_hex(3)}"
        tmp = root / f".tmp-{tag}"
        final = root / step_name(step)
        tmp.mkdir()
        try:
            manifest: dict = {"step": step, "time": now_iso(), "files": {}}
            for name, data in files.items():
                if not is_plain_file_name(name) or name == CHECKPOINT_MANIFEST:
                    raise ValueError(f"write_checkpoint: {name!r} must be a plain file name other than {CHECKPOINT_MANIFEST}")
                _write_durable(tmp / name, data)
                manifest["files"][name] = {"bytes": len(data), "sha256": sha256(data)}
            _write_durable(tmp / CHECKPOINT_MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
            _fsync_dir(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        old = None
        if final.exists():
            old = root / f".old-{tag}"
            os.rename(final, old)
        os.rename(tmp, final)
        _fsync_dir(root)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return str(final)


def mark_interrupted_as_failed(run_dir: str | os.PathLike, is_alive: Callable[[int], bool] = pid_alive) -> dict | None:
    """For a run whose writer died, appends the 'failed' event it could not (same text as the TS trainer)."""
    events = read_events(run_dir)
    if derive_status(events, is_alive) != "interrupted":
        return None
    writer = next((e for e in reversed(events) if e["type"] in ("started", "resumed")), None)
    step = max((e["step"] for e in events), default=0)
    pid = writer.get("pid", "?") if writer else "?"
    return RunWriter.open(run_dir).append_event(
        {"type": "failed", "step": step, "reason": f"the trainer process (pid {pid}) died without stopping the run; resume from the latest checkpoint"}
    )
