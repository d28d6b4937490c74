"""Keyed random streams of the photometry model, on :func:`minisim.rng.generator`.

A draw is a function of (seed, step id, session, stream, index[, block]):
``index`` is the fiber or the trial, ``block`` the fixed block of
:data:`ROW_BLOCK` frame rows a per-frame draw belongs to. Blocks are fixed in
absolute rows, never the dask chunks, so a session is bit-identical however it
is chunked or scheduled.
"""

from __future__ import annotations

import numpy as np

from minisim.rng import generator

#: Per-frame draws come in fixed blocks of this many rows.
ROW_BLOCK = 4096
#: Streams per session; the session index is folded into the stream.
_STREAMS = 64


def keyed(seed: int, step_id: int, session: int, stream: int, index: int = 0, block: int | None = None):
    """The generator for one key; ``stream`` < 64 separates independent draws of a step."""
    if not 0 <= stream < _STREAMS:
        raise ValueError(f"stream={stream} must be in [0, {_STREAMS})")
    return generator(seed, step_id, session * _STREAMS + stream, index, block)


def block_draws(
    seed: int, step_id: int, session: int, stream: int, index: int, r0: int, r1: int, draw: str = "normal"
) -> np.ndarray:
    """Standard normal (or uniform) draws for rows [r0, r1), from fixed row blocks."""
    out = np.empty(r1 - r0)
    b0, b1 = r0 // ROW_BLOCK, (r1 - 1) // ROW_BLOCK
    for b in range(b0, b1 + 1):
        rng = keyed(seed, step_id, session, stream, index, b)
        vals = rng.standard_normal(ROW_BLOCK) if draw == "normal" else rng.random(ROW_BLOCK)
        lo, hi = max(r0, b * ROW_BLOCK), min(r1, (b + 1) * ROW_BLOCK)
        out[lo - r0 : hi - r0] = vals[lo - b * ROW_BLOCK : hi - b * ROW_BLOCK]
    return out
