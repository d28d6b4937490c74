"""Dendrite walks rasterised in one call per branch: compiled with numba when it is installed.

The walk is written once, in plain Python over scalars and arrays; numba
compiles that same function (``cache=True``), and without numba it runs as
it is, so both give the same pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

#: Probability per step that a branch forks, and the main branch's share of the cross-section (Murray's law).
FORK_P, MAIN_SHARE = 0.06, 0.62


def _walk_py(
    patch: np.ndarray,
    y: float,
    x: float,
    heading: float,
    length: float,
    half_width: float,
    forks: int,
    ref_half_width: float,
    noise: np.ndarray,
    fork_u: np.ndarray,
    turn: np.ndarray,
    out: np.ndarray,
) -> int:
    """Walk one branch, stamping disks into ``patch`` with max; fork events go to ``out``; returns their number.

    ``noise``, ``fork_u`` and ``turn`` hold the branch's draws for each of
    its ``int(length)`` steps: the heading wander (radians), a uniform for
    the fork test and the fork's turn sign. A fork at a step writes
    ``(y, x, heading, remaining length, half width, forks)`` of the side
    branch into a row of ``out``.
    """
    start_width = half_width
    n_out = 0
    h, w = patch.shape
    for step in range(int(length)):
        frac = step / max(length, 1.0)
        width = max(start_width * (1.0 - 0.7 * frac), 0.5)
        value = min(0.05 + 0.5 * (width / max(ref_half_width, 0.5)), 0.55)
        # merge a disk of ``value`` and radius ``width`` centred on (y, x)
        ry = int(math.ceil(width)) + 1  # noqa: RUF046 - same int type interpreted and compiled
        y0, y1 = max(int(y) - ry, 0), min(int(y) + ry + 2, h)
        x0, x1 = max(int(x) - ry, 0), min(int(x) + ry + 2, w)
        v32 = np.float32(value)
        for r in range(y0, y1):
            for c in range(x0, x1):
                if math.hypot(r - y, c - x) <= width and patch[r, c] < v32:
                    patch[r, c] = v32
        heading += noise[step]
        y, x = y + math.sin(heading), x + math.cos(heading)
        if forks < 2 and fork_u[step] < FORK_P and length - step > 3:
            side_width = start_width * (1.0 - MAIN_SHARE) ** (1.0 / 3.0)
            t = 0.7 * turn[step]
            out[n_out, 0], out[n_out, 1], out[n_out, 2] = y, x, heading + t
            out[n_out, 3], out[n_out, 4], out[n_out, 5] = (length - step) * 0.8, side_width, forks + 1
            n_out += 1
            start_width *= MAIN_SHARE ** (1.0 / 3.0)
            heading -= 0.3 * t
            forks += 1
    return n_out


def _compile() -> Callable[..., int]:
    try:
        import numba
    except Exception:  # numba missing or broken: the same function, interpreted
        return _walk_py
    return numba.njit(cache=True, nogil=True, error_model="numpy")(_walk_py)  # type: ignore[no-any-return]


_walk: Callable[..., int] | None = None


def walk_branch(patch: np.ndarray, branch: tuple[float, ...], ref_half_width: float, rng: np.random.Generator) -> Any:
    """Draw one branch's steps from ``rng``, rasterise it into ``patch``; returns its side branches (rows).

    Draw order per branch: ``int(length)`` normals (sigma 0.16 rad), then as
    many uniforms for the fork test, then as many for the turn sign.
    """
    global _walk
    if _walk is None:
        _walk = _compile()
    y, x, heading, length, half_width, forks = branch
    n = max(int(length), 0)
    noise = rng.normal(0.0, 0.16, n)
    fork_u = rng.random(n)
    turn = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    out = np.empty((2, 6))
    k = _walk(
        patch,
        float(y),
        float(x),
        float(heading),
        float(length),
        float(half_width),
        int(forks),
        float(ref_half_width),
        noise,
        fork_u,
        turn,
        out,
    )
    return out[:k]


__all__ = ["FORK_P", "MAIN_SHARE", "walk_branch"]
