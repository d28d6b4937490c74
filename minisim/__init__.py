"""minisim: physics-first simulation of 1-photon miniscope calcium imaging, with exact ground truth.

Names are loaded on first use (PEP 562), so ``import minisim`` does not
import dask, xarray, scipy, matplotlib or numba until a name that needs them
is touched. A new public export goes into ``_LAZY`` and the ``TYPE_CHECKING``
imports below.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minisim._base import RecordingFormatWarning, SpecWarning
    from minisim.acquisition import Acquisition, ImageSensor, Optics, Tissue
    from minisim.cache import cache_dir, cache_path, simulate_cached
    from minisim.defaults import default_spec
    from minisim.detection import DETECT_SNR_THRESHOLD, detection_snr, sample_field_at
    from minisim.engine import simulate
    from minisim.export import simulate_video
    from minisim.metrics import (
        ActivityScore,
        Match,
        activity_similarity,
        field_pearson,
        footprint_mask,
        footprint_roi_trace,
        global_shift_from_trajectories,
        hungarian_match,
        shift_rmse,
        trace_pearson,
    )
    from minisim.perf import PerfTracker
    from minisim.presets import Region, Scope, build_spec
    from minisim.recording import GroundTruth, Recording
    from minisim.spec import Output, Spec
    from minisim.steps.bleaching import Bleaching
    from minisim.steps.brain_motion import BrainMotion
    from minisim.steps.cell_activity import CellActivity
    from minisim.steps.composite import Composite
    from minisim.steps.illumination_profile import IlluminationProfile
    from minisim.steps.leakage import Leakage
    from minisim.steps.neuropil import Neuropil
    from minisim.steps.optics import CellOptics
    from minisim.steps.place_neurons import NeuronPopulation, PlaceNeurons
    from minisim.steps.registry import AnyStep
    from minisim.steps.sensor import Sensor
    from minisim.steps.vasculature import Vasculature, VesselLayer
    from minisim.steps.vignette import Vignette
    from minisim.sweep import SweptSpec, run_sweep, sweep

#: Public name -> the module that defines it.
_LAZY: dict[str, str] = {
    "RecordingFormatWarning": "minisim._base",
    "SpecWarning": "minisim._base",
    "Acquisition": "minisim.acquisition",
    "ImageSensor": "minisim.acquisition",
    "Optics": "minisim.acquisition",
    "Tissue": "minisim.acquisition",
    "cache_dir": "minisim.cache",
    "cache_path": "minisim.cache",
    "simulate_cached": "minisim.cache",
    "default_spec": "minisim.defaults",
    "DETECT_SNR_THRESHOLD": "minisim.detection",
    "detection_snr": "minisim.detection",
    "sample_field_at": "minisim.detection",
    "simulate": "minisim.engine",
    "simulate_video": "minisim.export",
    "ActivityScore": "minisim.metrics",
    "Match": "minisim.metrics",
    "activity_similarity": "minisim.metrics",
    "field_pearson": "minisim.metrics",
    "footprint_mask": "minisim.metrics",
    "footprint_roi_trace": "minisim.metrics",
    "global_shift_from_trajectories": "minisim.metrics",
    "hungarian_match": "minisim.metrics",
    "shift_rmse": "minisim.metrics",
    "trace_pearson": "minisim.metrics",
    "PerfTracker": "minisim.perf",
    "Region": "minisim.presets",
    "Scope": "minisim.presets",
    "build_spec": "minisim.presets",
    "GroundTruth": "minisim.recording",
    "Recording": "minisim.recording",
    "Output": "minisim.spec",
    "Spec": "minisim.spec",
    "Bleaching": "minisim.steps.bleaching",
    "BrainMotion": "minisim.steps.brain_motion",
    "CellActivity": "minisim.steps.cell_activity",
    "Composite": "minisim.steps.composite",
    "IlluminationProfile": "minisim.steps.illumination_profile",
    "Leakage": "minisim.steps.leakage",
    "Neuropil": "minisim.steps.neuropil",
    "CellOptics": "minisim.steps.optics",
    "NeuronPopulation": "minisim.steps.place_neurons",
    "PlaceNeurons": "minisim.steps.place_neurons",
    "AnyStep": "minisim.steps.registry",
    "Sensor": "minisim.steps.sensor",
    "Vasculature": "minisim.steps.vasculature",
    "VesselLayer": "minisim.steps.vasculature",
    "Vignette": "minisim.steps.vignette",
    "SweptSpec": "minisim.sweep",
    "run_sweep": "minisim.sweep",
    "sweep": "minisim.sweep",
}

__version__ = "1.1.0"

__all__ = [
    "DETECT_SNR_THRESHOLD",
    "Acquisition",
    "ActivityScore",
    "AnyStep",
    "Bleaching",
    "BrainMotion",
    "CellActivity",
    "CellOptics",
    "Composite",
    "GroundTruth",
    "IlluminationProfile",
    "Match",
    "ImageSensor",
    "Leakage",
    "NeuronPopulation",
    "Neuropil",
    "Optics",
    "Output",
    "PerfTracker",
    "PlaceNeurons",
    "Recording",
    "Region",
    "RecordingFormatWarning",
    "Scope",
    "Sensor",
    "Spec",
    "SweptSpec",
    "SpecWarning",
    "Tissue",
    "Vasculature",
    "VesselLayer",
    "Vignette",
    "activity_similarity",
    "build_spec",
    "detection_snr",
    "field_pearson",
    "footprint_mask",
    "footprint_roi_trace",
    "global_shift_from_trajectories",
    "hungarian_match",
    "sample_field_at",
    "shift_rmse",
    "run_sweep",
    "cache_dir",
    "cache_path",
    "default_spec",
    "simulate",
    "simulate_cached",
    "simulate_video",
    "trace_pearson",
    "sweep",
]


def __getattr__(name: str) -> Any:
    # minisim 1.0's top-level ``finalize(scene, spec)``: a placeholder raising RemovedAPIError.
    if name == "finalize":
        from minisim._compat.engine import finalize

        return finalize
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")  # a submodule, e.g. minisim.steps
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Package(types.ModuleType):
    """Keeps a public function bound when its namesake submodule is imported.

    ``import minisim.sweep`` makes Python set ``minisim.sweep`` to the module;
    an eager ``from minisim.sweep import sweep`` would have rebound the
    function afterwards, as minisim 1.0 did, so this does the same for the
    lazy names: ``minisim.sweep(...)`` works whatever was imported first.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == value.__name__ and hasattr(value, name):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
