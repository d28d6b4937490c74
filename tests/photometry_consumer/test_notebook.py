"""The photometry teaching notebook runs top to bottom beside the IBL stack it scores (``make test-photometry``)."""

from __future__ import annotations

import pytest

from .. import test_notebooks as nbtests  # the module, so that its own tests are not collected again here

PHOTOMETRY = [p for p in nbtests.NOTEBOOKS if p.name == "03_photometry.ipynb"]


def test_the_photometry_notebook_exists_and_declares_the_ibl_stack():
    assert PHOTOMETRY, "notebooks/03_photometry.ipynb is missing"
    assert not nbtests.needs_missing(PHOTOMETRY[0])  # this environment has what it needs, so it runs here


@pytest.mark.parametrize("path", PHOTOMETRY, ids=lambda p: p.name)
def test_photometry_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    nbtests.test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch)
