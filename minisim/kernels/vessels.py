"""Vessel capsules rasterised in one compiled pass (see :func:`minisim.steps.vessels.rasterize_vessels`)."""

from __future__ import annotations

import math

import numpy as np

from minisim.kernels.jit import lazy_kernel


@lazy_kernel
def rasterize_capsules(
    segments: np.ndarray,
    tree_start: np.ndarray,
    height: int,
    width: int,
    pixel_size_um: float,
    cy: float,
    cx: float,
) -> np.ndarray:
    """Blood path (µm) through each pixel centre: the max over a tree's capsules, summed over trees.

    ``segments`` is ``(n, 5)`` rows ``(y0, x0, y1, x1, radius)`` in µm in the
    optical-centre frame; tree ``k`` is rows ``tree_start[k]:tree_start[k +
    1]``. Each capsule is visited only over its bounding box; its chord at
    a pixel centre is ``2 sqrt(r**2 - d**2)`` with ``d`` the distance to the
    segment (0 outside). ``(cy, cx)`` is the optical centre's pixel
    (:func:`minisim.context.optical_center_px`).
    """
    total = np.zeros((height, width))
    tree = np.zeros((height, width))
    for k in range(tree_start.size - 1):
        lo_r, hi_r, lo_c, hi_c = height, 0, width, 0
        for s in range(tree_start[k], tree_start[k + 1]):
            y0, x0, y1, x1, r = segments[s, 0], segments[s, 1], segments[s, 2], segments[s, 3], segments[s, 4]
            r0 = max(int(math.floor((min(y0, y1) - r) / pixel_size_um + cy)), 0)  # noqa: RUF046 - an int in numba too
            r1 = min(int(math.ceil((max(y0, y1) + r) / pixel_size_um + cy)) + 1, height)  # noqa: RUF046 - an int in numba too
            c0 = max(int(math.floor((min(x0, x1) - r) / pixel_size_um + cx)), 0)  # noqa: RUF046 - an int in numba too
            c1 = min(int(math.ceil((max(x0, x1) + r) / pixel_size_um + cx)) + 1, width)  # noqa: RUF046 - an int in numba too
            if r0 >= r1 or c0 >= c1:
                continue
            lo_r, hi_r, lo_c, hi_c = min(lo_r, r0), max(hi_r, r1), min(lo_c, c0), max(hi_c, c1)
            vy, vx = y1 - y0, x1 - x0
            length2 = vy * vy + vx * vx
            for i in range(r0, r1):
                py = (i - cy) * pixel_size_um
                for j in range(c0, c1):
                    px = (j - cx) * pixel_size_um
                    t = 0.0
                    if length2 > 0:
                        t = min(max(((py - y0) * vy + (px - x0) * vx) / length2, 0.0), 1.0)
                    dy, dx = py - (y0 + t * vy), px - (x0 + t * vx)
                    chord = 2.0 * math.sqrt(max(r * r - (dy * dy + dx * dx), 0.0))
                    if chord > tree[i, j]:
                        tree[i, j] = chord
        for i in range(lo_r, hi_r):  # add the tree and clear its buffer over the box it touched
            for j in range(lo_c, hi_c):
                total[i, j] += tree[i, j]
                tree[i, j] = 0.0
    return total


__all__ = ["rasterize_capsules"]
