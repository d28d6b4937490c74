"""Assembly of a :class:`~minisim.recording.Recording` from the engine's artifacts and movie stages.

The engine (:func:`minisim.engine.simulate`) calls :func:`assemble` once the
cell phase has run and the movie graph is built: the ground truth is cut to
the cells that reach the field of view, the per-cell SNR and detectable flag
are computed (:mod:`minisim.detection`), and the stages are wrapped.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import dask.array as da
import numpy as np

from minisim.artifacts import PER_UNIT
from minisim.context import Geometry
from minisim.detection import DETECT_SNR_THRESHOLD, detection_snr, electrons_per_unit, photon_field, sample_field_at
from minisim.footprint import Footprints
from minisim.recording import GroundTruth, Recording
from minisim.spec import Spec
from minisim.traces import SEGMENT_FRAMES, StreamedTraces


def assemble(
    spec: Spec, geo: Geometry, values: dict[str, Any], stages: dict[str, da.Array], order: list[str]
) -> Recording:
    """Assemble the ground truth from the artifacts and wrap the movie stages."""
    planted: Footprints = values.get("planted_footprints") or Footprints(
        np.zeros((0, 2), np.int64), (), geo.canvas_shape
    )
    visible = _reaches_fov(planted, geo)
    n_frames = spec.acquisition.n_frames
    n = len(planted)
    gt_fields = {f.name for f in dataclasses.fields(GroundTruth)}
    kwargs: dict[str, Any] = {
        "amplitude_per_cell": np.full(n, np.nan),
        "in_focus": np.ones(n, bool),
        "centers_um": np.zeros((n, 3)),
        **{k: v for k, v in values.items() if k in gt_fields},
    }
    for name in ("C", "S"):
        if name not in kwargs:
            kwargs[name] = da.zeros((n, n_frames), dtype=np.float32, chunks=(n, SEGMENT_FRAMES))
    snr, detectable = _detectability(spec, values, kwargs, n)
    kwargs.update(snr=snr, detectable=detectable)
    keep = None if visible.all() else visible
    for name in (*PER_UNIT, "snr", "detectable"):
        value = kwargs.get(name)
        if isinstance(value, StreamedTraces):
            value = value.data
        if value is not None and keep is not None:
            value = value[keep] if isinstance(value, da.Array) else np.asarray(value)[keep]
        kwargs[name] = value
    obs = values.get("observed_footprints")
    gt = GroundTruth(
        fov_shape=geo.fov_shape,
        fov_offset=(geo.margin_px, geo.margin_px),
        pixel_size_um=geo.pixel_size_um,
        **{**kwargs, "planted": planted.subset(visible), "observed": obs.subset(visible) if obs is not None else None},
    )
    stages = dict(stages)
    out_dtype = spec.output.store_dtype
    if spec.step("sensor") is None or "sensor" not in order:
        key = "_fov" if "_fov" in stages else (order[-1] if order else None)
        if key is not None and stages[key].dtype != np.dtype(out_dtype):
            stages["_fov"] = stages[key].astype(out_dtype)
    return Recording(spec, gt, stages, tuple(order), geo.margin_px)


def _reaches_fov(planted: Footprints, geo: Geometry) -> np.ndarray:
    m, (h, w) = geo.margin_px, geo.fov_shape
    keep = np.zeros(len(planted), bool)
    for i, (off, patch) in enumerate(zip(planted.offsets, planted.patches, strict=True)):
        rows = np.nonzero(patch.any(axis=1))[0] + off[0]
        cols = np.nonzero(patch.any(axis=0))[0] + off[1]
        keep[i] = rows.size > 0 and ((rows >= m) & (rows < m + h)).any() and ((cols >= m) & (cols < m + w)).any()
    return keep


def _detectability(spec: Spec, values: dict[str, Any], kw: dict[str, Any], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell peak SNR and the detectable flag (see :mod:`minisim.detection`)."""
    traces: StreamedTraces | None = values.get("C")
    if traces is None:
        return np.zeros(n), np.zeros(n, bool)
    sensor = spec.step("sensor")
    if sensor is None:
        return np.full(n, np.nan), np.asarray(kw["in_focus"], bool).copy()
    acq = spec.acquisition
    y, x = kw["centers_um"][:, 1], kw["centers_um"][:, 2]
    field = photon_field(values.get("illumination"), values.get("vignette"))
    field_at_cell = sample_field_at(field, y, x, acq.pixel_size_um)
    if values.get("vasculature_mask") is not None:
        field_at_cell = field_at_cell * sample_field_at(values["vasculature_mask"], y, x, acq.pixel_size_um)
    brightness = np.asarray(values.get("optical_brightness", np.ones(n)))
    gain = electrons_per_unit(brightness, field_at_cell, sensor.photons_per_unit, acq.image_sensor.quantum_efficiency)
    snr = (
        detection_snr(traces.maximum - traces.minimum, traces.minimum, gain, acq.image_sensor.read_noise_e)
        if traces.shape[1]
        else np.zeros(n)
    )
    return snr, snr >= DETECT_SNR_THRESHOLD


__all__ = ["assemble"]
