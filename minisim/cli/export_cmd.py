"""``minisim export``: a saved recording to any format of the exporter table (:mod:`minisim.exporters`).

The formats, and one flag per option, come from the table: an option
``frames_per_file: int | None`` of a format becomes ``--frames-per-file N``;
a boolean option defaulting to false becomes a switch. ``--overwrite`` and
``--no-progress`` apply to every format. Options whose type has no command
line form (e.g. a ``PerfTracker``) are left to the Python API.
"""

from __future__ import annotations

import argparse
import types
import typing
from pathlib import Path
from typing import Any

from minisim.exporters import Exporter, exporters

#: Options every format gets from the command line itself (not as format flags).
COMMON = ("overwrite", "progress")
_SCALARS = (int, float, str)


def _cli_type(annotation: Any) -> tuple[type | None, bool]:
    """(scalar type, takes a list) for an option annotation; (None, False) if it has no CLI form."""
    args = (
        typing.get_args(annotation)
        if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union
        else (annotation,)
    )
    args = tuple(a for a in args if a is not type(None))
    for a in args:
        if typing.get_origin(a) is list and typing.get_args(a) and typing.get_args(a)[0] in _SCALARS:
            return typing.get_args(a)[0], True
    scalars = [a for a in args if a in (*_SCALARS, bool)]
    return (scalars[0], False) if len(scalars) == len(args) and scalars else (None, False)


def _flags(table: dict[str, Exporter]) -> dict[str, dict[str, Any]]:
    """Option name -> argparse settings, merged over formats (the formats using it are named in its help)."""
    flags: dict[str, dict[str, Any]] = {}
    for fmt, exporter in table.items():
        for name, field in exporter.options.model_fields.items():
            if name in COMMON:
                continue
            kind, many = _cli_type(field.annotation)
            if kind is None:
                continue
            entry = flags.setdefault(name, {"kind": kind, "many": many, "formats": [], "help": field.description})
            if (entry["kind"], entry["many"]) == (kind, many):
                entry["formats"].append(fmt)
    return flags


def register(sub: Any) -> None:
    table = exporters()
    described = "; ".join(f"'{name}' ({e.summary})" for name, e in table.items())
    p = sub.add_parser(
        "export",
        help="export a saved recording to another format (" + ", ".join(table) + ")",
        description=f"Stream a recording saved with `minisim simulate --out` to another format, chunk by chunk: "
        f"{described}. Third-party formats register in the 'minisim.exporters' entry-points group.",
    )
    p.add_argument("recording", metavar="RECORDING.zarr", help="a recording store")
    p.add_argument("--to", choices=list(table), required=True, help="output format")
    p.add_argument("--out", required=True, metavar="PATH", help="output file or directory (see each format)")
    for name, f in _flags(table).items():
        flag = "--" + name.replace("_", "-")
        where = ", ".join(f["formats"])
        if f["kind"] is bool:
            p.add_argument(flag, action="store_true", default=argparse.SUPPRESS, help=f"{where}: {f['help']}")
        else:
            metavar = "N" if f["kind"] is int else name.upper()
            p.add_argument(
                flag,
                type=f["kind"],
                nargs="+" if f["many"] else None,
                default=argparse.SUPPRESS,
                metavar=metavar,
                help=f"{where}: {f['help']}",
            )
    p.add_argument("--overwrite", action="store_true", help="replace existing output")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _options(args: argparse.Namespace, exporter: Exporter) -> dict[str, Any]:
    """The options given on the command line for this format; a flag of another format is an error."""
    from minisim.cli import UserError

    fields = exporter.options.model_fields
    given = {k: v for k, v in vars(args).items() if k not in ("recording", "to", "out", "overwrite", "no_progress")}
    given.pop("func", None)
    given.pop("command", None)
    foreign = sorted(k for k in given if k not in fields)
    if foreign:
        own = sorted("--" + k.replace("_", "-") for k in fields if k not in COMMON)
        raise UserError(
            f"{', '.join('--' + k.replace('_', '-') for k in foreign)} is not an option of the {exporter.name} "
            f"format (its options: {', '.join(own) or 'none'}); fix: drop it or choose another --to"
        )
    if "overwrite" in fields:
        given["overwrite"] = args.overwrite
    if "progress" in fields:
        given["progress"] = not args.no_progress
    return given


def _check_paths(args: argparse.Namespace, exporter: Exporter, src: Path, out: Path) -> None:
    from minisim._store_format import refuse_inside_store, store_attrs
    from minisim.cli import UserError

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
    if exporter.name != "zarr" and out.is_dir() and store_attrs(out) is not None:
        raise UserError(f"--out {str(out)!r} is a minisim store; refusing to export into it; fix: choose another --out")
    if exporter.target == "file":
        if out.is_dir():
            raise UserError(
                f"--out {str(out)!r} is a directory; a {exporter.name} export writes one file and never replaces a "
                "directory (even with --overwrite); fix: give a file name, e.g. --out movie.tif"
            )
        if out.exists() and not args.overwrite:
            raise UserError(f"{str(out)!r} exists; fix: pass --overwrite or choose another --out")
        if not out.parent.is_dir():
            raise UserError(f"the directory of --out {str(out)!r} does not exist; fix: create it first")


def _check_values(options: dict[str, Any]) -> None:
    from minisim.cli import UserError

    fps = options.get("fps")
    if fps is not None and not (0 < fps < float("inf")):
        raise UserError(f"--fps {fps} must be a positive frame rate in frames/s; fix: e.g. --fps 20")
    for name in ("chunk_frames", "frames_per_file"):
        value = options.get(name)
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')} {value} must be a positive number of frames")


def _describe(written: Any, out: Path) -> str:
    if isinstance(written, list):
        if len(written) == 1:
            return str(written[0])
        return f"{len(written)} files {written[0].name} .. {written[-1].name} in {out.parent}"
    return str(written)


def run(args: argparse.Namespace) -> int:
    from minisim.cli import UserError
    from minisim.exporters import get_exporter, validate_options
    from minisim.store import load

    exporter = get_exporter(args.to)
    src, out = Path(args.recording), Path(args.out)
    _check_paths(args, exporter, src, out)
    options = _options(args, exporter)
    _check_values(options)
    try:
        options = validate_options(exporter, options)
        rec = load(src)
    except (ValueError, OSError) as err:
        raise UserError(str(err)) from err
    try:
        written = exporter.write(rec, out, **options)
    except (ValueError, FileExistsError, RuntimeError) as err:
        raise UserError(str(err)) from err
    except OSError as err:
        raise UserError(f"writing {str(out)!r} failed: {err}; any earlier file there is unchanged") from err
    print(f"wrote {_describe(written, out)}")
    return 0
