"""Shared builders for the test suite."""

from __future__ import annotations

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


@pytest.fixture
def spec() -> ms.Spec:
    return small_spec()
