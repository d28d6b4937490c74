"""Deterministic random streams keyed on (seed, step, stream, index[, block]).

Every draw in minisim comes from a generator built here, never from a shared
stream, so the recording does not depend on chunking, scheduling, or which
other steps are present. ``index`` is the absolute frame for per-frame noise
and the cell for per-cell draws; ``block`` is the time segment of a
per-cell series that is drawn segment by segment (:mod:`minisim.traces`).
"""

from __future__ import annotations

import numpy as np


def generator(
    seed: int, step_id: int, stream: int = 0, index: int = 0, block: int | None = None
) -> np.random.Generator:
    """A PCG64 generator for one (seed, step, stream, index[, block]) key.

    ``stream`` separates independent draws of one step (e.g. shot and read
    noise) so adding a noise term never shifts another one.
    """
    key = [seed, step_id, stream, index] if block is None else [seed, step_id, stream, index, block]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(key)))
