"""Per-patch Gaussian blur in one compiled pass (see :meth:`minisim.footprint.Footprints.blurred`)."""

from __future__ import annotations

import math

import numpy as np

from minisim.kernels.jit import lazy_kernel

#: Kernel half-width in standard deviations, as ``scipy.ndimage.gaussian_filter(truncate=4.0)``.
TRUNCATE = 4.0


@lazy_kernel
def blur_patches(
    vals: np.ndarray,
    shapes: np.ndarray,
    inner: np.ndarray,
    windows: np.ndarray,
    sigma_px: np.ndarray,
    gain: np.ndarray,
    out: np.ndarray,
) -> None:
    """Blur every patch inside its window by its own Gaussian, scaled by its gain, into ``out``.

    ``vals`` holds the patches in C order one after the other (shape
    ``shapes[i]``); patch ``i`` sits at ``inner[i]`` (row, col) inside its
    window of shape ``windows[i]``, whose pixels ``out`` holds in C order
    one window after the other. Outside the window the image is zero (as
    ``mode="constant"``), and patch pixels outside it are dropped. The kernel is ``exp(-x**2 / (2 sigma**2))`` over
    ``|x| <= int(4 sigma + 0.5)``, normalised to sum 1; ``sigma = 0``
    copies. The blur is separable: rows first, over the patch's own rows
    only (the window's other rows are zero), then columns.
    """
    src, dst = 0, 0
    for i in range(shapes.shape[0]):
        ph, pw = shapes[i, 0], shapes[i, 1]
        wh, ww = windows[i, 0], windows[i, 1]
        pr, pc = inner[i, 0], inner[i, 1]
        s, g = sigma_px[i], gain[i]
        radius = int(TRUNCATE * s + 0.5) if s > 0 else 0
        k = np.empty(2 * radius + 1)
        if s > 0:
            for t in range(-radius, radius + 1):
                k[t + radius] = math.exp(-0.5 * t * t / (s * s))
            k /= k.sum()
        else:
            k[0] = 1.0
        rows = np.zeros((ph, ww))
        for a in range(ph):  # along the rows: patch row a spread over the window's columns
            for b in range(pw):
                v = vals[src + a * pw + b]
                c = pc + b
                if v == 0 or c < 0 or c >= ww:  # pixels off the canvas are dropped, as by the window's paste
                    continue
                for j in range(max(c - radius, 0), min(c + radius + 1, ww)):
                    rows[a, j] += v * k[c - j + radius]
        win = np.zeros((wh, ww))
        for a in range(ph):  # along the columns: each row's result spread over the window's rows
            r = pr + a
            if r < 0 or r >= wh:
                continue
            for i_out in range(max(r - radius, 0), min(r + radius + 1, wh)):
                kv = k[r - i_out + radius]
                for j in range(ww):
                    win[i_out, j] += rows[a, j] * kv
        for r in range(wh):
            for j in range(ww):
                out[dst + r * ww + j] = np.float32(win[r, j] * g)
        src += ph * pw
        dst += wh * ww


__all__ = ["TRUNCATE", "blur_patches"]
