"""Composite: paint every cell's observed footprint times its emission into the movie."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import cv2
import numpy as np
import scipy.sparse as sp

from minisim.steps.base import MovieOp, StepSpec


class Composite(StepSpec):
    """Add ``sum_i A_i * C_i(t) * B_i(t)`` to each frame of the tissue canvas.

    Notes
    -----
    ``A_i`` is the observed footprint (the planted one when optics did not
    run), ``C_i`` the calcium trace and ``B_i`` the bleaching envelope when
    bleaching ran. The sum is a sparse matrix product per frame, so cost
    grows with the number of footprint pixels, not cells × pixels. Cells
    without traces contribute nothing.
    """

    kind: Literal["composite"] = "composite"

    stage: ClassVar[str] = "cells_only"
    domain: ClassVar[Any] = "tissue"
    requires: ClassVar[tuple[str, ...]] = ("place_neurons", "cell_activity")
    consumes: ClassVar[tuple[str, ...]] = ("planted_footprints",)
    uses: ClassVar[tuple[str, ...]] = ("observed_footprints", "C", "bleaching")
    acts_on_movie: ClassVar[bool] = True

    def movie_op(self, ctx: Any) -> MovieOp | None:
        footprints = ctx.get("observed_footprints") if ctx.has("observed_footprints") else ctx.get("planted_footprints")
        # Traces stream in as lazy frame-first blocks (never cells x frames in memory); each block
        # multiplies and casts only its own frames, exactly as the whole array would be.
        per_frame: dict[str, Any] = {}
        if ctx.has("C"):
            per_frame["C"] = ctx.get("C").data.T
            if ctx.has("bleaching"):
                per_frame["bleaching"] = ctx.get("bleaching").data.T
        matrix = footprints.to_csr().T.tocsr()  # (pixels, cells)
        return MovieOp(
            fn=composite_block,
            static={"footprints_t": matrix},
            per_frame=per_frame,
        )


def composite_block(
    block: np.ndarray, frames: np.ndarray, static: Mapping[str, Any], per_frame: Mapping[str, np.ndarray]
) -> np.ndarray:
    """``block + (A^T @ emission^T)^T`` reshaped to frames; deterministic per frame."""
    matrix: sp.csr_matrix = static["footprints_t"]
    t, h, w = block.shape
    if "C" in per_frame:
        emission = np.asarray(per_frame["C"], dtype=np.float64)  # (t, cells)
        if "bleaching" in per_frame:
            emission = emission * per_frame["bleaching"]
        emission = emission.astype(np.float32)
    else:
        emission = np.zeros((t, matrix.shape[1]), np.float32)
    painted = np.asarray(matrix @ np.ascontiguousarray(emission.T), dtype=np.float32)  # (pixels, t)
    # cv2's cache-blocked transpose is ~5x faster than numpy's strided copy here; exact.
    frames_major = cv2.transpose(painted).reshape(t, h, w) if painted.size else painted.T.reshape(t, h, w)
    if any(block.strides):  # not the engine's all-zero first block: a real upstream movie to add to
        frames_major += block
    return frames_major
