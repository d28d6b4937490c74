"""``minisim spec``: print the default spec as JSON, a starting point to edit."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("spec", help="print the default recording spec as JSON")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="recording length in seconds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from minisim.defaults import default_spec

    print(default_spec(duration_s=args.duration).to_json())
    return 0
