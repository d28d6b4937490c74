"""The ``minisim`` command line.

Each subcommand lives in its own module exposing ``register(subparsers)``,
which adds its parser and sets ``func`` to a callable taking the parsed
arguments and returning an exit status. Add a module and a line to
``SUBCOMMANDS`` to add a command.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

#: Modules of minisim.cli that provide subcommands, in help order.
SUBCOMMANDS = (
    "simulate_cmd",
    "spec_cmd",
    "info_cmd",
    "verify_cmd",
    "graph_cmd",
    "preview_cmd",
    "export_cmd",
    "photometry_cmd",
)


class UserError(Exception):
    """A problem with the user's input: printed as one short message, exit status 2."""


def _short(value: object) -> str:
    from minisim._base import _short as short

    return short(value)


def explain_validation(err: Exception, source: str = "spec", limit: int = 4) -> UserError:
    """A pydantic ValidationError as one short message: field path, value, rule and fix."""
    lines = []
    errors = err.errors(include_url=False) if hasattr(err, "errors") else []
    for e in errors[:limit]:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]).lstrip(".") or source
        msg = str(e["msg"]).removeprefix("Value error, ")
        if "got " not in msg and "input" in e and not isinstance(e["input"], dict | list):
            msg += f" (got {_short(e['input'])})"
        lines.append(f"{where}: {msg}")
    more = f"\n  ... and {len(errors) - limit} more" if len(errors) > limit else ""
    body = "\n  ".join(lines) if lines else str(err)
    return UserError(f"invalid {source}:\n  {body}{more}\n(run `minisim spec` for a valid spec to start from)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minisim", description="Simulate 1-photon miniscope recordings with exact ground truth."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"minisim.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage and the problem
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    from minisim.perf import reuse_freed_memory

    reuse_freed_memory()  # the CLI owns its process: keep freed frame blocks for the next chunk
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"minisim {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"minisim {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `minisim spec | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
