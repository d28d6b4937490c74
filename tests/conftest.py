"""Shared builders for the test suite."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

import minisim as ms


def small_spec(duration_s: float = 2.0, n_px: int = 64, seed: int = 0, **acq) -> ms.Spec:
    """A small, fast spec with a handful of cells and every core step."""
    return ms.Spec(
        acquisition=ms.Acquisition(
            duration_s=duration_s,
            image_sensor=ms.ImageSensor(n_px_height=n_px, n_px_width=n_px, pixel_pitch_um=8.0),
            **acq,
        ),
        seed=seed,
        steps=[
            ms.PlaceNeurons(density_per_mm3=60_000, soma_radius_um=5.0, depth_range_um=(40.0, 60.0)),
            ms.CellActivity(p_quiescent_to_active=0.05),
            ms.CellOptics(),
            ms.Composite(),
            ms.Sensor(photons_per_unit=200),
        ],
    )


def positioned_spec(
    positions_um: Sequence[tuple[float, float, float]],
    *,
    focal_depth_um: float | str = "auto",
    na: float = 0.45,
    n_px: int = 64,
    pixel_size_um: float = 1.0,
    soma_radius_um: float = 2.0,
    scatter_blur_per_um: float = 0.05,
    duration_s: float = 1.0,
    sensor: ms.Sensor | None = None,
    seed: int = 0,
    **acq,
) -> ms.Spec:
    """Round cells (irregularity 0) at explicit ``(z, y, x)`` µm positions.

    Pixels are ``pixel_size_um`` on the object side (pitch 8 µm, magnification
    ``8 / pixel_size_um``). No sensor unless one is given, so movies stay float.
    """
    steps = [
        ms.PlaceNeurons(positions_um=list(positions_um), soma_radius_um=soma_radius_um, irregularity=0.0),
        ms.CellActivity(),
        ms.CellOptics(),
        ms.Composite(),
    ]
    if sensor is not None:
        steps.append(sensor)
    return ms.Spec(
        acquisition=ms.Acquisition(
            duration_s=duration_s,
            focal_depth_in_tissue_um=focal_depth_um,
            optics=ms.Optics(na=na, magnification=8.0 / pixel_size_um),
            tissue=ms.Tissue(scatter_blur_per_um=scatter_blur_per_um),
            image_sensor=ms.ImageSensor(n_px_height=n_px, n_px_width=n_px, pixel_pitch_um=8.0),
            **acq,
        ),
        seed=seed,
        steps=steps,
    )


def placement_spec(
    population: ms.NeuronPopulation | None = None, *, n_px: int = 128, seed: int = 0, **fields
) -> ms.Spec:
    """Only a PlaceNeurons step (fields or one population) on an ``n_px`` square of 1 µm pixels."""
    step = ms.PlaceNeurons(populations=[population]) if population is not None else ms.PlaceNeurons(**fields)
    return ms.Spec(
        acquisition=ms.Acquisition(
            duration_s=0.05,
            optics=ms.Optics(magnification=8.0),
            image_sensor=ms.ImageSensor(n_px_height=n_px, n_px_width=n_px, pixel_pitch_um=8.0),
        ),
        seed=seed,
        steps=[step],
    )


ROOT = Path(__file__).resolve().parents[1]

#: Run in fresh interpreters: the cache key and a hash of the observed bytes of ``small_spec()``.
_FRESH_SCRIPT = """
import hashlib, json
import dask
import minisim as ms
from tests.conftest import small_spec
spec = small_spec()
with dask.config.set(scheduler="synchronous"):
    movie = ms.simulate(spec, chunk_frames=7).observed.values
print(json.dumps({"cache_key": spec.cache_key(), "sha256": hashlib.sha256(movie.tobytes()).hexdigest(),
                  "shape": list(movie.shape), "dtype": str(movie.dtype)}))
"""


@pytest.fixture(scope="session")
def fresh_process_results() -> list[dict]:
    """Outputs of two fresh Python processes (different str-hash salts) run side by side."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _FRESH_SCRIPT],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
        )
        for hash_seed in ("1", "2")
    ]
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), outputs
    return [json.loads(out.strip().splitlines()[-1]) for out in outputs]


@pytest.fixture
def spec() -> ms.Spec:
    return small_spec()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The counts the fuzz tests tried (tests/test_fuzz.py), when they ran."""
    lines = config.__dict__.get("_minisim_fuzz_lines", [])
    if lines:
        terminalreporter.section("fuzz budget tried")
        for line in lines:
            terminalreporter.write_line(line)
