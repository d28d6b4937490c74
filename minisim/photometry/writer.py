"""Simulate N sessions of a subject into a ONE root, with one progress bar over all frames."""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm.auto import tqdm

from minisim.photometry.alf import session_relpath, write_session
from minisim.photometry.engine import simulate_session
from minisim.photometry.nwb import nwb_relpath, require_nwb, write_nwb
from minisim.photometry.one_cache import write_cache
from minisim.photometry.spec import PhotometrySpec


def simulate_to(
    spec: PhotometrySpec,
    root: str | Path,
    sessions: int = 1,
    overwrite: bool = False,
    progress: bool = True,
    chunk_rows: int = 16384,
    nwb: bool = False,
) -> list[Path]:
    """Write ``sessions`` consecutive daily sessions of ``spec`` under ``root`` and refresh the ONE cache tables.

    Session ``i`` uses the same spec with its own keyed draws (task, noise,
    artifacts), on ``start_date + i`` days. With ``nwb=True`` each session is
    also written to ``root/nwb/`` (:func:`minisim.photometry.nwb.write_nwb`,
    extra ``photometry-nwb``). Returns the session folders.
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
        if nwb:
            nwbs = [root / nwb_relpath(spec, i) for i in range(sessions)]
            there = [str(p) for p in nwbs if p.exists()]
            if there:
                raise FileExistsError(f"{len(there)} NWB file(s) already exist, e.g. {there[0]}; pass "
                                      "overwrite=True (--overwrite) to replace them")  # fmt: skip
    if nwb:
        require_nwb()
    built = [simulate_session(spec, i) for i in range(sessions)]
    total = sum(s.n_rows for s in built) * (2 if nwb else 1)
    out = []
    desc = f"photometry: {sessions} session(s), frames"
    with tqdm(total=total, desc=desc, unit="frame", disable=not progress, file=sys.stderr) as bar:
        for s in built:
            out.append(write_session(s, root, chunk_rows=chunk_rows, overwrite=overwrite, progress=bar.update))
            if nwb:
                write_nwb(s, root / nwb_relpath(spec, s.plan.session), chunk_rows, overwrite, progress=bar.update)
    write_cache(root, spec.task.protocol)
    return out
