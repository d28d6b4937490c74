"""The built-in default recording used by the command line.

When :mod:`minisim.presets` is available the default is its Miniscope V4 x
CA1 recording (brain motion, bleaching, neuropil, vessels, scope fields);
otherwise a smaller built-in chain of the core steps.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from minisim.acquisition import Acquisition, ImageSensor
from minisim.spec import Spec
from minisim.steps.cell_activity import CellActivity
from minisim.steps.composite import Composite
from minisim.steps.optics import CellOptics
from minisim.steps.place_neurons import PlaceNeurons
from minisim.steps.sensor import Sensor

DEFAULT_DURATION_S = 30.0


def _presets() -> ModuleType | None:
    try:
        return importlib.import_module("minisim.presets")
    except ImportError:
        return None


def builtin_spec(duration_s: float | None = None) -> Spec:
    """The core-steps default, used when presets are not available."""
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


#: Steps added to the scope x region preset for the default recording (by kind, default parameters).
DEFAULT_EXTRA_KINDS = ("brain_motion", "bleaching")
DEFAULT_SCOPE, DEFAULT_REGION = "miniscope_v4", "ca1"


def preset_names() -> tuple[list[str], list[str]]:
    """Scope and region preset names, when presets are available (else empty lists)."""
    presets = _presets()
    if presets is None:
        return [], []
    return sorted(getattr(presets, "SCOPES", {})), sorted(getattr(presets, "REGIONS", {}))


def default_spec(duration_s: float | None = None, *, scope: str | None = None, region: str | None = None) -> Spec:
    """A realistic default recording: Miniscope V4 x CA1 with brain motion and bleaching.

    Parameters
    ----------
    duration_s : float, optional
        Recording length; default :data:`DEFAULT_DURATION_S`.
    scope, region : str, optional
        Preset names (see :func:`preset_names`); default
        :data:`DEFAULT_SCOPE` x :data:`DEFAULT_REGION`. Without
        :mod:`minisim.presets` the core-steps :func:`builtin_spec` is used.

    Raises
    ------
    ValueError
        An unknown preset name (the message lists the known ones).
    """
    presets = _presets()
    duration_s = duration_s or DEFAULT_DURATION_S
    if presets is None or not hasattr(presets, "preset_spec"):
        if scope is not None or region is not None:
            raise ValueError("scope/region presets are not available in this minisim build; fix: pass a spec file")
        return builtin_spec(duration_s)
    from minisim.steps.registry import STEP_FOR_KIND

    extras = [STEP_FOR_KIND[k]() for k in DEFAULT_EXTRA_KINDS if k in STEP_FOR_KIND]
    return presets.preset_spec(scope or DEFAULT_SCOPE, region or DEFAULT_REGION, duration_s=duration_s,
                               extra_steps=extras)  # fmt: skip
