"""The built-in default recording used by the command line."""

from __future__ import annotations

from minisim.acquisition import Acquisition, ImageSensor
from minisim.spec import Spec
from minisim.steps.cell_activity import CellActivity
from minisim.steps.composite import Composite
from minisim.steps.optics import CellOptics
from minisim.steps.place_neurons import PlaceNeurons
from minisim.steps.sensor import Sensor

DEFAULT_DURATION_S = 30.0


def default_spec(duration_s: float | None = None) -> Spec:
    """A realistic default recording (replaced by the Miniscope V4 × CA1 preset once presets land)."""
    return Spec(
        acquisition=Acquisition(
            duration_s=duration_s or DEFAULT_DURATION_S,
            image_sensor=ImageSensor(n_px_height=256, n_px_width=256, pixel_pitch_um=4.8),
        ),
        seed=0,
        steps=[
            PlaceNeurons(density_per_mm3=45_000, soma_radius_um=5.0, depth_range_um=(140.0, 160.0)),
            CellActivity(),
            CellOptics(),
            Composite(),
            Sensor(photons_per_unit=600),
        ],
    )
