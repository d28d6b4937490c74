"""Rasterized cell shapes: irregular somata and tapering, branching dendrites.

Shapes are drawn at sensor resolution in a patch around the cell and
peak-normalized so the soma is 1. All lengths here are in pixels.
"""

from __future__ import annotations

import functools

import numpy as np

from minisim.kernels.dendrites import walk_branch


def soma_mask(
    row: float, col: float, radius_px: float, irregularity: float, rng: np.random.Generator
) -> tuple[tuple[int, int], np.ndarray]:
    """Binary irregular disk; returns (top-left offset, patch).

    The radius at each pixel is ``r * (1 + irregularity * n)`` where ``n`` is
    white noise smoothed with sigma ``max(r/2, 1)`` px and scaled to [-1, 1],
    which gives smooth lumpy outlines rather than pixel speckle.
    """
    reach = int(np.ceil(radius_px * (1 + irregularity))) + 1
    r0, c0 = int(np.floor(row)) - reach, int(np.floor(col)) - reach
    size = 2 * reach + 2
    dist = np.hypot(np.arange(r0, r0 + size)[:, None] - row, np.arange(c0, c0 + size)[None, :] - col)
    local_r: np.ndarray | float = radius_px
    if irregularity > 0:
        wrap = periodic_gaussian_matrix(size, max(radius_px / 2, 1.0))
        noise = wrap @ rng.standard_normal((size, size)) @ wrap.T
        span = np.abs(noise).max()
        if span > 0:
            local_r = radius_px * (1 + irregularity * noise / span)
    patch = (dist <= local_r).astype(np.float32)
    return (r0, c0), patch


@functools.lru_cache(maxsize=64)
def periodic_gaussian_matrix(n: int, sigma: float) -> np.ndarray:
    """``(n, n)`` matrix ``K`` with ``K @ x`` the Gaussian filter of ``x`` along axis 0 on a periodic grid.

    The same filter as ``scipy.ndimage.gaussian_filter1d(x, sigma, axis=0,
    mode="wrap")`` (weights ``exp(-t**2 / (2 sigma**2))`` over ``|t| <=
    int(4 sigma + 0.5)``, normalised, wrapped as often as the kernel is
    longer than the grid), as one small matrix product; ``K @ x @ K.T``
    filters both axes. Cached: a population's cells share one size.
    """
    radius = int(4.0 * sigma + 0.5)
    t = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * t**2 / sigma**2)
    weights /= weights.sum()
    rows = np.broadcast_to(np.arange(n)[:, None], (n, t.size))
    matrix = np.zeros((n, n))
    np.add.at(matrix, (rows, (rows + t[None, :]) % n), np.broadcast_to(weights, rows.shape))
    matrix.flags.writeable = False
    return matrix


def cytosolic_mask(
    row: float,
    col: float,
    radius_px: float,
    irregularity: float,
    dendrite_length_px: float,
    dendrite_width_px: float,
    rng: np.random.Generator,
) -> tuple[tuple[int, int], np.ndarray]:
    """Soma plus 2–9 tapering dendrites that wander and occasionally fork.

    Notes
    -----
    Cytosolic indicators (e.g. GCaMP) fill the proximal dendrites. Each
    primary dendrite starts at 0.8 r, walks in ~1 px steps with a heading
    wander of N(0, 0.16 rad), tapers in width and brightness (0.55 → 0.05 of
    the soma), and forks with probability 0.06 per step (at most twice),
    splitting its cross-section by Murray's law (r³ = r₁³ + r₂³, main share
    0.62). Disks are merged with ``max`` so the soma peak stays 1. Each
    branch is walked and rasterised in one compiled call
    (:func:`minisim.kernels.dendrites.walk_branch`), its step draws taken
    from ``rng`` as arrays when the branch starts.
    """
    reach = int(np.ceil(radius_px * (1 + irregularity) + 1.3 * dendrite_length_px)) + 2
    r0, c0 = int(np.floor(row)) - reach, int(np.floor(col)) - reach
    size = 2 * reach + 2
    patch = np.zeros((size, size), np.float32)
    (sr, sc), soma = soma_mask(row, col, radius_px, irregularity, rng)
    patch[sr - r0 : sr - r0 + soma.shape[0], sc - c0 : sc - c0 + soma.shape[1]] = soma
    n_dend = int(np.clip(rng.poisson(5), 2, 9))
    base = rng.uniform(0, 2 * np.pi)
    angles = base + 2 * np.pi * np.arange(n_dend) / n_dend + rng.normal(0, 0.4, n_dend)
    local_row, local_col = row - r0, col - c0
    stack = [
        (
            local_row + 0.8 * radius_px * np.sin(a),
            local_col + 0.8 * radius_px * np.cos(a),
            a,
            dendrite_length_px * rng.uniform(0.6, 1.25),
            dendrite_width_px / 2,
            0,
        )
        for a in angles
    ]
    while stack:
        for side in walk_branch(patch, stack.pop(), dendrite_width_px / 2, rng):
            stack.append(tuple(side))
    return (r0, c0), patch
