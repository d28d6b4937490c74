"""The IBL-stack consumer tests run only where iblphotometry, ONE and ibllib are installed.

See ``make test-photometry``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
from pathlib import Path

import pytest

_HAVE_STACK = all(importlib.util.find_spec(m) is not None for m in ("iblphotometry", "one", "ibllib"))
collect_ignore_glob = [] if _HAVE_STACK else ["test_*.py"]

if _HAVE_STACK:
    # ONE and ibllib read and write parameters under HOME; keep them away from the user's.
    os.environ["HOME"] = tempfile.mkdtemp(prefix="minisim-one-home-")
    logging.getLogger("ibllib").setLevel(logging.INFO)


@pytest.fixture(scope="session")
def one_root(tmp_path_factory) -> Path:
    """A ONE root with a clean two-session subject and one session per injected fault."""
    from minisim.photometry import Faults, Fiber, PhotometrySpec, Task, simulate_to

    root = tmp_path_factory.mktemp("one_root")
    task = Task(n_trials=150, first_block_trials=60)
    fibers = (Fiber(region="VTA"), Fiber(region="DR-r", sensor="GRAB-5HT1.0"))
    simulate_to(PhotometrySpec(subject="CLEAN", task=task, fibers=fibers), root, sessions=2, progress=False)
    for name, faults in FAULTS.items():
        simulate_to(PhotometrySpec(subject=name.upper(), task=task, faults=Faults(**faults)), root, progress=False)
    return root


FAULTS = {
    "dropped": {"dropped_rows": (5001,)},
    "repeated": {"repeated_rows": (7000,)},
    "early": {"early_rows": (3000,)},
    "late": {"late_start_s": 20.0},
    "quantized": {"quantize_bits": 8},
}
