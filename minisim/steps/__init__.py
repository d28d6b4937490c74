"""Physical steps of the forward model, one module each; see :mod:`minisim.steps.registry`."""

from typing import Any

from minisim.steps.base import MovieOp, StepSpec
from minisim.steps.registry import CANONICAL_ORDER, STEP_FOR_KIND, STEPS, AnyStep, order_steps

__all__ = ["CANONICAL_ORDER", "STEPS", "STEP_FOR_KIND", "AnyStep", "MovieOp", "StepSpec", "order_steps"]


#: minisim 1.0's public ``minisim.steps`` names (helpers and eager-engine placeholders), resolved
#: lazily from :mod:`minisim._compat`; see ``docs/compat_1_0_helpers.md``.
_COMPAT_1_0: dict[str, str] = {
    "BleachingStep": "engine",
    "BrainMotionStep": "engine",
    "CellActivityStep": "engine",
    "CellOpticsStep": "engine",
    "CompositeStep": "engine",
    "IlluminationProfileStep": "engine",
    "LeakageStep": "engine",
    "NeuropilStep": "engine",
    "PlaceNeuronsStep": "engine",
    "SensorStep": "engine",
    "Step": "engine",
    "VasculatureStep": "engine",
    "VesselGrowth": "tissue",
    "VignetteStep": "engine",
    "bleaching_floor": "tissue",
    "bleaching_pool": "tissue",
    "bounded_random_walk": "motion",
    "brain_motion_shifts": "motion",
    "calcium_kernel": "cell",
    "combined_falloff_field": "sensor",
    "dark_recovery": "tissue",
    "degrade_footprint": "footprint",
    "falloff_center_px": "sensor",
    "grow_vessel_tree": "tissue",
    "kernel_timing": "cell",
    "leakage_field": "sensor",
    "murray_children": "tissue",
    "neuron_footprint": "cell",
    "neuropil_components": "tissue",
    "neuropil_envelope": "tissue",
    "ou_process": "tissue",
    "physical_brain_motion": "motion",
    "population_envelope": "tissue",
    "radial_falloff": "sensor",
    "radius_grid": "sensor",
    "rasterize_vessels": "tissue",
    "resolve_focal_plane": "cell",
    "sample_neurons": "cell",
    "shift_and_crop": "motion",
    "smooth_spatial_field": "tissue",
    "spike_activity_params": "cell",
    "tau_from_kernel_timing": "cell",
    "vasculature_focal": "engine",
    "vasculature_mask_field": "tissue",
    "vessels_to_mask": "tissue",
}


def __getattr__(name: str) -> Any:
    if name in _COMPAT_1_0:
        import importlib

        return getattr(importlib.import_module(f"minisim._compat.{_COMPAT_1_0[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_COMPAT_1_0])
