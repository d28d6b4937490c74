"""minisim 1.0's ``minisim.steps.tissue`` path: neuropil, bleaching and vessel helpers.

Thin re-exports of :mod:`minisim._compat.tissue` (and, for the ``*Step`` classes,
the placeholders of :mod:`minisim._compat.engine`); see
``docs/compat_1_0_helpers.md``.
"""

from minisim._compat.engine import BleachingStep, CompositeStep, NeuropilStep, VasculatureStep, vasculature_focal
from minisim._compat.tissue import (
    VesselGrowth,
    bleaching_floor,
    bleaching_pool,
    dark_recovery,
    grow_vessel_tree,
    murray_children,
    neuropil_components,
    neuropil_envelope,
    ou_process,
    population_envelope,
    rasterize_vessels,
    smooth_spatial_field,
    vasculature_mask_field,
    vessels_to_mask,
)

__all__ = [
    "BleachingStep",
    "CompositeStep",
    "NeuropilStep",
    "VasculatureStep",
    "VesselGrowth",
    "bleaching_floor",
    "bleaching_pool",
    "dark_recovery",
    "grow_vessel_tree",
    "murray_children",
    "neuropil_components",
    "neuropil_envelope",
    "ou_process",
    "population_envelope",
    "rasterize_vessels",
    "smooth_spatial_field",
    "vasculature_focal",
    "vasculature_mask_field",
    "vessels_to_mask",
]
