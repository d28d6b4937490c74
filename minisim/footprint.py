"""Sparse cell footprints: one dense patch per cell inside a bounding box.

A recording of a thousand cells on a 608² canvas would need gigabytes as a
dense ``(unit, height, width)`` stack; patches need megabytes. The stack is
densified only on request, and turned into a CSR matrix for compositing.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.ndimage as ndi
import scipy.sparse as sp

from minisim.kernels.blur import blur_patches
from minisim.kernels.sparse import patches_to_csr

PATCH_DTYPE = np.float32


@dataclass(frozen=True)
class Footprints:
    """Ragged per-cell patches on one canvas.

    Attributes
    ----------
    offsets : (n, 2) int
        Top-left ``(row, col)`` of each patch on the canvas.
    patches : tuple of 2-D float32 arrays
        Patch values; zero outside the cell.
    canvas_shape : (int, int)
    """

    offsets: np.ndarray
    patches: tuple[np.ndarray, ...]
    canvas_shape: tuple[int, int]

    def __len__(self) -> int:
        return len(self.patches)

    @classmethod
    def from_dense(cls, stack: np.ndarray) -> Footprints:
        """Tight bounding boxes of the non-zero pixels of a ``(n, h, w)`` stack."""
        offsets, patches = [], []
        for img in stack:
            rows, cols = np.nonzero(img)
            if rows.size == 0:
                offsets.append((0, 0))
                patches.append(np.zeros((0, 0), PATCH_DTYPE))
                continue
            r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
            offsets.append((r0, c0))
            patches.append(np.ascontiguousarray(img[r0:r1, c0:c1], dtype=PATCH_DTYPE))
        return cls(np.asarray(offsets, dtype=np.int64).reshape(-1, 2), tuple(patches), tuple(stack.shape[1:]))

    def subset(self, index: np.ndarray | Sequence[int]) -> Footprints:
        idx = np.arange(len(self))[index]
        return Footprints(self.offsets[idx], tuple(self.patches[i] for i in idx), self.canvas_shape)

    def to_dense(self, crop: tuple[slice, slice] | None = None, dtype: type = np.float64) -> np.ndarray:
        """Dense ``(n, h, w)`` stack, optionally cropped to a window of the canvas."""
        h, w = self.canvas_shape
        out: np.ndarray = np.zeros((len(self), h, w), dtype=dtype)
        for i, (off, patch) in enumerate(zip(self.offsets, self.patches, strict=True)):
            _paste(out[i], patch, off)
        return out if crop is None else out[(slice(None), *crop)]

    def to_csr(self, weights: np.ndarray | None = None) -> sp.csr_matrix:
        """``(n, h*w)`` CSR matrix (optionally each row scaled by ``weights``).

        One compiled pass over all patches
        (:func:`minisim.kernels.sparse.patches_to_csr`); without numba, the
        same matrix by array operations over all patches at once. A patch's
        pixels in C order are already sorted by canvas index and unique, so
        the rows need neither sorting nor duplicate summing.
        """
        h, w = self.canvas_shape
        n = len(self)
        shapes = np.array([p.shape for p in self.patches], dtype=np.int64).reshape(-1, 2)
        sizes = shapes[:, 0] * shapes[:, 1]
        if not n or not sizes.sum():
            return sp.csr_matrix((n, h * w), dtype=PATCH_DTYPE)
        vals = np.concatenate([p.ravel() for p in self.patches])
        wts = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64).reshape(n)
        offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        if patches_to_csr.is_compiled:
            data, indices, indptr = patches_to_csr(vals, shapes, offsets, h, w, wts)
        else:
            data, indices, indptr = _csr_arrays_numpy(vals, shapes, sizes, offsets, h, w, wts)
        return sp.csr_matrix((data, indices, indptr), shape=(n, h * w))

    def blurred(self, sigma_px: np.ndarray, gain: np.ndarray) -> Footprints:
        """Each patch Gaussian-blurred by its own sigma and scaled by its gain.

        The patch is padded by ``ceil(4 sigma) + 1`` so the blur equals
        filtering the whole canvas with zero boundary (exact at the edges).
        The padded window is clipped to the canvas first: outside it the
        zero boundary is what ``mode="constant"`` assumes anyway, so strongly
        defocused cells cost at most one canvas-sized filter. All patches are
        blurred in one compiled pass (:func:`minisim.kernels.blur.blur_patches`);
        without numba, by ``scipy.ndimage.gaussian_filter`` one by one.
        """
        h, w = self.canvas_shape
        n = len(self)
        sigma = np.asarray(sigma_px, dtype=np.float64).reshape(n)
        gains = np.asarray(gain, dtype=np.float64).reshape(n)
        shapes = np.array([p.shape for p in self.patches], dtype=np.int64).reshape(-1, 2)
        offsets = np.asarray(self.offsets, dtype=np.int64).reshape(-1, 2)
        pad = (np.ceil(4 * sigma).astype(np.int64) + 1)[:, None]
        lo = np.maximum(offsets - pad, 0)
        hi = np.minimum(offsets + shapes + pad, np.array([h, w]))
        outside = (hi <= lo).any(axis=1)  # the cell lies wholly outside the canvas
        lo[outside], hi[outside] = offsets[outside], offsets[outside]
        windows = hi - lo
        if not blur_patches.is_compiled:
            return self._blurred_scipy(sigma, gains, lo, windows)
        vals = np.concatenate([p.ravel() for p in self.patches]) if n else np.zeros(0, PATCH_DTYPE)
        sizes = windows[:, 0] * windows[:, 1]
        out = np.empty(int(sizes.sum()), PATCH_DTYPE)
        blur_patches(vals.astype(PATCH_DTYPE, copy=False), shapes, offsets - lo, windows, sigma, gains, out)
        starts = np.cumsum(sizes) - sizes
        patches = tuple(out[s : s + z].reshape(wh, ww) for s, z, (wh, ww) in zip(starts, sizes, windows, strict=True))
        return Footprints(lo, patches, self.canvas_shape)

    def _blurred_scipy(self, sigma: np.ndarray, gains: np.ndarray, lo: np.ndarray, windows: np.ndarray) -> Footprints:
        patches = []
        for off, patch, s, g, r0c0, (wh, ww) in zip(self.offsets, self.patches, sigma, gains, lo, windows, strict=True):
            window = np.zeros((wh, ww))
            if wh and ww:
                _paste(window, patch, np.asarray(off) - r0c0)
            blurred = ndi.gaussian_filter(window, float(s), mode="constant", truncate=4.0) if s > 0 else window
            patches.append((blurred * g).astype(PATCH_DTYPE))
        return Footprints(lo, tuple(patches), self.canvas_shape)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat arrays for storage: offsets, shapes, and concatenated data."""
        shapes = np.array([p.shape for p in self.patches], dtype=np.int64).reshape(-1, 2)
        data = np.concatenate([p.ravel() for p in self.patches]) if self.patches else np.zeros(0, PATCH_DTYPE)
        return {"offsets": self.offsets.astype(np.int64), "shapes": shapes, "data": data.astype(PATCH_DTYPE)}

    @classmethod
    def from_arrays(
        cls, offsets: np.ndarray, shapes: np.ndarray, data: np.ndarray, canvas_shape: Sequence[int]
    ) -> Footprints:
        patches, start = [], 0
        for h, w in np.asarray(shapes):
            patches.append(np.asarray(data[start : start + h * w], dtype=PATCH_DTYPE).reshape(h, w))
            start += h * w
        return cls(
            np.asarray(offsets, dtype=np.int64).reshape(-1, 2),
            tuple(patches),
            (int(canvas_shape[0]), int(canvas_shape[1])),
        )


def _csr_arrays_numpy(
    vals: np.ndarray,
    shapes: np.ndarray,
    sizes: np.ndarray,
    offsets: np.ndarray,
    h: int,
    w: int,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arrays of :func:`minisim.kernels.sparse.patches_to_csr`, by numpy array operations."""
    n = len(shapes)
    row = np.repeat(np.arange(n), sizes)
    local = np.arange(vals.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    pw = np.repeat(shapes[:, 1], sizes)
    rr = local // pw + np.repeat(offsets[:, 0], sizes)
    cc = local % pw + np.repeat(offsets[:, 1], sizes)
    keep = (vals != 0) & (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    row, kept = row[keep], vals[keep] * weights[row[keep]]
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(row, minlength=n), out=indptr[1:])
    return kept.astype(PATCH_DTYPE), rr[keep] * w + cc[keep], indptr


def _paste(dest: np.ndarray, patch: np.ndarray, offset: np.ndarray) -> None:
    """Add ``patch`` into ``dest`` at ``offset``, clipping at the borders."""
    h, w = dest.shape
    r0, c0 = int(offset[0]), int(offset[1])
    pr0, pc0 = max(0, -r0), max(0, -c0)
    r1, c1 = min(h, r0 + patch.shape[0]), min(w, c0 + patch.shape[1])
    if r1 <= max(r0, 0) or c1 <= max(c0, 0):
        return
    dest[max(r0, 0) : r1, max(c0, 0) : c1] += patch[pr0 : pr0 + r1 - max(r0, 0), pc0 : pc0 + c1 - max(c0, 0)]


def __getattr__(name: str) -> Any:
    # minisim 1.0's sparse-footprint API (docs/compat_1_0_helpers.md), forwarded by name to the
    # compatibility layer above this module (which imports this one), so the import graph stays acyclic.
    if name in ("Footprint", "FootprintStack", "degrade_footprint", "stack_dense", "RENDER_DTYPE"):
        return getattr(importlib.import_module("minisim._compat.footprint"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
