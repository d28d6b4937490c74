"""Compile a Spec into eager cell-phase artifacts and a lazy, frame-chunked movie graph.

Cell phase: each step's :meth:`~minisim.steps.base.StepSpec.compute` runs
once, when one of its artifacts is first needed (so a later sensor-domain
field can feed an earlier cell step, e.g. illumination into bleaching).
Frame phase: each movie-acting step contributes a :class:`MovieOp`, applied
in canonical order as a ``blockwise`` over frame chunks; chains of ops fuse
into one task per chunk. Nothing movie-sized is computed here.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import dask
import dask.array as da
import numpy as np

from minisim.assembly import assemble
from minisim.context import TARGET_CHUNK_BYTES, Geometry, StepContext, geometry_of
from minisim.perf import PerfTracker, measure
from minisim.recording import Recording
from minisim.spec import Spec
from minisim.steps.base import MovieOp, StepSpec
from minisim.steps.fields import add_block, multiply_block
from minisim.steps.registry import kind_of
from minisim.steps.sensor import sensor_block
from minisim.traces import StreamedTraces


def default_chunk_frames(spec: Spec) -> int:
    h, w = geometry_of(spec).canvas_shape
    return int(max(1, min(spec.acquisition.n_frames, TARGET_CHUNK_BYTES // (4 * h * w))))


class Artifacts:
    """Resolves eager artifacts on demand by running their producing step once."""

    def __init__(self, spec: Spec, geometry: Geometry, perf: PerfTracker | None = None):
        self.spec, self.geometry, self.perf = spec, geometry, perf
        self.producer: dict[str, StepSpec] = {a: s for s in spec.steps for a in type(s).produces}
        self.values: dict[str, Any] = {}
        self._running: list[str] = []
        self._done: set[str] = set()

    def available(self, name: str) -> bool:
        return name in self.producer

    def get(self, name: str) -> Any:
        if name not in self.values:
            step = self.producer.get(name)
            if step is None:
                raise KeyError(f"no step in this spec produces {name!r}")
            self.run(step)
        return self.values[name]

    def run(self, step: StepSpec) -> None:
        if step.kind in self._done:
            return
        if step.kind in self._running:
            cycle = " -> ".join([*self._running, step.kind])
            raise RuntimeError(f"circular artifact dependency: {cycle}")
        self._running.append(step.kind)
        try:
            with measure(self.perf, step.stage, domain=type(step).domain):
                products = step.compute(StepContext(self, step))
        finally:
            self._running.pop()
        undeclared = set(products) - set(type(step).produces)
        if undeclared:
            raise RuntimeError(f"step {step.kind!r} returned undeclared artifacts {sorted(undeclared)}")
        self.values.update(products)
        self._done.add(step.kind)

    def run_all(self) -> dict[str, Any]:
        for step in self.spec.steps:
            self.run(step)
        return self.values


def _run_op(
    fn: Any,
    lazy_names: tuple[str, ...],
    shape: tuple[int, int],
    static: Mapping[str, Any],
    eager: Mapping[str, np.ndarray],
    frames: np.ndarray,
    *arrays: np.ndarray,
) -> np.ndarray:
    has_block = len(arrays) > len(lazy_names)
    # The first op gets a read-only zero view: no 20-60 MB zeroed allocation per task (0.5 ms/frame at 608x608),
    # and an op that wrongly writes into its input fails loudly instead of silently.
    block = arrays[0] if has_block else np.broadcast_to(np.float32(0), (len(frames), *shape))
    per_frame = dict(zip(lazy_names, arrays[1:] if has_block else arrays, strict=True))
    if len(frames):
        # Eager per-frame arrays arrive whole (one graph reference); a block takes a view of its frames.
        start = int(frames[0])
        per_frame.update({name: arr[start : start + len(frames)] for name, arr in eager.items()})
    return fn(block, frames, static, per_frame)


def apply_op(movie: da.Array | None, frames: da.Array, op: MovieOp, shape: tuple[int, int], stage: str) -> da.Array:
    """Apply one MovieOp blockwise; returns the new (frame, h, w) dask array.

    Lazy (dask) per-frame arrays are chunked like the frames and passed
    block by block. Eager (numpy) ones are put in the graph once each, as one
    ``delayed`` value without hashing, and every block slices its frames out
    of it inside its own task: the graph holds one reference per array and one
    task per chunk, whatever the recording's length, and the threaded
    scheduler never copies them. (The local *processes* scheduler pickles a
    task's inputs for every task, so for long recordings prefer threads or
    distributed, which ships each array to a worker once.)
    """
    chunks = frames.chunks[0]
    args: list[Any] = []
    lazy_names = tuple(name for name, arr in op.per_frame.items() if isinstance(arr, da.Array))
    for name in lazy_names:
        darr = op.per_frame[name].rechunk((chunks, *op.per_frame[name].shape[1:]))
        args += [darr, "t" + "abcdefg"[: darr.ndim - 1]]
    eager_arrays = {name: np.asarray(arr) for name, arr in op.per_frame.items() if name not in lazy_names}
    eager = dask.delayed(eager_arrays, pure=False, traverse=False)
    static = dask.delayed(dict(op.static), pure=False, traverse=False)
    out_shape = op.out_shape or shape
    inputs: list[Any] = [op.fn, None, lazy_names, None, shape, None, static, None, eager, None, frames, "t"]
    if movie is not None:
        inputs += [movie, "thw"]
        extra: dict[str, Any] = {"adjust_chunks": {"h": (out_shape[0],), "w": (out_shape[1],)}}
    else:
        extra = {"new_axes": {"h": out_shape[0], "w": out_shape[1]}}
    return da.blockwise(
        _run_op,
        "thw",
        *inputs,
        *args,
        dtype=op.out_dtype,
        concatenate=True,
        token=f"minisim-{stage}",
        meta=np.empty((0, 0, 0), dtype=op.out_dtype),
        **extra,
    )


def build_movie(
    spec: Spec, artifacts: Artifacts, chunk_frames: int, until_kind: str | None
) -> tuple[dict[str, da.Array], list[str]]:
    """Lazy movie stages in canonical order, stopping after ``until_kind``."""
    geo = artifacts.geometry
    frames = da.arange(spec.acquisition.n_frames, chunks=chunk_frames, dtype=np.int64)
    stages: dict[str, da.Array] = {}
    order: list[str] = []
    movie: da.Array | None = None
    shape = geo.canvas_shape
    # A run of static field steps right before the sensor is folded into it: the sensor reads the movie
    # from before the run and applies the fields itself, in one pass (same float32 operations, same bits).
    fold_base: da.Array | None = None
    folds: list[tuple[str, np.ndarray]] = []
    stopped = until_kind is not None and _is_cell_kind(spec, until_kind)
    for step in spec.steps:
        if stopped:
            break
        op = step.movie_op(StepContext(artifacts, step))
        if op is not None:
            if op.fn is sensor_block and folds:
                folded = MovieOp(op.fn, {**op.static, "fold": tuple(folds)}, op.per_frame, op.out_dtype, op.out_shape)
                movie = apply_op(fold_base, frames, folded, shape, step.stage)
            else:
                movie = apply_op(movie, frames, op, shape, step.stage)
            fold = _FOLDABLE.get(op.fn) if not op.per_frame else None  # type: ignore[arg-type]
            if fold is None:
                folds = []
            else:
                if not folds:
                    fold_base = stages[order[-1]] if order else None
                folds.append((fold, op.static["field"]))
            shape = op.out_shape or shape
            stages[step.stage] = movie
            order.append(step.stage)
        stopped = step.kind == until_kind
    if movie is not None and shape != geo.fov_shape:
        # No motion step cropped the canvas: keep the centered field of view.
        m = geo.margin_px
        movie = movie[:, m : m + geo.fov_shape[0], m : m + geo.fov_shape[1]]
        stages["_fov"] = movie
    return stages, order


#: Movie ops that multiply or add a static field, which the sensor can fold into its own pass.
_FOLDABLE = {multiply_block: "mul", add_block: "add"}


def _is_cell_kind(spec: Spec, kind: str) -> bool:
    step = spec.step(kind)
    return step is not None and not type(step).acts_on_movie


def simulate(
    spec: Spec, *, until: str | None = None, perf: PerfTracker | None = None, chunk_frames: int | None = None
) -> Recording:
    """Build a recording lazily: cell-phase artifacts now, the movie as a dask graph.

    Parameters
    ----------
    spec : Spec
        The recording to simulate.
    until : str, optional
        Stop after this stage or step kind (e.g. ``"cells_only"`` or
        ``"composite"``); the observed movie is then that stage's output.
    perf : PerfTracker, optional
        Records per-step wall time of the cell phase.
    chunk_frames : int, optional
        Frames per chunk of the movie graph. Changes memory and parallelism,
        never a single output value. Default: about 24 MiB of float32 canvas per chunk (``TARGET_CHUNK_BYTES``).

    Returns
    -------
    Recording
        ``observed`` is lazy; compute it, save it, or stream it to zarr.
    """
    from minisim._memory import check_memory
    from minisim.spec import Spec

    if not isinstance(spec, Spec):
        raise TypeError(
            f"simulate() expects a minisim.Spec, got {type(spec).__name__}; fix: pass Spec.model_validate(data) "
            "for a dict, Spec.from_json(path) for a file, or minisim.defaults.default_spec()"
        )
    if chunk_frames is not None:
        if isinstance(chunk_frames, bool) or not isinstance(chunk_frames, numbers.Integral) or chunk_frames < 1:
            raise ValueError(f"chunk_frames = {chunk_frames!r} must be a positive integer number of frames")
        chunk_frames = int(chunk_frames)
    until_kind = None
    if until is not None:
        until_kind = kind_of(until)
        if spec.step(until_kind) is None:
            present = [f"{s.kind} ({s.stage})" for s in spec.steps]
            raise ValueError(f"until={until!r}: this spec has no such step; present: {', '.join(present)}")
    check_memory(spec, chunk_frames)  # refuse a spec that cannot fit before any work
    geo = geometry_of(spec)
    artifacts = Artifacts(spec, geo, perf)
    for step in spec.steps:
        artifacts.run(step)
        if step.kind == until_kind and _is_cell_kind(spec, until_kind):
            break
    for value in artifacts.values.values():  # the cell phase is over: drop segments kept for it
        if isinstance(value, StreamedTraces):
            value.eager.clear()
    stages, order = build_movie(spec, artifacts, chunk_frames or default_chunk_frames(spec), until_kind)
    with measure(perf, "finalize"):
        return assemble(spec, geo, artifacts.values, stages, order)


__all__ = [
    "TARGET_CHUNK_BYTES",
    "Artifacts",
    "Geometry",
    "StepContext",
    "apply_op",
    "default_chunk_frames",
    "geometry_of",
    "simulate",
]
