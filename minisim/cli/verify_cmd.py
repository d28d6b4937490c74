"""``minisim verify``: check every byte of a stored recording against the digests it recorded."""

from __future__ import annotations

import argparse
from typing import Any

from minisim.cli import UserError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "verify",
        help="check every file of a recording store against its recorded size and SHA-256",
        description="Re-hash every file of a complete store and compare it with the contents list written with "
        "it (load, info and export already check that every file is there at its size). Exit 0 when "
        "everything matches; 2, naming the first bad file, when not.",
    )
    p.add_argument("path", metavar="STORE", help="a store written by `minisim simulate --out STORE`")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from minisim.cli.simulate_cmd import _human
    from minisim.store import StoreError, describe, verify

    try:
        info = describe(args.path)
        if "damaged" in info:
            raise StoreError(info["damaged"])
        if not info["complete"]:
            raise StoreError(
                f"{info['path']!r} is an unfinished write, which has nothing to verify yet; fix: finish it with "
                "`minisim simulate <its spec.json> --out STORE --resume`"
            )
        checked = verify(Path(info["path"]))
    except StoreError as err:
        raise UserError(str(err)) from err
    print(f"{info['path']}: verified {checked['files']} files, {_human(checked['bytes'])}: all match their SHA-256")
    return 0
