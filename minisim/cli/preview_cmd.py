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
    p.add_argument("--overwrite", action="store_true", help="replace an existing image")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import matplotlib

    from minisim._atomic import atomic_file
    from minisim._store_format import named_path, refuse_inside_store
    from minisim.plot import plot_summary
    from minisim.recording import Recording

    store = named_path(Path(args.recording).expanduser())
    if not store.name:  # the filesystem root
        raise UserError(
            f"{args.recording!r} is not a minisim recording; fix: pass a store written by `minisim simulate --out PATH`"
        )
    out = Path(args.out) if args.out else store.with_suffix(".png")
    if not 1 <= args.dpi <= 2400:
        raise UserError(f"--dpi {args.dpi} must be between 1 and 2400 dots per inch; fix: e.g. --dpi 100")
    if args.max_frames < 1:
        raise UserError(f"--max-frames {args.max_frames} must be a positive number of frames")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    formats = Figure().canvas.get_supported_filetypes()
    if out.suffix.lstrip(".").lower() not in formats:
        raise UserError(
            f"--out {str(out)!r}: {out.suffix or 'no suffix'!r} is not an image format matplotlib writes; "
            f"fix: end it in one of {', '.join('.' + f for f in sorted(formats))} (e.g. .png)"
        )
    try:
        refuse_inside_store(out)
    except ValueError as err:
        raise UserError(str(err)) from err
    if out.is_dir():
        raise UserError(f"--out {str(out)!r} is a directory; fix: give an image file name such as preview.png")
    if out.exists() and not args.overwrite:
        raise UserError(f"{str(out)!r} exists; fix: pass --overwrite to replace it, or choose another --out")
    if not out.parent.is_dir():
        raise UserError(f"the directory of --out {str(out)!r} does not exist; fix: create it first")
    if not store.exists():
        raise UserError(f"{store} does not exist; fix: pass a recording saved by `minisim simulate --out {store}`")
    try:
        rec = Recording.load(store)
    except (OSError, ValueError, KeyError) as err:
        raise UserError(f"cannot read {store}: {err}") from err
    try:
        with atomic_file(out) as tmp:
            plot_summary(rec, tmp, max_frames=args.max_frames, dpi=args.dpi)
    except (ValueError, OSError) as err:
        raise UserError(f"cannot draw {out}: {err}; any earlier file there is unchanged") from err
    print(f"wrote {out}")
    return 0
