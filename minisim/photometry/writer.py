"""Simulate N sessions of a subject into a ONE root, with one progress bar over all frames."""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm.auto import tqdm

from minisim.photometry.alf import session_relpath, write_session
from minisim.photometry.engine import simulate_session
from minisim.photometry.one_cache import write_cache
from minisim.photometry.spec import PhotometrySpec


def simulate_to(
    spec: PhotometrySpec,
    root: str | Path,
    sessions: int = 1,
    overwrite: bool = False,
    progress: bool = True,
    chunk_rows: int = 16384,
) -> list[Path]:
    """Write ``sessions`` consecutive daily sessions of ``spec`` under ``root`` and refresh the ONE cache tables.

    Session ``i`` uses the same spec with its own keyed draws (task, noise,
    artifacts), on ``start_date + i`` days. Returns the session folders.
    """
    if sessions < 1:
        raise ValueError(f"sessions={sessions} must be >= 1")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if not overwrite:
        there = [
            str(root / session_relpath(spec, i)) for i in range(sessions) if (root / session_relpath(spec, i)).exists()
        ]
        if there:
            raise FileExistsError(f"{len(there)} session(s) already exist, e.g. {there[0]}; pass overwrite=True "
                                  "(--overwrite) to replace them, or write to another root")  # fmt: skip
    built = [simulate_session(spec, i) for i in range(sessions)]
    total = sum(s.n_rows for s in built)
    out = []
    with tqdm(total=total, desc="photometry frames", unit="frame", disable=not progress, file=sys.stderr) as bar:
        for s in built:
            out.append(write_session(s, root, chunk_rows=chunk_rows, overwrite=overwrite, progress=bar.update))
    write_cache(root, spec.task.protocol)
    return out
