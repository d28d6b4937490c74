"""Per-cell time series that stream: summarized eagerly, recomputed lazily, segment by segment.

An hour of ~1000 cells at 20 fps is 72,000 frames: one float32 ``(cells,
frames)`` array is 280 MB, and a recording has several (traces ``C``, spikes
``S``, bleaching ``B``). None of them is ever held whole. A step that makes
one runs its model once over fixed segments of :data:`SEGMENT_FRAMES`
frames, carrying a small per-cell state (gate, filter, intact fraction) from
one segment to the next, and keeps only

* the state at the start of every segment (cells x a few numbers each),
* the per-cell minimum and maximum and the per-frame sum over cells (what
  auto-focus, detectability and neuropil need),

then exposes the values as a dask array whose block ``k`` reruns segment
``k`` from its saved state. The rerun is the same function on the same
inputs, so the lazy values equal the eager pass bit for bit, and each movie
chunk recomputes only the segment it overlaps.

Segments are part of the model's random keying (draws are keyed on
``(seed, step, cell, segment)``), not an execution setting: they never
depend on the movie's chunk size or the scheduler.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dask
import dask.array as da
import numpy as np

#: Frames per model segment (about 51 s at 20 fps): bounds the transient
#: memory of a segment (~1000 cells x 1024 frames is 4 MB of float32 per
#: series) while keeping per-segment overhead small.
SEGMENT_FRAMES = 1024

#: ``fn(static, k, n_frames_k, start_state, *input_blocks) -> (values, end_state)``
SegmentFn = Callable[..., tuple[np.ndarray, Any]]


def segment_bounds(n_frames: int) -> list[tuple[int, int]]:
    """``(first, stop)`` frame of every segment of a recording."""
    return [(a, min(a + SEGMENT_FRAMES, n_frames)) for a in range(0, n_frames, SEGMENT_FRAMES)]


@dataclass(frozen=True, eq=False)
class StreamedTraces:
    """A ``(cells, frames)`` float32 series: lazy values plus eager summaries.

    Attributes
    ----------
    data : dask.array.Array
        The values, one block per segment along frames (all cells per block).
    minimum, maximum : (cells,) float64
        Per-cell extremes over the whole recording.
    population_sum : (frames,) float64
        Sum over all cells, per frame.
    """

    data: da.Array
    minimum: np.ndarray
    maximum: np.ndarray
    population_sum: np.ndarray
    #: Segments the eager pass already computed, handed over once each to the next step that reads them
    #: during the cell phase (bleaching reads C) instead of being computed again; the engine empties it
    #: when the cell phase ends.
    eager: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.data.shape[0]), int(self.data.shape[1]))

    @property
    def n_cells(self) -> int:
        return self.shape[0]

    def population_mean(self) -> np.ndarray:
        """Mean over cells, per frame (zeros without cells)."""
        return self.population_sum / max(self.n_cells, 1)

    def segment(self, k: int) -> np.ndarray:
        """Values of segment ``k`` as numpy, computed here on the calling thread (or handed over once)."""
        cached = self.eager.pop(k, None)
        if cached is not None:
            return cached
        return np.asarray(self.data.blocks[:, k].compute(scheduler="sync"))

    def segments(self) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(first, stop, values)`` for every segment, in order."""
        for k, (a, b) in enumerate(segment_bounds(self.shape[1])):
            yield a, b, self.segment(k)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        values = np.asarray(self.data.compute(scheduler="sync"))
        return values if dtype is None else values.astype(dtype)


class SummaryAccumulator:
    """Collects per-cell extremes and per-frame sums segment by segment."""

    def __init__(self, n_cells: int, n_frames: int):
        self.minimum = np.full(n_cells, np.inf)
        self.maximum = np.full(n_cells, -np.inf)
        self.population_sum = np.zeros(n_frames)

    def add(self, first: int, values: np.ndarray) -> None:
        if values.size:
            np.minimum(self.minimum, values.min(axis=1), out=self.minimum)
            np.maximum(self.maximum, values.max(axis=1), out=self.maximum)
            self.population_sum[first : first + values.shape[1]] = values.sum(axis=0, dtype=np.float64)

    def finish(self, data: da.Array, eager: dict[int, np.ndarray] | None = None) -> StreamedTraces:
        empty = ~np.isfinite(self.minimum)
        self.minimum[empty] = self.maximum[empty] = 0.0
        return StreamedTraces(data, self.minimum, self.maximum, self.population_sum, eager or {})


def run_segments(
    fn: SegmentFn, static: Any, first_state: Any, n_frames: int, inputs: tuple[StreamedTraces, ...] = ()
) -> Iterator[tuple[int, int, np.ndarray, Any]]:
    """The eager pass: ``(first, stop, values, start_state)`` of each segment in order."""
    state = first_state
    for k, (a, b) in enumerate(segment_bounds(n_frames)):
        blocks = [x.segment(k) for x in inputs]
        values, next_state = fn(static, k, b - a, state, *blocks)
        yield a, b, values, state
        state = next_state


def lazy_segments(
    fn: SegmentFn,
    static: Any,
    start_states: list[Any],
    n_frames: int,
    rows: tuple[int, ...],
    inputs: tuple[da.Array, ...] = (),
) -> da.Array:
    """A float32 ``(*rows, frames)`` dask array whose block ``k`` is ``fn(static, k, ..., start_states[k], ...)[0]``.

    ``inputs`` are ``(*rows, frames)`` dask arrays passed block by block
    (rechunked to the segments). ``static`` and the states enter the graph
    once each, unhashed, whatever the number of segments.
    """
    frames = da.arange(n_frames, chunks=SEGMENT_FRAMES, dtype=np.int64)
    axes = string.ascii_lowercase[: len(rows)]
    args: list[Any] = []
    for x in inputs:
        args += [x.rechunk({**dict.fromkeys(range(len(rows)), -1), len(rows): SEGMENT_FRAMES}), axes + "t"]
    new_axes = {} if inputs else dict(zip(axes, rows, strict=True))
    return da.blockwise(
        _segment_task,
        axes + "t",
        fn,
        None,
        dask.delayed(static, pure=False, traverse=False),
        None,
        dask.delayed(list(start_states), pure=False, traverse=False),
        None,
        frames,
        "t",
        *args,
        new_axes=new_axes,
        dtype=np.float32,
        concatenate=True,
        token=f"minisim-{getattr(fn, '__name__', 'segment')}",
        meta=np.empty((0,) * (len(rows) + 1), dtype=np.float32),
    )


def _segment_task(fn: SegmentFn, static: Any, states: list[Any], frames: np.ndarray, *blocks: np.ndarray) -> np.ndarray:
    k = int(frames[0]) // SEGMENT_FRAMES
    values, _ = fn(static, k, len(frames), states[k], *blocks)
    return values


#: At most this many bytes of eager segments are kept for a later cell step (the rest are recomputed).
KEEP_EAGER_BYTES = 128 * 2**20

__all__ = ["KEEP_EAGER_BYTES", "SEGMENT_FRAMES", "StreamedTraces", "lazy_segments", "run_segments", "segment_bounds"]
