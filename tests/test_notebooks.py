"""The teaching notebooks run top to bottom on the project's interpreter, and are stored without outputs."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def needs_missing(path: Path) -> list[str]:
    """Modules a notebook declares in ``metadata.minisim.needs`` that this interpreter lacks."""
    import importlib.util

    needs = nbformat.read(path, as_version=4).metadata.get("minisim", {}).get("needs", [])
    return [m for m in needs if importlib.util.find_spec(m) is None]


class _ThisPython(KernelSpecManager):
    """The ipykernel spec, launched with this interpreter (the venv's), whatever else is installed."""

    def get_kernel_spec(self, kernel_name):
        spec = super().get_kernel_spec(kernel_name)
        spec.argv = [sys.executable, *spec.argv[1:]]
        return spec


def test_there_are_teaching_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"01_anatomy.ipynb", "02_benchmark.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; strip them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    if missing := needs_missing(path):
        pytest.skip(f"{path.name} needs {missing}; its own environment runs it (make test-photometry)")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        km=KernelManager(kernel_name="python3", kernel_spec_manager=_ThisPython()),
        timeout=120,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    nbformat.write(nb, tmp_path / path.name)  # the executed copy, for a look after a failure
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert images >= 2, f"{path.name}: expected figures, got {images}"
