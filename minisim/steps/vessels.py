"""Vessel geometry: Murray's-law branching trees in µm, capsule rasterization and Beer-Lambert shadows.

Pure functions, used by :mod:`minisim.steps.vasculature`. Coordinates are the
optical-center frame in µm (+y down, +x right); headings are angles with
``dy = sin(theta)``, ``dx = cos(theta)``. A segment is a row
``(y0, x0, y1, x1, radius)`` in µm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from minisim.context import optical_center_px
from minisim.kernels.vessels import rasterize_capsules
from minisim.rng import generator

#: Murray's exponent: sum of r**3 is conserved at a bifurcation (Murray 1926, minimum work).
MURRAY_EXPONENT = 3.0
#: Safety bound on the number of segments of one tree (not a physical parameter).
MAX_SEGMENTS_PER_TREE = 2000
#: Half-width of the wedge of inward root headings around the edge normal.
ROOT_WEDGE_RAD = math.pi / 4
ROOT_STREAM, BRANCH_STREAM = 0, 1


@dataclass(frozen=True)
class Growth:
    """Growth parameters of one tree, in µm and radians (``angle_rad`` None: Murray's optimal angles)."""

    root_radius_um: float
    min_radius_um: float
    branch_prob: float
    tortuosity_rad: float
    angle_rad: float | None
    branch_area_main: float
    step_per_radius: float
    max_segments: int = MAX_SEGMENTS_PER_TREE


def murray_children(r_parent: float, area_fraction: float) -> tuple[float, float]:
    """Child radii ``(r_main, r_side)`` with ``r_main**3 + r_side**3 = r_parent**3``.

    ``area_fraction`` is the main child's share of the conserved cube sum.
    """
    inv = 1.0 / MURRAY_EXPONENT
    return r_parent * area_fraction**inv, r_parent * (1.0 - area_fraction) ** inv


def murray_angles(r_parent: float, r_main: float, r_side: float) -> tuple[float, float]:
    """Minimum-work branching angles (rad) of the two children from the parent's axis.

    Murray (1926b), J. Gen. Physiol. 9: ``cos(theta_1) = (r0**4 + r1**4 - r2**4) / (2 r0**2 r1**2)``
    and symmetrically for ``theta_2``; the thinner child leaves at the larger angle.
    """
    r0, r1, r2 = r_parent**2, r_main**2, r_side**2
    c1 = (r0**2 + r1**2 - r2**2) / (2 * r0 * r1)
    c2 = (r0**2 + r2**2 - r1**2) / (2 * r0 * r2)
    return math.acos(min(1.0, max(-1.0, c1))), math.acos(min(1.0, max(-1.0, c2)))


def branch_turns(r_parent: float, r_main: float, r_side: float, angle_rad: float | None) -> tuple[float, float]:
    """Turn of the main and the side child at a bifurcation (rad, opposite senses).

    With a fixed ``angle_rad`` (minisim 1.0 rule) the side child turns by
    ``angle * r_parent / r_side`` and the main one by ``angle``; with None,
    Murray's minimum-work angles.
    """
    if angle_rad is None:
        return murray_angles(r_parent, r_main, r_side)
    return angle_rad, angle_rad * r_parent / r_side


def branch_key(layer: int, root: int, path: int) -> int:
    """Random-stream index of one branch: its binary path from the root (leading 1), layer and root."""
    return (path << 24) | (layer << 12) | root


def root_start(rng: np.random.Generator, fov_half_um: tuple[float, float]) -> tuple[float, float, float]:
    """A root ``(y, x, heading)`` on a random edge of the field of view, heading inward within a wedge."""
    hy, hx = fov_half_um
    edge = int(rng.integers(4))
    u = float(rng.uniform(-1.0, 1.0))
    wedge = float(rng.uniform(-ROOT_WEDGE_RAD, ROOT_WEDGE_RAD))
    starts = [(-hy, u * hx, math.pi / 2), (hy, u * hx, -math.pi / 2), (u * hy, -hx, 0.0), (u * hy, hx, math.pi)]
    y, x, normal = starts[edge]
    return y, x, normal + wedge


def exit_distance(y: float, x: float, heading: float, bounds_um: tuple[float, float, float, float]) -> float:
    """Distance from ``(y, x)`` along ``heading`` to the boundary of ``(y_lo, y_hi, x_lo, x_hi)``."""
    y_lo, y_hi, x_lo, x_hi = bounds_um
    dy, dx = math.sin(heading), math.cos(heading)
    ts = []
    if abs(dy) > 1e-12:
        ts.append(((y_hi if dy > 0 else y_lo) - y) / dy)
    if abs(dx) > 1e-12:
        ts.append(((x_hi if dx > 0 else x_lo) - x) / dx)
    return max(0.0, min(ts))


def grow_vessel_tree(
    bounds_um: tuple[float, float, float, float],
    root: tuple[float, float, float],
    growth: Growth,
    key: tuple[int, int, int, int],
) -> np.ndarray:
    """Grow one tree from ``root = (y, x, heading)``; returns ``(n, 5)`` segments in µm.

    Parameters
    ----------
    bounds_um : (y_lo, y_hi, x_lo, x_hi)
        Growth domain; a branch that leaves it ends (the crossing segment is kept).
    root : (y, x, heading)
    growth : Growth
    key : (seed, step_id, layer, root)
        Every branch draws from its own generator keyed on its path from the
        root, so the tree inside a region does not depend on how far the
        domain extends elsewhere.

    Notes
    -----
    A branch advances ``step_per_radius * r`` per step; its heading drifts by
    ``N(0, tortuosity)``; with probability ``branch_prob`` per step it
    bifurcates into Murray children (:func:`murray_children`) turning apart
    (:func:`branch_turns`). A branch ends below ``min_radius_um``.
    """
    seed, step_id, layer, root_index = key
    segments: list[tuple[float, float, float, float, float]] = []
    stack = [(root[0], root[1], root[2], growth.root_radius_um, 1)]
    y_lo, y_hi, x_lo, x_hi = bounds_um
    while stack and len(segments) < growth.max_segments:
        y, x, theta, r, path = stack.pop()
        rng = generator(seed, step_id, BRANCH_STREAM, branch_key(layer, root_index, path))
        while r >= growth.min_radius_um and len(segments) < growth.max_segments:
            step = growth.step_per_radius * r
            ny, nx = y + step * math.sin(theta), x + step * math.cos(theta)
            segments.append((y, x, ny, nx, r))
            y, x = ny, nx
            if not (y_lo <= y <= y_hi and x_lo <= x <= x_hi):
                break
            theta += float(rng.normal(0.0, growth.tortuosity_rad)) if growth.tortuosity_rad > 0 else 0.0
            if rng.random() < growth.branch_prob:
                r_main, r_side = murray_children(r, growth.branch_area_main)
                side = 1.0 if rng.random() < 0.5 else -1.0
                turn_main, turn_side = branch_turns(r, r_main, r_side, growth.angle_rad)
                stack.append((y, x, theta + side * turn_side, r_side, 2 * path + 1))
                stack.append((y, x, theta - side * turn_main, r_main, 2 * path))
                break
    return np.asarray(segments, dtype=float).reshape(-1, 5)


def capsule_chord_um(py: np.ndarray, px: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Blood path ``2 sqrt(r**2 - d**2)`` (0 outside) through a capsule, at points ``(py, px)`` µm."""
    y0, x0, y1, x1, r = segment
    vy, vx = y1 - y0, x1 - x0
    length2 = vy * vy + vx * vx
    t = np.clip(((py - y0) * vy + (px - x0) * vx) / length2, 0.0, 1.0) if length2 > 0 else 0.0
    d2 = (py - (y0 + t * vy)) ** 2 + (px - (x0 + t * vx)) ** 2
    return 2.0 * np.sqrt(np.maximum(r * r - d2, 0.0))


def rasterize_vessels(trees: list[np.ndarray], shape: tuple[int, int], pixel_size_um: float) -> np.ndarray:
    """Blood path length ``L`` (µm) through each pixel center of a grid centered on the optical axis.

    Within one tree the chord is the maximum over its segments (a vessel is a
    union of capsules, so consecutive, overlapping capsules of one vessel do
    not double its path); different trees add (vessels crossing at different
    depths both absorb). All capsules are rasterised in one compiled pass
    (:func:`minisim.kernels.vessels.rasterize_capsules`).
    """
    h, w = shape
    trees = [np.asarray(t, dtype=np.float64).reshape(-1, 5) for t in trees]
    segments = np.ascontiguousarray(np.concatenate(trees) if trees else np.zeros((0, 5)))
    tree_start = np.zeros(len(trees) + 1, np.int64)
    np.cumsum([len(t) for t in trees], out=tree_start[1:])
    cy, cx = optical_center_px((int(h), int(w)))
    return rasterize_capsules(  # type: ignore[no-any-return]
        segments, tree_start, int(h), int(w), float(pixel_size_um), float(cy), float(cx)
    )


def beer_lambert_transmission(path_um: np.ndarray, opacity: float, absorption_per_um: float) -> np.ndarray:
    """``M = 1 - opacity * (1 - exp(-absorption * L))``: 1 in clear tissue, ``1 - opacity`` under an opaque trunk."""
    return 1.0 - opacity * -np.expm1(-absorption_per_um * np.asarray(path_um, dtype=float))
