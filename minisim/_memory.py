"""A rough upper estimate of a simulation's memory, checked before anything is computed.

A spec with a 10^6 px wide field of view, 10^15 cells per mm^3 or 10^12 frames
is valid, but would end in a MemoryError traceback (or the OOM killer) after
minutes of work. :func:`check_memory` refuses it at once with the estimate,
the limit and the fix.

The estimate is deliberately generous (it errs towards the larger figure):

* cell phase: footprints (a blurred patch per cell), the static fields
  (canvas-sized float64 maps) and the per-frame ground truth (motion shifts,
  frame indices, the dask chunk tables);
* per chunk: a few float32 canvas-sized movie frames per chunk frame plus the
  cells' traces for those frames, times the threads working at once.

The limit is the machine's physical memory, or ``$MINISIM_MEMORY_LIMIT``
(e.g. ``8GB``; ``none`` disables the check).
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

MEMORY_ENV = "MINISIM_MEMORY_LIMIT"
_UNITS = {"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 2**10, "mib": 2**20, "gib": 2**30}


class MemoryEstimateError(ValueError):
    """The spec would need more memory than the limit allows."""


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"  # pragma: no cover


def parse_limit(text: str) -> float | None:
    """``"8GB"`` -> 8e9 bytes; ``"none"``/``"0"`` -> None (no limit)."""
    m = re.fullmatch(r"\s*([0-9.]+(?:e[0-9]+)?)\s*([kmgt]i?b|b)?\s*", text.lower())
    if text.strip().lower() in ("none", "off", "0"):
        return None
    if m is None:
        raise ValueError(f"{MEMORY_ENV}={text!r} is not a size; fix: use e.g. 8GB, 512MB or none")
    return float(m[1]) * _UNITS[m[2] or ""]


def default_limit() -> float | None:
    """``$MINISIM_MEMORY_LIMIT`` if set, else the physical memory of this machine."""
    env = os.environ.get(MEMORY_ENV)
    if env:
        return parse_limit(env)
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def _n_cells(spec: Any, area_mm2: float) -> float:
    placer = spec.step("place_neurons")
    if placer is None:
        return 0.0
    total = 0.0
    for pop in placer.resolved_populations:
        if pop.positions_um is not None:
            total += len(pop.positions_um)
        else:
            lo, hi = pop.depth_range_um
            total += pop.density_per_mm3 * area_mm2 * max(hi - lo, 2 * pop.soma_radius_um) / 1000
    return total


def estimate(spec: Any, chunk_frames: int | None = None) -> dict[str, float]:
    """Estimated bytes of the cell phase and of the chunks being computed at once."""
    from minisim.context import TARGET_CHUNK_BYTES, geometry_of

    acq = spec.acquisition
    geo = geometry_of(spec)
    h, w = geo.canvas_shape
    px = acq.pixel_size_um
    n_frames = float(acq.n_frames)
    cells = _n_cells(spec, (h * px / 1000) * (w * px / 1000))
    placer = spec.step("place_neurons")
    radius_px = max((p.soma_radius_um for p in placer.resolved_populations), default=5.0) / px if placer else 0.0
    patch = max(64.0, (6 * radius_px + 8) ** 2)
    canvas = float(h) * float(w)
    frames = float(chunk_frames) if chunk_frames else max(1.0, min(n_frames, TARGET_CHUNK_BYTES / (4 * canvas)))
    n_chunks = math.ceil(n_frames / frames)
    cell_phase = cells * patch * 4 * 3 + canvas * 8 * 8 + n_frames * 64 + n_chunks * 2000 + cells * 4096
    per_chunk = frames * canvas * 4 * 4 + frames * cells * 4 * 3
    threads = min(os.cpu_count() or 1, 8)
    return {"cell_phase": cell_phase, "per_chunk": per_chunk, "total": cell_phase + per_chunk * (threads + 1)}


def check_memory(spec: Any, chunk_frames: int | None = None, limit: float | None = -1.0) -> dict[str, float]:
    """Raise :class:`MemoryEstimateError` when the estimate exceeds ``limit`` (default :func:`default_limit`)."""
    limit = default_limit() if limit == -1.0 else limit
    est = estimate(spec, chunk_frames)
    if limit is not None and est["total"] > limit:
        acq = spec.acquisition
        raise MemoryEstimateError(
            f"this spec needs an estimated {_human(est['total'])} of memory (cell phase {_human(est['cell_phase'])}, "
            f"{_human(est['per_chunk'])} per frame chunk; {acq.n_frames} frames of {acq.fov_shape[0]} x "
            f"{acq.fov_shape[1]} px), more than the limit of {_human(limit)}; fix: shrink the field of view, the "
            f"cell density or the duration, pass a smaller chunk_frames, or raise the limit with {MEMORY_ENV}=SIZE "
            f"(or `none`) if the machine really has the memory"
        )
    return est


__all__ = ["MEMORY_ENV", "MemoryEstimateError", "check_memory", "default_limit", "estimate", "parse_limit"]
