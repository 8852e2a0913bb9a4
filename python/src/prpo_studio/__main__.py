"""`python -m prpo_studio <command>`: one entry point, each command in its own module (imported lazily,
so `--help` and `advantages` never import torch's heavier dependencies)."""

from __future__ import annotations

import importlib
import sys

# command -> (module, function, one-line help). Each function takes argv (the arguments after the command)
# and returns the exit status.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "advantages": ("prpo_studio.advantages_cli", "main", "reshape advantages: JSON in, JSON out (the TypeScript CLI's contract)"),
    "train": ("prpo_studio.trainer.cli", "train_main", "train a Hugging Face VLM; prints the run directory"),
    "resume": ("prpo_studio.trainer.cli", "resume_main", "continue a run from a checkpoint"),
    "serve": ("prpo_studio.serve", "main", "the JSON-RPC backend over stdio (what the extension starts)"),
    "tiny-model": ("prpo_studio.tiny_model", "main", "write a tiny random-weight model of a real family"),
}


def usage() -> str:
    width = max(len(c) for c in COMMANDS)
    lines = ["usage: python -m prpo_studio <command> [options]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines += ["", "`python -m prpo_studio <command> --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"prpo_studio: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module, function, _ = COMMANDS[command]
    return int(getattr(importlib.import_module(module), function)(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
