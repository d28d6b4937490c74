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
        """``(n, h*w)`` CSR matrix (optionally each row scaled by ``weights``)."""
        h, w = self.canvas_shape
        rows, cols, vals = [], [], []
        for i, (off, patch) in enumerate(zip(self.offsets, self.patches, strict=True)):
            r, c = np.nonzero(patch)
            rr, cc = r + off[0], c + off[1]
            keep = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
            rows.append(np.full(keep.sum(), i))
            cols.append(rr[keep] * w + cc[keep])
            v = patch[r[keep], c[keep]]
            vals.append(v * weights[i] if weights is not None else v)
        mat = sp.csr_matrix(
            (
                np.concatenate(vals).astype(PATCH_DTYPE) if vals else np.zeros(0, PATCH_DTYPE),
                (
                    np.concatenate(rows) if rows else np.zeros(0, int),
                    np.concatenate(cols) if cols else np.zeros(0, int),
                ),
            ),
            shape=(len(self), h * w),
        )
        mat.sum_duplicates()
        return mat

    def blurred(self, sigma_px: np.ndarray, gain: np.ndarray) -> Footprints:
        """Each patch Gaussian-blurred by its own sigma and scaled by its gain.

        The patch is padded by ``ceil(4 sigma) + 1`` so the blur equals
        filtering the whole canvas with zero boundary (exact at the edges).
        The padded window is clipped to the canvas first: outside it the
        zero boundary is what ``mode="constant"`` assumes anyway, so strongly
        defocused cells cost at most one canvas-sized filter.
        """
        h, w = self.canvas_shape
        offsets, patches = [], []
        for off, patch, s, g in zip(self.offsets, self.patches, sigma_px, gain, strict=True):
            pad = int(np.ceil(4 * s)) + 1
            r0, c0 = max(int(off[0]) - pad, 0), max(int(off[1]) - pad, 0)
            r1 = min(int(off[0]) + patch.shape[0] + pad, h)
            c1 = min(int(off[1]) + patch.shape[1] + pad, w)
            if r1 <= r0 or c1 <= c0:  # the cell lies wholly outside the canvas
                offsets.append((int(off[0]), int(off[1])))
                patches.append(np.zeros((0, 0), PATCH_DTYPE))
                continue
            window = np.zeros((r1 - r0, c1 - c0))
            _paste(window, patch, np.array([off[0] - r0, off[1] - c0]))
            blurred = ndi.gaussian_filter(window, float(s), mode="constant", truncate=4.0) if s > 0 else window
            offsets.append((r0, c0))
            patches.append((blurred * g).astype(PATCH_DTYPE))
        return Footprints(np.asarray(offsets, dtype=np.int64).reshape(-1, 2), tuple(patches), self.canvas_shape)

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
