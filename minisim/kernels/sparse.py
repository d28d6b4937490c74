"""Ragged patches to CSR arrays in one compiled pass (see :meth:`minisim.footprint.Footprints.to_csr`)."""

from __future__ import annotations

import numpy as np

from minisim.kernels.jit import lazy_kernel


@lazy_kernel
def patches_to_csr(
    vals: np.ndarray,
    shapes: np.ndarray,
    offsets: np.ndarray,
    height: int,
    width: int,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR ``(data, indices, indptr)`` of patches laid out on a ``height x width`` canvas.

    ``vals`` holds every patch's pixels in C order, one after the other;
    patch ``i`` has shape ``shapes[i]`` and top-left corner ``offsets[i]``
    (which may lie off the canvas). Zero pixels and pixels off the canvas
    are dropped. Row ``i``'s values are multiplied by ``weights[i]`` in
    float64 and stored as float32. A patch's pixels in C order are already
    sorted by canvas index and unique, so the rows come out canonical.
    """
    n = shapes.shape[0]
    indptr = np.zeros(n + 1, np.int64)
    start = 0
    for i in range(n):  # pass 1: the non-zero, on-canvas pixels of each row
        ph, pw = shapes[i, 0], shapes[i, 1]
        r0, c0 = offsets[i, 0], offsets[i, 1]
        count = 0
        for a in range(ph):
            r = r0 + a
            if r < 0 or r >= height:
                continue
            base = start + a * pw
            for b in range(pw):
                c = c0 + b
                if c >= 0 and c < width and vals[base + b] != 0:
                    count += 1
        indptr[i + 1] = indptr[i] + count
        start += ph * pw
    data = np.empty(indptr[n], np.float32)
    indices = np.empty(indptr[n], np.int64)
    start = 0
    for i in range(n):  # pass 2: fill them
        ph, pw = shapes[i, 0], shapes[i, 1]
        r0, c0 = offsets[i, 0], offsets[i, 1]
        k = indptr[i]
        wt = weights[i]
        for a in range(ph):
            r = r0 + a
            if r < 0 or r >= height:
                continue
            base = start + a * pw
            for b in range(pw):
                c = c0 + b
                v = vals[base + b]
                if c >= 0 and c < width and v != 0:
                    data[k] = np.float32(np.float64(v) * wt)
                    indices[k] = r * width + c
                    k += 1
        start += ph * pw
    return data, indices, indptr


__all__ = ["patches_to_csr"]
