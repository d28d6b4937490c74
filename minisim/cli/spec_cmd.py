"""``minisim spec``: print the default spec as JSON, a starting point to edit."""

from __future__ import annotations

import argparse
from typing import Any

from minisim.cli import UserError


def register(sub: Any) -> None:
    p = sub.add_parser("spec", help="print the default recording spec as JSON (a starting point to edit)")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="recording length in seconds")
    p.add_argument("--scope", metavar="NAME", help="scope preset (e.g. miniscope_v4)")
    p.add_argument("--region", metavar="NAME", help="brain-region preset (e.g. ca1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from minisim.cli import explain_validation
    from minisim.defaults import default_spec

    try:
        spec = default_spec(duration_s=args.duration, scope=args.scope, region=args.region)
    except ValidationError as err:
        raise explain_validation(err, "spec") from err
    except ValueError as err:
        raise UserError(str(err)) from err
    print(spec.to_json())
    return 0
