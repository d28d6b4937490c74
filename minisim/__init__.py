"""minisim: physics-first simulation of 1-photon miniscope calcium imaging, with exact ground truth."""

from minisim._base import RecordingFormatWarning, SpecWarning
from minisim.acquisition import Acquisition, ImageSensor, Optics, Tissue
from minisim.cache import cache_dir, cache_path, simulate_cached
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
    "simulate",
    "simulate_cached",
    "simulate_video",
    "trace_pearson",
    "sweep",
]


def __getattr__(name: str) -> object:
    # minisim 1.0's top-level ``finalize(scene, spec)``: a placeholder raising RemovedAPIError.
    if name == "finalize":
        from minisim._compat.engine import finalize

        return finalize
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
