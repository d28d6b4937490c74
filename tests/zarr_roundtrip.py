"""Write / read a minisim store and a minian layout, reporting digests (used across environments).

``python tests/zarr_roundtrip.py write DIR`` simulates a small recording with
motion, saves it to ``DIR/rec.zarr`` and its minian layout to ``DIR/minian``,
and prints JSON: the zarr-python version and a SHA-256 of each array.
``python tests/zarr_roundtrip.py read DIR`` reads both back (``Recording.load``
and plain ``xarray.open_zarr``) and prints the same digests. Run under two
interpreters (zarr-python 2.18 and 3), equal digests mean each reads exactly
what the other wrote. Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def _digest(a: Any) -> str:
    a = np.ascontiguousarray(np.asarray(a))
    return f"{a.dtype.str}{a.shape}:{hashlib.sha256(a.tobytes()).hexdigest()[:16]}"


def _versions() -> dict[str, str]:
    import xarray
    import zarr

    return {"zarr": zarr.__version__, "xarray": xarray.__version__}


def _recording_digests(rec: Any) -> dict[str, str]:
    gt = rec.ground_truth
    out = {"observed": _digest(rec.observed.values), "C": _digest(gt.C), "S": _digest(gt.S)}
    out["shifts"] = _digest(gt.shifts)
    out["planted"] = _digest(gt.planted.to_arrays()["data"])
    return out


def write(directory: str | Path) -> dict[str, Any]:
    """Simulate a small recording with motion; save it and its minian layout under ``directory``."""
    from minisim import SpecWarning
    from minisim.testing import make_recording

    d = Path(directory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)  # motion extent vs a 48 px field of view
        rec = make_recording(n_px=48, n_cells=4, duration_s=1.0, fps=20.0, seed=7, motion=True)
    rec.save(d / "rec.zarr")
    rec.to_minian(d / "minian", chunk_frames=8, progress=False)
    return {"versions": _versions(), "store": _recording_digests(rec), "minian": _minian_expected(rec)}


def _minian_expected(rec: Any) -> dict[str, str]:
    gt = rec.ground_truth
    return {
        "varr": _digest(rec.observed.values),
        "true_C": _digest(gt.C),
        "true_S": _digest(gt.S),
        "true_motion": _digest(-np.asarray(gt.shifts, dtype=np.float64)),
    }


def read(directory: str | Path) -> dict[str, Any]:
    """Read back what :func:`write` left in ``directory``."""
    import xarray as xr

    from minisim import SpecWarning
    from minisim.recording import Recording

    d = Path(directory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)  # the stored spec is re-validated on load
        rec = Recording.load(d / "rec.zarr")
    minian = {}
    for name in ("varr", "true_C", "true_S", "true_motion"):
        with xr.open_zarr(d / "minian" / f"{name}.zarr") as ds:
            minian[name] = _digest(ds[name].values)
    return {"versions": _versions(), "store": _recording_digests(rec), "minian": minian}


if __name__ == "__main__":
    mode, where = sys.argv[1], sys.argv[2]
    result = write(where) if mode == "write" else read(where)
    print(json.dumps(result))
