"""`python -m prpo_studio advantages` — the TypeScript `node dist/cli.js advantages` (src/cli/advantages.ts) in
Python: the same input, the same output (fields, order and number formatting), the same options and the same
one-line messages on bad input (exit code 2).

    python -m prpo_studio advantages < batch.json
    python -m prpo_studio advantages --input batch.json
    python -m prpo_studio advantages --rollouts RUN/rollouts/step-000010.jsonl --algorithm prpo --set tau=0.3
"""

from __future__ import annotations

import errno
import os
import re
import sys
from typing import IO, Any

from .algorithms.config import CONFIG_KEYS, ConfigError, resolve_config
from .algorithms.jsfmt import js_json, js_keys, js_parse, js_string
from .algorithms.validate import InputError

USAGE = f"""usage: prpo-studio advantages [--input FILE | --rollouts STEP.jsonl] [--algorithm NAME]
                                [--config JSON] [--set KEY=VALUE]... [--pretty]

Reads {{"algorithm", "config", "rollouts"}} as JSON on stdin (or --input FILE) and writes the outcome
advantage A_i and the per-token advantages of every rollout as JSON on stdout.
  --rollouts FILE   read logged rollouts (a run's rollouts/step-NNNNNN.jsonl) instead; the algorithm and
                    configuration default to the run's run.json
  --algorithm NAME  grpo, dapo, vppo, pgpo or prpo (overrides the input's)
  --config JSON     configuration overrides, merged over the input's
  --set KEY=VALUE   one override (VALUE is JSON, or else a string), e.g. --set tau=0.3 --set rvd=gate
  --pretty          indent the output
Configuration keys: {', '.join(CONFIG_KEYS)}
Exit codes: 0 done, 2 bad input (one line on stderr says what and where).
"""


class UsageError(Exception):
    """A usage or input problem: reported as one line, exit code 2."""


def _parse_args(argv: list[str]) -> dict[str, Any]:
    opts: dict[str, Any] = {"config": {}, "pretty": False, "help": False, "input": None, "rollouts": None, "algorithm": None}
    i = 0
    while i < len(argv):
        arg = argv[i]
        # --flag value, or --flag=value
        eq = arg.find("=") if arg.startswith("--") else -1
        flag = arg[:eq] if eq > 0 else arg

        def value() -> str:
            nonlocal i
            if eq > 0:
                return arg[eq + 1:]
            i += 1
            if i >= len(argv):
                raise UsageError(f"{flag} needs a value")
            return argv[i]

        if flag in ("--help", "-h"):
            opts["help"] = True
        elif flag == "--pretty":
            opts["pretty"] = True
        elif flag in ("--input", "--rollouts", "--algorithm"):
            opts[flag[2:]] = value()
        elif flag == "--config":
            try:
                parsed = js_parse(value())
            except ValueError as e:
                raise UsageError(f"--config is not valid JSON ({e})") from None
            if not isinstance(parsed, dict):
                raise UsageError("--config must be a JSON object")
            opts["config"].update(parsed)
        elif flag == "--set":
            kv = value()
            at = kv.find("=")
            if at <= 0:
                raise UsageError(f"--set expects KEY=VALUE, got {js_string(kv)}")
            opts["config"][kv[:at]] = _parse_value(kv[at + 1:])
        else:
            raise UsageError(f"unknown option {js_string(arg)} (see --help)")
        i += 1
    if opts["input"] is not None and opts["rollouts"] is not None:
        raise UsageError("give --input or --rollouts, not both")
    return opts


def _parse_value(raw: str) -> Any:
    """A --set value: JSON where it parses (0.3, true, {"quantile": 0.8}), else the bare string (gate)."""
    try:
        return js_parse(raw)
    except ValueError:
        return raw


def _describe(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, str):
        return js_string(v)
    if isinstance(v, bool):
        return "boolean"
    return "number" if isinstance(v, (int, float)) else "object"


def _parse_batch(text: str, source: str) -> dict[str, Any]:
    """The batch from a JSON document: {"algorithm", "config", "rollouts"}."""
    try:
        doc = js_parse(text)
    except ValueError as e:
        raise UsageError(f"{source} is not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise UsageError(f'{source}: expected a JSON object {{"algorithm", "config", "rollouts"}}, got {_describe(doc)}')
    for key in js_keys(doc):
        if key not in ("algorithm", "config", "rollouts"):
            raise UsageError(f"{key}: unknown key (expected algorithm, config, rollouts)")
    config = doc.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise UsageError(f"config: expected an object, got {_describe(config)}")
    if not isinstance(doc.get("rollouts"), list):
        got = "nothing" if "rollouts" not in doc else _describe(doc["rollouts"])
        raise UsageError(f"rollouts: expected an array of rollouts, got {got}")
    return {"algorithm": doc.get("algorithm"), "has_algorithm": "algorithm" in doc, "config": config, "rollouts": doc["rollouts"]}


def _read_logged_batch(file: str) -> dict[str, Any]:
    """Logged rollouts (RolloutRecord lines of a run's rollouts/step-NNNNNN.jsonl) and, where the run has a
    run.json, its algorithm and configuration. A bad line is reported as `file:line: reason`; an unterminated,
    unparsable last line (a write in progress) is skipped, as the run reader does."""
    if not os.path.exists(file):
        raise UsageError(f"--rollouts {file}: no such file")
    rollouts: list[Any] = []
    logged: dict[str, Any] = {}
    with open(file, encoding="utf-8", errors="replace") as f:
        text = f.read()
    lines = text.split("\n")
    for n, line in enumerate(lines, start=1):
        if line.strip() == "":
            continue
        try:
            record = js_parse(line)
        except ValueError as e:
            if n == len(lines):  # the last line has no newline: torn by a writer that has not finished
                break
            raise UsageError(f"{file}:{n}: not valid JSON ({e})") from None
        r = record if isinstance(record, dict) else {}
        rollouts.append({k: r[k] for k in ("id", "group", "reward", "logp") if k in r})
        if isinstance(r.get("id"), str):
            logged[r["id"]] = {k: r[k] for k in ("advantage", "tokenAdvantages") if k in r}
    algorithm: Any = None
    has_algorithm = False
    config: dict[str, Any] = {}
    manifest_file = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(file))), "run.json")
    if os.path.exists(manifest_file):
        try:
            with open(manifest_file, encoding="utf-8", errors="replace") as f:
                manifest = js_parse(f.read())
        except ValueError as e:
            raise UsageError(f"{manifest_file}: not valid JSON ({e})") from None
        if not isinstance(manifest, dict):
            raise UsageError(f"{manifest_file}: expected a JSON object")
        if "algorithm" in manifest:
            algorithm, has_algorithm = manifest["algorithm"], True
        # run.json holds the trainer's settings too: keep the algorithm's keys.
        for k, v in (manifest.get("config") or {}).items():
            if k in CONFIG_KEYS:
                config[k] = v
    return {"algorithm": algorithm, "has_algorithm": has_algorithm, "config": config, "rollouts": rollouts, "logged": logged}


def _run(config: Any, rollouts: list[Any], logged: dict[str, Any] | None) -> dict[str, Any]:
    from .algorithms.advantages import compute_advantages  # torch is imported here, after the cheap checks

    results = [r.to_json() for r in compute_advantages(config, rollouts)]
    if logged is not None:
        results = [{**r, "logged": logged[r["id"]]} if r["id"] in logged else r for r in results]
    return {"algorithm": config.preset, "config": config.to_json(), "rollouts": results}


def main(argv: list[str] | None = None, stdin: IO[str] | None = None, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    for stream in (stdout, stderr):
        # UTF-8 as Node writes, whatever the console's code page (messages say "≥", ids may be any text).
        if hasattr(stream, "reconfigure") and (getattr(stream, "encoding", "") or "").lower().replace("-", "") != "utf8":
            stream.reconfigure(encoding="utf-8")
    try:
        opts = _parse_args(list(sys.argv[1:] if argv is None else argv))
        if opts["help"]:
            stdout.write(USAGE)
            return 0
        if opts["rollouts"] is not None:
            batch = _read_logged_batch(opts["rollouts"])
            if opts["algorithm"] is not None and batch["algorithm"] != opts["algorithm"]:
                batch["config"].pop("estimator", None)
        elif opts["input"] is not None:
            try:
                with open(opts["input"], encoding="utf-8", errors="replace") as f:  # as Node's readFileSync(…, 'utf8')
                    text = f.read()
            except OSError as e:
                code = errno.errorcode.get(e.errno or 0, str(e))
                raise UsageError(f"--input {opts['input']}: cannot be read ({code})") from None
            batch = _parse_batch(text, opts["input"])
        else:
            if stdin.isatty():
                raise UsageError("no input: pipe a batch on stdin or pass --input FILE (see --help)")
            raw = stdin.buffer.read().decode("utf-8", "replace") if hasattr(stdin, "buffer") else stdin.read()
            batch = _parse_batch(raw, "stdin")
        if opts["algorithm"] is not None:
            algorithm = opts["algorithm"]
        elif batch["has_algorithm"]:
            algorithm = batch["algorithm"]
        else:
            raise UsageError("algorithm: missing (one of grpo, dapo, vppo, pgpo, prpo)")
        config = resolve_config(algorithm, {**batch["config"], **opts["config"]})
        out = _run(config, batch["rollouts"], batch.get("logged"))
        stdout.write(js_json(out, 2 if opts["pretty"] else None) + "\n")
        return 0
    except (UsageError, ConfigError, InputError) as e:
        message = re.sub(r"\s*\n\s*", " ", str(e))
        stderr.write(f"prpo-studio advantages: {message}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
