"""minisim 1.0's ``minisim.steps.cell`` path: placement, morphology, calcium kernel and focus helpers.

Thin re-exports of :mod:`minisim._compat.cell` (and, for the ``*Step`` classes,
the placeholders of :mod:`minisim._compat.engine`); see
``docs/compat_1_0_helpers.md``.
"""

from minisim._compat.cell import (
    calcium_kernel,
    kernel_timing,
    neuron_footprint,
    resolve_focal_plane,
    sample_neurons,
    spike_activity_params,
    tau_from_kernel_timing,
)
from minisim._compat.engine import CellActivityStep, CellOpticsStep, PlaceNeuronsStep

__all__ = [
    "CellActivityStep",
    "CellOpticsStep",
    "PlaceNeuronsStep",
    "calcium_kernel",
    "kernel_timing",
    "neuron_footprint",
    "resolve_focal_plane",
    "sample_neurons",
    "spike_activity_params",
    "tau_from_kernel_timing",
]
