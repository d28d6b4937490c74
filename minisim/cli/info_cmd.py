"""``minisim info``: summarise a stored recording, finished or not."""

from __future__ import annotations

import argparse
from typing import Any

from minisim.cli import UserError


def register(sub: Any) -> None:
    p = sub.add_parser("info", help="summarise a recording store (or its unfinished write)")
    p.add_argument("path", metavar="PATH", help="a store written by `minisim simulate --out PATH`")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from minisim.cli.simulate_cmd import _human
    from minisim.store import StoreError, describe

    try:
        info = describe(args.path)
    except StoreError as err:
        raise UserError(str(err)) from err
    if "damaged" in info:
        raise UserError(info["damaged"])
    if "other_format" in info:
        print(f"{info['path']}: NOT READABLE by this minisim (store format_version {info['format_version']})")
        print(f"  {info['other_format']}")
        print(f"  regenerate with: {info['regenerate']}")
        return 0
    done = str(info.get("chunks_done", "?"))
    status = "complete" if info["complete"] else f"INCOMPLETE ({done}{' chunks written' if '/' in done else ''})"
    print(f"{info['path']}: {status}")
    for key in ("format_version", "spec_cache_key", "engine_version", "n_frames", "chunk_frames", "observed",
                "n_units", "stages", "ground_truth_fields"):  # fmt: skip
        if key in info:
            value = ", ".join(info[key]) if isinstance(info[key], list) else info[key]
            print(f"  {key:20s}{value}")
    print(f"  {'size on disk':20s}{_human(info['bytes_on_disk'])}")
    if not info["complete"]:
        spec = f"{info['path']}/spec.json" if info.get("spec_cache_key") else "<the same spec.json>"
        dest = info["path"].removesuffix(".partial")
        print(f"  resume with: minisim simulate {spec} --out {dest} --resume")
    return 0
