"""The ``minisim`` command line.

Each subcommand lives in its own module exposing ``register(subparsers)``,
which adds its parser and sets ``func`` to a callable taking the parsed
arguments and returning an exit status. Add a module and a line to
``SUBCOMMANDS`` to add a command.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Modules of minisim.cli that provide subcommands, in help order.
SUBCOMMANDS = ("spec_cmd", "graph_cmd", "preview_cmd", "export_cmd")


class UserError(Exception):
    """A problem with the user's input: printed as one short message, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minisim", description="Simulate 1-photon miniscope recordings with exact ground truth.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"minisim.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"minisim {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"minisim {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
