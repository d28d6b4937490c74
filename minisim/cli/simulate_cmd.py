"""``minisim simulate``: stream a recording and its ground truth to one zarr store."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from minisim.cli import UserError, explain_validation

#: Local execution choices for ``--scheduler`` besides a ``tcp://`` address.
LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")
#: The embedded default: see benchmarks/bench_cli_scheduler.py for the measurement behind it.
DEFAULT_SCHEDULER = "threads"
#: Ground-truth fields named in the end-of-run summary when present.
SUMMARY_FIELDS = ("C", "S", "shifts", "bleaching", "illumination", "vignette", "leakage", "neuropil_spatial",
                  "vasculature_mask")  # fmt: skip


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate a recording (default: the built-in realistic spec) and write it with its ground truth to zarr",
        description="Simulate a recording and write the movie and its exact ground truth to one zarr store. "
        "Interrupted writes resume with --resume (or automatically when rerun with the same spec).",
    )
    p.add_argument("spec", nargs="?", metavar="SPEC.json", help="spec file (default: `minisim spec` output)")
    p.add_argument("--out", required=True, metavar="PATH", help="output zarr store (a directory)")
    p.add_argument("--duration", type=float, metavar="S", help="override the recording length in seconds")
    p.add_argument("--seed", type=int, metavar="N", help="override the spec's seed")
    p.add_argument("--scope", metavar="NAME", help="scope preset for the default spec (e.g. miniscope_v4)")
    p.add_argument("--region", metavar="NAME", help="brain-region preset for the default spec (e.g. ca1)")
    p.add_argument(
        "--gaussian-shot-noise",
        action="store_true",
        help="use the faster Gaussian shot-noise model (minisim 1.0 parity) instead of exact Poisson",
    )
    p.add_argument(
        "--chunk-frames",
        type=int,
        metavar="N",
        help="frames per chunk (memory vs. parallelism; never changes the output values)",
    )
    p.add_argument("--stages", nargs="+", metavar="STAGE", help="also store these intermediate movie stages")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help=f"dask scheduler: tcp://host:port of a running cluster, or one of {', '.join(LOCAL_SCHEDULERS)} "
        f"(default: {DEFAULT_SCHEDULER} on every core)",
    )
    p.add_argument("--workers", type=int, metavar="N", help="local workers (default: every core)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing minisim store at --out")
    p.add_argument("--resume", action="store_true", help="continue an interrupted write to --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--memory-limit",
        metavar="SIZE",
        default=None,
        help="refuse specs estimated to need more memory (default: physical memory; e.g. 8GB, none)",
    )
    p.set_defaults(func=run)  # fmt: skip


def read_spec(path: str) -> Any:
    """Read and validate a spec file; every problem becomes a short UserError."""
    from pydantic import ValidationError

    from minisim.spec import Spec

    file = Path(path)
    try:
        text = file.read_text()
    except OSError as err:
        raise UserError(f"cannot read spec file {path!r}: {err.strerror or err}; fix: check the path") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}; fix: "
                        "correct the JSON (run `minisim spec` for a valid example)") from err  # fmt: skip
    try:
        return Spec.model_validate(data)
    except ValidationError as err:
        raise explain_validation(err, f"spec {path}") from err


def build_spec(args: argparse.Namespace) -> Any:
    """The spec to simulate: file or default, with the command-line overrides applied and validated."""
    from pydantic import ValidationError

    from minisim.defaults import default_spec
    from minisim.spec import Spec

    if args.spec is not None:
        if args.scope or args.region:
            raise UserError("--scope/--region choose a preset for the default spec; fix: drop them or the spec file")
        spec = read_spec(args.spec)
    else:
        try:
            spec = default_spec(scope=args.scope, region=args.region)
        except (ValueError, KeyError) as err:
            raise UserError(f"{err}".strip("'\"")) from err
    data = spec.model_dump(mode="json")
    if args.duration is not None:
        data["acquisition"]["duration_s"] = args.duration
    if args.seed is not None:
        data["seed"] = args.seed
    if args.gaussian_shot_noise:
        sensors = [s for s in data["steps"] if s.get("kind") == "sensor"]
        if not sensors:
            raise UserError("--gaussian-shot-noise needs a sensor step; fix: add {'kind': 'sensor'} to the spec")
        sensors[0]["shot_noise"] = "gaussian"
    try:
        return Spec.model_validate(data)
    except ValidationError as err:
        raise explain_validation(err, "spec (after command-line overrides)") from err


@contextlib.contextmanager
def execution(scheduler: str | None, workers: int | None) -> Iterator[str]:
    """Activate the dask scheduler for this run; yields a description of it."""
    import dask

    if workers is not None and workers < 1:
        raise UserError(f"--workers {workers} must be at least 1")
    name = scheduler or DEFAULT_SCHEDULER
    if "://" in name or ":" in name:
        from distributed import Client

        try:
            client = Client(name, timeout="10s")
        except (OSError, TimeoutError, ValueError) as err:
            raise UserError(f"cannot connect to the dask scheduler at {name}: {err}; fix: start one (`dask scheduler` "
                            "then `dask worker ADDRESS`) or drop --scheduler to run locally") from err  # fmt: skip
        with client:
            yield f"distributed scheduler {name} ({len(client.scheduler_info().get('workers', {}))} workers)"
        return
    if name not in LOCAL_SCHEDULERS:
        raise UserError(f"--scheduler {name!r} is neither tcp://host:port nor one of {', '.join(LOCAL_SCHEDULERS)}")
    n = workers or os.cpu_count() or 1
    with _single_threaded_libraries():
        if name == "processes":
            from distributed import Client, LocalCluster

            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                    Client(cluster):  # fmt: skip
                yield f"{n} local worker processes"
            return
        with dask.config.set(scheduler=name, num_workers=n):
            yield "1 thread (synchronous)" if name == "synchronous" else f"{n} threads"


@contextlib.contextmanager
def _memory_limit(value: str | None) -> Iterator[None]:
    """``--memory-limit`` for this run only (the process environment is restored after it)."""
    from minisim._memory import MEMORY_ENV, parse_limit

    if value is None:
        yield
        return
    try:
        parse_limit(value)
    except ValueError as err:
        raise UserError(str(err).replace(f"{MEMORY_ENV}=", "--memory-limit ")) from err
    previous = os.environ.get(MEMORY_ENV)
    os.environ[MEMORY_ENV] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(MEMORY_ENV, None)
        else:
            os.environ[MEMORY_ENV] = previous


@contextlib.contextmanager
def _single_threaded_libraries() -> Iterator[None]:
    """One thread per dask worker inside numpy's BLAS and OpenCV, so cores are not oversubscribed."""
    import cv2

    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        threadpool_limits = None
    try:
        if threadpool_limits is None:
            yield
        else:
            with threadpool_limits(limits=1):
                yield
    finally:
        cv2.setNumThreads(previous)


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def summary(rec: Any, out: Path, elapsed_s: float | None, where: str = "") -> str:
    """What was written and where, for the end of a run."""
    gt = rec.ground_truth
    movie = rec.observed
    acq = rec.spec.acquisition
    present = sorted(f for f in SUMMARY_FIELDS if gt.stored(f) is not None)
    lines = [
        f"minisim: wrote {out}" + (f" in {elapsed_s:.1f} s" if elapsed_s is not None else "") + where,
        f"  frames        {movie.shape[0]} ({acq.duration_s:g} s at {acq.fps:g} Hz), "
        f"{movie.shape[1]} x {movie.shape[2]} px, {movie.dtype}",
        f"  cells         {gt.n_units} placed in view, {int(gt.detectable.sum())} detectable",
        f"  size on disk  {_human(_size(out))}",
        f"  movie         {out / 'observed'}  (frame, height, width)",
        f"  ground truth  {out / 'ground_truth'}/  ({', '.join([*present, 'planted footprints'])}, ...)",
        f'  load with     minisim.Recording.load("{out}")',
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from minisim.engine import simulate
    from minisim.store import StoreError, check_destination, load, partial_path, save, tidy_destination

    start = time.perf_counter()
    spec = build_spec(args)
    if args.chunk_frames is not None and args.chunk_frames < 1:
        raise UserError(f"--chunk-frames {args.chunk_frames} must be a positive number of frames")
    out = Path(args.out).expanduser().absolute()
    try:
        status = check_destination(out, overwrite=args.overwrite, resume=args.resume, spec_key=spec.cache_key())
    except StoreError as err:
        raise UserError(str(err)) from err
    if status == "done":
        try:
            tidy_destination(out)  # what a write killed after its rename left beside the store
            done = load(out)
        except StoreError as err:
            raise UserError(f"{err} (--resume found this store complete, but it does not load)") from err
        print(summary(done, out, None, " (already complete; nothing to do)"))
        return 0
    with _memory_limit(args.memory_limit), execution(args.scheduler, args.workers) as how:
        if not args.no_progress:
            print(f"minisim: simulating {spec.acquisition.n_frames} frames on {how}", file=sys.stderr)
        try:
            rec = simulate(spec, chunk_frames=args.chunk_frames)
        except ValueError as err:  # e.g. the memory estimate exceeds the limit
            raise UserError(str(err)) from err
        try:
            save(rec, out, overwrite=args.overwrite, resume=args.resume, chunk_frames=args.chunk_frames,
                 stages=args.stages, progress=not args.no_progress)  # fmt: skip
        except StoreError as err:
            raise UserError(str(err).replace("stages: ", "--stages: ", 1)) from err
        except KeyboardInterrupt:
            if partial_path(out).exists():
                print(f"minisim: finished chunks are kept in {partial_path(out)}; rerun the same command with "
                      "--resume to continue", file=sys.stderr)  # fmt: skip
            raise
    print(summary(rec, out, time.perf_counter() - start))
    return 0
