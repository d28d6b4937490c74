"""minisim 1.0's sparse-footprint API (``minisim.footprint``) over our :class:`~minisim.footprint.Footprints`.

1.0 kept one :class:`Footprint` object (an offset, a float32 patch and the
canvas shape) per cell and bundled them in a :class:`FootprintStack`; we keep
the same information column-wise in :class:`minisim.footprint.Footprints`.
The classes here are that 1.0 view, convertible both ways
(:meth:`FootprintStack.from_footprints_table` / :meth:`FootprintStack.to_footprints_table`),
and :func:`degrade_footprint` runs our blur (:meth:`Footprints.blurred`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from minisim.footprint import PATCH_DTYPE, Footprints

#: dtype of the dense stack :func:`stack_dense` builds by default (1.0's render precision).
RENDER_DTYPE = np.float32

_EMPTY = (0, 0)


def _empty_patch(dtype: Any = PATCH_DTYPE) -> np.ndarray:
    return np.zeros(_EMPTY, dtype=dtype)


@dataclass(frozen=True)
class Footprint:
    """One cell's weight map: a dense ``patch`` whose top-left corner sits at ``offset`` on a canvas.

    Attributes
    ----------
    offset : (int, int)
        ``(row, col)`` of the patch's top-left pixel on the canvas.
    patch : numpy.ndarray
        ``(ph, pw)`` values (float32); ``(0, 0)`` for a cell with no support.
    canvas_shape : (int, int)
        ``(height, width)`` of the frame the patch lives on.
    """

    offset: tuple[int, int]
    patch: np.ndarray
    canvas_shape: tuple[int, int]

    @classmethod
    def from_dense(cls, dense: np.ndarray) -> Footprint:
        """The tight non-zero bounding box of a dense ``(H, W)`` map (empty if all zero)."""
        table = Footprints.from_dense(np.asarray(dense)[None])
        return _from_table(table, 0)

    @property
    def is_empty(self) -> bool:
        """True when the patch has no pixels."""
        return self.patch.size == 0

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """Half-open extent ``(y0, y1, x0, x1)`` on the canvas."""
        y0, x0 = self.offset
        return y0, y0 + self.patch.shape[0], x0, x0 + self.patch.shape[1]

    def to_dense(self, dtype: Any = None) -> np.ndarray:
        """The full ``canvas_shape`` map (dtype defaults to the patch's)."""
        out = np.zeros(self.canvas_shape, dtype=dtype or self.patch.dtype)
        if not self.is_empty:
            y0, y1, x0, x1 = self.bbox
            out[y0:y1, x0:x1] = self.patch
        return out

    def crop(self, top: int, left: int, height: int, width: int) -> Footprint:
        """This footprint seen through the window ``[top, top+height) x [left, left+width)``.

        The result lives on a ``(height, width)`` canvas; a footprint wholly outside
        the window comes back empty.
        """
        shape = (int(height), int(width))
        if self.is_empty:
            return Footprint((0, 0), self.patch, shape)
        y0, y1, x0, x1 = self.bbox
        r0, r1 = max(y0, top), min(y1, top + height)
        c0, c1 = max(x0, left), min(x1, left + width)
        if r0 >= r1 or c0 >= c1:
            return Footprint((0, 0), _empty_patch(self.patch.dtype), shape)
        sub = np.ascontiguousarray(self.patch[r0 - y0 : r1 - y0, c0 - x0 : c1 - x0])
        return Footprint((r0 - top, c0 - left), sub, shape)

    def add_into(self, canvas: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Add the patch into ``canvas`` in place: ``(H, W)``, or ``(T, H, W)`` scaled by ``weights`` ``(T,)``."""
        if self.is_empty:
            return
        y0, y1, x0, x1 = self.bbox
        if weights is None:
            canvas[y0:y1, x0:x1] += self.patch
        else:
            canvas[:, y0:y1, x0:x1] += np.asarray(weights)[:, None, None] * self.patch


def _from_table(table: Footprints, i: int) -> Footprint:
    patch = table.patches[i]
    offset = (0, 0) if patch.size == 0 else (int(table.offsets[i][0]), int(table.offsets[i][1]))
    return Footprint(offset, patch, (int(table.canvas_shape[0]), int(table.canvas_shape[1])))


def _to_table(footprints: Sequence[Footprint], canvas_shape: tuple[int, int]) -> Footprints:
    offsets = np.asarray([fp.offset for fp in footprints], dtype=np.int64).reshape(-1, 2)
    return Footprints(offsets, tuple(np.asarray(fp.patch, dtype=PATCH_DTYPE) for fp in footprints), canvas_shape)


def degrade_footprint(planted: Footprint, sigma_px: float, gain: float) -> Footprint:
    """The observed footprint ``gain * (planted * Gaussian(sigma_px))`` of a planted one.

    Parameters
    ----------
    planted : Footprint
        Sharp footprint on its canvas.
    sigma_px : float
        Standard deviation of the Gaussian PSF, in pixels.
    gain : float
        Flat light loss (attenuation times collection efficiency).

    Returns
    -------
    Footprint
        On the same canvas; the patch grows by the PSF reach, clipped to the canvas.

    Notes
    -----
    The blur is :meth:`minisim.footprint.Footprints.blurred`, the one the engine
    uses: a Gaussian truncated at 4 sigma, zero outside the canvas, so light blurred
    past the edge is lost and the integral inside is conserved otherwise.
    """
    if planted.is_empty:
        return planted
    table = _to_table([planted], planted.canvas_shape)
    return _from_table(table.blurred(np.array([float(sigma_px)]), np.array([float(gain)])), 0)


def stack_dense(
    footprints: Sequence[Footprint], canvas_shape: tuple[int, int], dtype: Any = RENDER_DTYPE
) -> np.ndarray:
    """Dense ``(n, H, W)`` stack of ``footprints`` on a ``canvas_shape`` canvas."""
    out = np.zeros((len(footprints), int(canvas_shape[0]), int(canvas_shape[1])), dtype=dtype)
    for i, fp in enumerate(footprints):
        fp.add_into(out[i])
    return out


@dataclass(frozen=True)
class FootprintStack:
    """1.0's per-recording bundle of :class:`Footprint` objects sharing one canvas."""

    footprints: tuple[Footprint, ...]
    canvas_shape: tuple[int, int]

    def __post_init__(self) -> None:
        for i, fp in enumerate(self.footprints):
            if tuple(fp.canvas_shape) != tuple(self.canvas_shape):
                raise ValueError(
                    f"footprint {i} lives on a {fp.canvas_shape} canvas but the stack's canvas is "
                    f"{self.canvas_shape}; fix: crop or rebuild it on the stack's canvas"
                )

    @classmethod
    def from_footprints(cls, footprints: Sequence[Footprint], canvas_shape: tuple[int, int]) -> FootprintStack:
        """A stack of ``footprints`` (``canvas_shape`` also fixes the frame of an empty stack)."""
        return cls(tuple(footprints), (int(canvas_shape[0]), int(canvas_shape[1])))

    @classmethod
    def from_dense(cls, dense: np.ndarray) -> FootprintStack:
        """Trim each unit of a dense ``(unit, H, W)`` stack to its bounding box."""
        return cls.from_footprints_table(Footprints.from_dense(np.asarray(dense)))

    @classmethod
    def from_footprints_table(cls, table: Footprints) -> FootprintStack:
        """The 1.0 view of our column-wise :class:`minisim.footprint.Footprints`."""
        shape = (int(table.canvas_shape[0]), int(table.canvas_shape[1]))
        return cls(tuple(_from_table(table, i) for i in range(len(table))), shape)

    def to_footprints_table(self) -> Footprints:
        """This stack as our :class:`minisim.footprint.Footprints` (what ``GroundTruth`` holds)."""
        return _to_table(self.footprints, self.canvas_shape)

    @property
    def n_units(self) -> int:
        """Number of units."""
        return len(self.footprints)

    def __len__(self) -> int:
        return len(self.footprints)

    def __iter__(self) -> Iterator[Footprint]:
        return iter(self.footprints)

    def __getitem__(self, index: Any) -> Any:
        """An ``int`` gives a :class:`Footprint`; a slice, index array or boolean mask a sub-stack."""
        if isinstance(index, (int, np.integer)):
            return self.footprints[int(index)]
        if isinstance(index, slice):
            return FootprintStack(self.footprints[index], self.canvas_shape)
        idx = np.asarray(index)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise IndexError(
                    f"boolean mask of shape {idx.shape} for {len(self)} units; fix: give one flag per unit"
                )
            idx = np.flatnonzero(idx)
        return FootprintStack(tuple(self.footprints[int(i)] for i in idx.ravel()), self.canvas_shape)

    def crop(self, top: int, left: int, height: int, width: int) -> FootprintStack:
        """Every footprint cropped to the window (see :meth:`Footprint.crop`)."""
        return FootprintStack(
            tuple(fp.crop(top, left, height, width) for fp in self.footprints), (int(height), int(width))
        )

    def to_dense(self, dtype: Any = None) -> np.ndarray:
        """Dense ``(unit, H, W)`` stack (float32 unless ``dtype`` is given)."""
        return stack_dense(self.footprints, self.canvas_shape, dtype or PATCH_DTYPE)

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ragged storage: offsets ``(n, 2)`` int32, shapes ``(n, 2)`` int32, concatenated float32 data."""
        offsets = np.asarray([fp.offset for fp in self.footprints], dtype=np.int32).reshape(-1, 2)
        shapes = np.asarray([fp.patch.shape for fp in self.footprints], dtype=np.int32).reshape(-1, 2)
        flat = [np.ravel(fp.patch) for fp in self.footprints]
        data = np.concatenate(flat).astype(PATCH_DTYPE) if flat else np.zeros(0, PATCH_DTYPE)
        return offsets, shapes, data

    @classmethod
    def from_arrays(
        cls, offsets: np.ndarray, shapes: np.ndarray, data: np.ndarray, canvas_shape: tuple[int, int]
    ) -> FootprintStack:
        """Inverse of :meth:`to_arrays`."""
        table = Footprints.from_arrays(offsets, shapes, data, canvas_shape)
        return cls.from_footprints_table(table)
