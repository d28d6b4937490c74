"""Stores written under zarr-python 3 open under zarr-python 2.18 (minian's environments), and back.

The main suite runs in ``.venv`` (current zarr 3 / xarray); ``make test-zarr2``
runs the store, minian-layout and ``minisim.testing`` tests in ``.venv-zarr2``
(zarr 2.18, xarray < 2026.4). This test, in either, has the *other*
environment's interpreter write a recording and a minian layout, reads them
here, and the other way round; equal array digests mean exact round trips.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import zarr

from tests import zarr_roundtrip

ROOT = Path(__file__).resolve().parents[1]
HERE_MAJOR = int(zarr.__version__.split(".")[0])


def _other_python() -> Path | None:
    """The interpreter of the environment with the other zarr major version, if it exists."""
    given = os.environ.get("MINISIM_OTHER_PYTHON")
    path = Path(given) if given else ROOT / (".venv-zarr2" if HERE_MAJOR >= 3 else ".venv") / "bin" / "python"
    return path if path.is_file() else None


OTHER = _other_python()
pytestmark = pytest.mark.skipif(
    OTHER is None,
    reason=(
        "cross-version test needs the other environment's interpreter: "
        + (".venv-zarr2 (create it with `make test-zarr2`)" if HERE_MAJOR >= 3 else ".venv (`make test`)")
        + " or MINISIM_OTHER_PYTHON"
    ),
)


def _run_other(mode: str, directory: Path) -> dict:
    script = Path(zarr_roundtrip.__file__)
    proc = subprocess.run(
        [str(OTHER), str(script), mode, str(directory)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, f"{OTHER} {mode} failed:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check_versions(mine: dict, theirs: dict) -> None:
    majors = {int(mine["zarr"].split(".")[0]), int(theirs["zarr"].split(".")[0])}
    assert majors == {2, 3}, f"both environments have zarr-python {majors}; the test needs 2.18 and 3"


def test_other_environment_writes_and_this_one_reads(tmp_path):
    written = _run_other("write", tmp_path)
    back = zarr_roundtrip.read(tmp_path)
    _check_versions(back["versions"], written["versions"])
    assert back["store"] == written["store"]
    assert back["minian"] == written["minian"]


def test_this_environment_writes_and_the_other_reads(tmp_path):
    written = zarr_roundtrip.write(tmp_path)
    back = _run_other("read", tmp_path)
    _check_versions(written["versions"], back["versions"])
    assert back["store"] == written["store"]
    assert back["minian"] == written["minian"]
