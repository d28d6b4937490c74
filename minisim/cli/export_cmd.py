"""``minisim export``: a saved recording to video, TIFF, or minian's zarr layout."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

FORMATS = ("video", "tiff", "minian")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="export a saved recording as video, TIFF or minian's layout",
        description=(
            "Stream a recording saved with `minisim simulate --out` to another format, chunk by chunk: "
            "'video' (8-bit AVI; lossless Y800 by default), 'tiff' (multi-page, counts unchanged), or "
            "'minian' (a directory of zarr groups varr, true_A, true_C, true_S, true_motion that minian's "
            "open_minian reads; --varr-dtype uint8 rescales a 16-bit movie for minian's median denoise)."
        ),
    )
    p.add_argument("recording", metavar="RECORDING.zarr", help="a recording store")
    p.add_argument("--to", choices=FORMATS, required=True, help="output format")
    p.add_argument("--out", required=True, metavar="PATH", help="output file (video, tiff) or directory (minian)")
    p.add_argument("--fps", type=float, default=None, help="video: frame rate in the file (default: the acquisition's)")
    p.add_argument(
        "--vmin", type=float, default=0.0, help="video, minian --varr-dtype uint8: value mapped to 0 (default 0)"
    )
    p.add_argument(
        "--vmax",
        type=float,
        default=None,
        help="video: value shown white (default: sensor full scale); minian --varr-dtype uint8: value mapped "
        "to 255 (default: the movie's maximum)",
    )
    p.add_argument(
        "--varr-dtype",
        choices=("uint8",),
        default=None,
        help="minian: write varr as 8-bit (minian's default median denoise needs it), counts rescaled "
        "linearly from [--vmin, --vmax] to 0..255, the scale kept in varr's attributes",
    )
    p.add_argument("--codec", default="Y800", help="video: 4-character fourcc, Y800 (lossless) or MJPG (lossy)")
    p.add_argument(
        "--frames-per-file", type=int, default=None, metavar="N", help="tiff: split into numbered files of N frames"
    )
    p.add_argument("--chunk-frames", type=int, default=None, metavar="N", help="frames computed per chunk")
    p.add_argument("--overwrite", action="store_true", help="replace existing output")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from minisim._store_format import refuse_inside_store, store_attrs
    from minisim.cli import UserError
    from minisim.recording import Recording

    src, out = Path(args.recording), Path(args.out)
    a_src, a_out = src.expanduser().absolute(), out.expanduser().absolute()
    if a_out == a_src or a_out in a_src.parents:
        raise UserError(
            f"--out {str(out)!r} contains the recording being exported ({str(src)!r}); writing there would "
            "destroy the input; fix: choose an --out outside it"
        )
    try:
        refuse_inside_store(out)
    except ValueError as err:
        raise UserError(str(err)) from err
    if out.is_dir() and store_attrs(out) is not None:
        raise UserError(f"--out {str(out)!r} is a minisim store; refusing to export into it; fix: choose another --out")
    if args.to != "minian" and out.is_dir():
        raise UserError(
            f"--out {str(out)!r} is a directory; a {args.to} export writes one file and never replaces a "
            "directory (even with --overwrite); fix: give a file name, e.g. --out movie.tif"
        )
    if args.varr_dtype is not None and args.to != "minian":
        raise UserError(f"--varr-dtype applies to --to minian only, not --to {args.to}; fix: drop --varr-dtype")
    if args.fps is not None and not (0 < args.fps < float("inf")):
        raise UserError(f"--fps {args.fps} must be a positive frame rate in frames/s; fix: e.g. --fps 20")
    if args.chunk_frames is not None and args.chunk_frames < 1:
        raise UserError(f"--chunk-frames {args.chunk_frames} must be a positive number of frames")
    if args.frames_per_file is not None and args.frames_per_file < 1:
        raise UserError(f"--frames-per-file {args.frames_per_file} must be a positive number of frames")
    if args.to != "minian" and out.exists() and not args.overwrite:
        raise UserError(f"{str(out)!r} exists; fix: pass --overwrite or choose another --out")
    if args.to != "minian" and not out.parent.is_dir():
        raise UserError(f"the directory of --out {str(out)!r} does not exist; fix: create it first")
    try:
        rec = Recording.load(src)
    except (ValueError, OSError) as err:
        raise UserError(str(err)) from err
    progress = not args.no_progress
    try:
        if args.to == "video":
            written: Any = rec.write_video(
                out,
                chunk_frames=args.chunk_frames,
                fps=args.fps,
                vmin=args.vmin,
                vmax=args.vmax,
                codec=args.codec,
                progress=progress,
            )
        elif args.to == "tiff":
            files = rec.write_tiff(
                out, frames_per_file=args.frames_per_file, chunk_frames=args.chunk_frames, progress=progress
            )
            written = (
                files[0]
                if len(files) == 1
                else f"{len(files)} files {files[0].name} .. {files[-1].name} in {out.parent}"
            )
        else:
            written = rec.to_minian(
                out,
                chunk_frames=args.chunk_frames,
                overwrite=args.overwrite,
                progress=progress,
                varr_dtype=args.varr_dtype,
                varr_range=(args.vmin, args.vmax),
            )
    except (ValueError, FileExistsError, RuntimeError) as err:
        raise UserError(str(err)) from err
    except OSError as err:
        raise UserError(f"writing {str(out)!r} failed: {err}; any earlier file there is unchanged") from err
    print(f"wrote {written}")
    return 0
