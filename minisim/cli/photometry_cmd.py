"""``minisim photometry``: simulate fiber-photometry sessions of the IBL task, or print a default spec."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from minisim.cli import UserError, explain_validation


def register(sub: Any) -> None:
    p = sub.add_parser(
        "photometry",
        help="simulate fiber-photometry sessions (IBL task, ONE/ALF layout, truth in alf/sim)",
        description="Fiber-photometry sessions simulated from physics, written so the IBL stack (ONE, "
        "iblphotometry) reads them unmodified.",
    )
    psub = p.add_subparsers(dest="photometry_command", required=True, metavar="SUBCOMMAND")
    s = psub.add_parser("simulate", help="write N sessions of a subject under a ONE root")
    s.add_argument("spec", nargs="?", metavar="SPEC.json", help="photometry spec (default: `minisim photometry spec`)")
    s.add_argument("--out", required=True, metavar="ROOT", help="ONE cache root (created if needed)")
    s.add_argument("--sessions", type=int, default=1, metavar="N", help="number of daily sessions (default 1)")
    s.add_argument("--seed", type=int, metavar="N", help="override the spec's seed")
    s.add_argument("--trials", type=int, metavar="N", help="override the number of trials per session")
    s.add_argument(
        "--chunk-rows", type=int, default=16384, metavar="N", help="frame rows per chunk (never changes values)"
    )
    s.add_argument("--overwrite", action="store_true", help="replace sessions that already exist under ROOT")
    s.add_argument(
        "--nwb", action="store_true", help="also write each session to ROOT/nwb/ as NWB (extra photometry-nwb)"
    )
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=run_simulate)
    d = psub.add_parser("spec", help="print the default photometry spec as JSON")
    d.set_defaults(func=run_spec)


def _read(path: str | None) -> Any:
    from pydantic import ValidationError

    from minisim.photometry.spec import PhotometrySpec

    if path is None:
        return PhotometrySpec()
    try:
        data = json.loads(Path(path).read_text())
    except OSError as err:
        raise UserError(f"cannot read spec file {path!r}: {err.strerror or err}; fix: check the path") from err
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not valid JSON: {err.msg} at line {err.lineno}; fix: correct the JSON "
                        "(run `minisim photometry spec` for a valid example)") from err  # fmt: skip
    try:
        return PhotometrySpec.model_validate(data)
    except ValidationError as err:
        raise explain_validation(err, "photometry spec") from err


def run_spec(args: argparse.Namespace) -> int:
    from minisim.photometry.spec import PhotometrySpec

    print(PhotometrySpec().model_dump_json(indent=2))
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from minisim.photometry.writer import simulate_to

    spec = _read(args.spec)
    update: dict[str, Any] = {}
    if args.seed is not None:
        update["seed"] = args.seed
    if args.trials is not None:
        update["task"] = {**spec.task.model_dump(), "n_trials": args.trials}
    if update:
        try:
            spec = type(spec).model_validate({**spec.model_dump(), **update})
        except ValidationError as err:
            raise explain_validation(err, "photometry spec") from err
    if args.sessions < 1:
        raise UserError(f"--sessions {args.sessions}: must be at least 1")
    if args.chunk_rows < 1:
        raise UserError(f"--chunk-rows {args.chunk_rows}: must be at least 1")
    try:
        paths = simulate_to(
            spec, args.out, sessions=args.sessions, overwrite=args.overwrite, progress=not args.no_progress,
            chunk_rows=args.chunk_rows, nwb=args.nwb,
        )  # fmt: skip
    except (FileExistsError, ValueError, ImportError) as err:
        raise UserError(str(err)) from err
    for p in paths:
        print(p)
    print(f"{len(paths)} session(s) and the ONE cache tables under {args.out}")
    return 0
