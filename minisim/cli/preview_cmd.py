"""``minisim preview``: draw the summary figure of a saved recording to a PNG."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from minisim.cli import UserError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "preview",
        help="draw a saved recording's summary figure (projections, footprints, traces, fields) to a PNG",
    )
    p.add_argument("recording", metavar="RECORDING.zarr", help="store from `minisim simulate` or Recording.save")
    p.add_argument("--out", metavar="PNG", default=None, help="output image (default: RECORDING.png beside the store)")
    p.add_argument("--max-frames", type=int, default=2000, metavar="N", help="frames sampled for the projections")
    p.add_argument("--dpi", type=int, default=100, help="resolution of the PNG (100)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from minisim.plot import plot_summary
    from minisim.recording import Recording

    store = Path(args.recording)
    if not store.exists():
        raise UserError(f"{store} does not exist; fix: pass a recording saved by `minisim simulate --out {store}`")
    try:
        rec = Recording.load(store)
    except (OSError, ValueError, KeyError) as err:
        raise UserError(f"cannot read {store}: {err}") from err
    out = Path(args.out) if args.out else store.with_suffix(".png")
    plot_summary(rec, out, max_frames=args.max_frames, dpi=args.dpi)
    print(f"wrote {out}")
    return 0
