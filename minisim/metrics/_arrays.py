"""Input coercion and frame-chunked streaming shared by the metrics.

Metrics accept numpy arrays, xarray DataArrays (numpy- or dask-backed) and
dask arrays. Small inputs (footprints, shifts, fields) are materialized;
long inputs (traces, movies) are reduced chunk by chunk along the frame axis
so a recording larger than memory is never loaded whole.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

#: Frames per block when a numpy input is streamed (bounds float64 temporaries).
NUMPY_BLOCK_BYTES = 64 * 2**20

UNIT_DIMS = ("unit_id", "unit", "cell")

#: Per-pair (count, mean x, mean y, sum dx^2, sum dy^2, sum dx dy) of one block.
Stats = tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def as_lazy(x: Any, *, first: Sequence[str] = (), last: Sequence[str] = ()) -> np.ndarray | da.Array:
    """Numpy or dask data of ``x``; an xarray input is transposed first.

    ``first`` / ``last`` list dimension names that, when present, are moved to
    the front / back (e.g. ``unit_id`` first for footprints, ``frame`` last
    for traces).
    """
    if isinstance(x, xr.DataArray):
        lead = [d for d in first if d in x.dims][:1]
        tail = [d for d in last if d in x.dims][:1]
        if lead or tail:
            x = x.transpose(*lead, ..., *tail)
        x = x.data
    if isinstance(x, da.Array):
        return x
    return np.asarray(x)


def as_numpy(x: Any, **kwargs: Any) -> np.ndarray:
    """Like :func:`as_lazy` but computed; for inputs that are small by nature."""
    data = as_lazy(x, **kwargs)
    return np.asarray(data.compute() if isinstance(data, da.Array) else data)


def map_frame_blocks(
    fn: Callable[..., Any], arrays: Sequence[np.ndarray | da.Array], axis: int, *static: Any
) -> list[Any]:
    """Apply ``fn(start, *blocks, *static)`` to aligned blocks along ``axis``; results in order.

    With any dask input the blocks follow its chunks and run on the active
    dask scheduler (in parallel, a few chunks in memory at a time); numpy
    inputs are cut into blocks of about :data:`NUMPY_BLOCK_BYTES`.
    ``static`` values are shipped once, not per block.
    """
    length = arrays[0].shape[axis]
    if any(a.shape[axis] != length for a in arrays):
        raise ValueError(f"inputs disagree on the length of axis {axis}: {[a.shape for a in arrays]}")
    lazy = [a for a in arrays if isinstance(a, da.Array)]
    if lazy:
        bounds = np.concatenate([[0], np.cumsum(lazy[0].chunks[axis])]).astype(int)
    else:
        per_frame = max(1, int(np.prod([a.size // max(length, 1) for a in arrays])) * 8)
        step = max(1, NUMPY_BLOCK_BYTES // per_frame)
        bounds = np.append(np.arange(0, length, step), length).astype(int)
    pieces = [(int(s), int(e)) for s, e in itertools.pairwise(bounds) if e > s]
    if not pieces:
        return []

    def block(a: Any, s: int, e: int) -> Any:
        index = [slice(None)] * a.ndim
        index[axis] = slice(s, e)
        return a[tuple(index)]

    if not lazy:
        return [fn(s, *(block(a, s, e) for a in arrays), *static) for s, e in pieces]
    shipped = [dask.delayed(v, traverse=False) for v in static]
    tasks = [dask.delayed(fn)(s, *(block(a, s, e) for a in arrays), *shipped) for s, e in pieces]
    return list(dask.compute(*tasks))


def check_pairing(pairing: Any, n_est: int, n_true: int) -> np.ndarray:
    """``(k, 2)`` integer (estimate, truth) index pairs, validated against the unit counts.

    Accepts a :class:`~minisim.metrics.Match` (its ``pairing``) or anything
    array-like of pairs.
    """
    if hasattr(pairing, "pairing") and hasattr(pairing, "similarity_matrix"):
        pairing = pairing.pairs
    pairs = np.asarray(pairing, dtype=np.int64)
    if pairs.size == 0:
        pairs = pairs.reshape(0, 2)
    if pairs.size == 0:
        return np.zeros((0, 2), np.int64)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairing must be (k, 2) (estimate, truth) index pairs; got shape {pairs.shape}")
    if (pairs < 0).any() or (pairs[:, 0] >= n_est).any() or (pairs[:, 1] >= n_true).any():
        raise ValueError(
            f"pairing indices out of range for {n_est} estimated and {n_true} true units; "
            "fix: pass the pairing returned by hungarian_match for these same arrays"
        )
    return pairs


class PairedMoments:
    """Per-pair count, means, second moments and co-moment, mergeable across blocks.

    Blocks are combined with the pairwise update of Chan, Golub & LeVeque
    (1983), which stays accurate where naive running sums of squares cancel.
    """

    def __init__(self, k: int):
        self.n = 0
        self.mx = np.zeros(k)
        self.my = np.zeros(k)
        self.sxx = np.zeros(k)
        self.syy = np.zeros(k)
        self.sxy = np.zeros(k)

    @staticmethod
    def of_block(x: np.ndarray, y: np.ndarray) -> Stats:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        n = x.shape[-1]
        if n == 0:
            z = np.zeros(x.shape[:-1])
            return 0, z, z, z, z, z
        mx, my = x.mean(axis=-1), y.mean(axis=-1)
        dx, dy = x - mx[..., None], y - my[..., None]
        return n, mx, my, (dx * dx).sum(-1), (dy * dy).sum(-1), (dx * dy).sum(-1)

    def merge(self, stats: Stats) -> None:
        nb, mx, my, sxx, syy, sxy = stats
        if nb == 0:
            return
        na, n = self.n, self.n + nb
        ddx, ddy = mx - self.mx, my - self.my
        self.sxx = self.sxx + sxx + ddx * ddx * na * nb / n
        self.syy = self.syy + syy + ddy * ddy * na * nb / n
        self.sxy = self.sxy + sxy + ddx * ddy * na * nb / n
        self.mx = self.mx + ddx * nb / n
        self.my = self.my + ddy * nb / n
        self.n = n

    def constant(self) -> tuple[np.ndarray, np.ndarray]:
        """Whether x / y are constant, to rounding (std below 1e-10 of the mean)."""
        n = max(self.n, 1)
        cx = np.sqrt(self.sxx / n) <= 1e-10 * np.maximum(np.abs(self.mx), 1e-300)
        cy = np.sqrt(self.syy / n) <= 1e-10 * np.maximum(np.abs(self.my), 1e-300)
        return cx, cy
