"""Counts to 8-bit gray, shared by the video export and the 8-bit minian varr (so neither imports the other)."""

from __future__ import annotations

import numpy as np


def to_uint8(frames: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """Map values to 8-bit gray: ``vmin`` -> 0, ``vmax`` -> 255, clipped, rounded to nearest.

    Integer frames already in 0..255 with ``vmin=0, vmax=255`` pass through
    unchanged, which is what makes an 8-bit sensor's video lossless.
    """
    if frames.dtype == np.uint8 and vmin == 0 and vmax == 255:
        return frames
    scaled = (frames.astype(np.float64) - vmin) * (255.0 / (vmax - vmin))
    return np.floor(np.clip(scaled, 0.0, 255.0) + 0.5).astype(np.uint8)
