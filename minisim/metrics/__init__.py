"""Score an analysis pipeline's output against the ground truth.

Footprint matching (:func:`hungarian_match`), trace and activity agreement
(:func:`trace_pearson`, :func:`activity_similarity`, :func:`spike_timing`),
motion (:func:`shift_rmse`, :func:`global_shift_from_trajectories`), static
fields (:func:`field_pearson`) and the naive ROI baseline
(:func:`footprint_mask`, :func:`footprint_roi_trace`).

Inputs may be numpy arrays, xarray DataArrays (minian's ``unit_id`` /
``frame`` dimensions are recognized and put in order) or dask arrays.
Footprints, shifts and fields are small and are materialized; traces and
movies are reduced one frame chunk at a time, so recordings larger than
memory can be scored.
"""

from minisim.metrics.matching import (
    DEFAULT_ENERGY_FRAC,
    SIMILARITY_METRICS,
    Match,
    hungarian_match,
)
from minisim.metrics.motion import global_shift_from_trajectories, shift_rmse
from minisim.metrics.traces import (
    DEFAULT_ROI_REL_THRESHOLD,
    ActivityScore,
    SpikeScore,
    activity_similarity,
    field_pearson,
    footprint_mask,
    footprint_roi_trace,
    spike_timing,
    trace_pearson,
)

__all__ = [
    "DEFAULT_ENERGY_FRAC",
    "DEFAULT_ROI_REL_THRESHOLD",
    "SIMILARITY_METRICS",
    "ActivityScore",
    "Match",
    "SpikeScore",
    "activity_similarity",
    "field_pearson",
    "footprint_mask",
    "footprint_roi_trace",
    "global_shift_from_trajectories",
    "hungarian_match",
    "shift_rmse",
    "spike_timing",
    "trace_pearson",
]
