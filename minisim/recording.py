"""Recording and GroundTruth: the lazy observed movie and everything behind it."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import dask.array as da
import numpy as np
import xarray as xr

from minisim._base import RecordingFormatWarning  # noqa: F401  (minisim 1.0 import path)
from minisim._compat.engine import finalize  # noqa: F401  (1.0's finalize(scene, spec): a placeholder)
from minisim.artifacts import LAZY_FIELDS, PER_UNIT, attrs_of
from minisim.detection import DETECT_SNR_THRESHOLD, detection_snr, sample_field_at  # noqa: F401  (minisim 1.0 import path)
from minisim.footprint import Footprints
from minisim.spec import Spec
from minisim.steps.registry import kind_of

MOVIE_DIMS = ("frame", "height", "width")


class _ReadAsNumpy:
    """A GroundTruth field that may hold a lazy dask array and reads as numpy.

    Long ``(unit, frame)`` series stay lazy until first read, so a recording
    streamed to disk never holds them whole; the first read computes and
    keeps the values. :meth:`GroundTruth.stored` returns the held form.
    """

    def __init__(self, empty: tuple[int, ...] | None):
        self.empty = empty  # what an unset field reads as (None: stays None)

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_stored_{name}"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return None  # the dataclass default
        value = obj.__dict__.get(self.slot)
        if isinstance(value, da.Array):
            value = np.asarray(value.compute())
            obj.__dict__[self.slot] = value
        if value is None and self.empty is not None:
            return np.zeros(self.empty, np.float32)
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value


@dataclass(frozen=True, eq=False, repr=False)
class GroundTruth:
    """Everything chosen on the way in, in the sensor's field of view.

    Per-unit arrays have one row per cell whose planted footprint reaches the
    field of view (cells entirely in the motion margin are dropped). Traces
    ``C`` (calcium, unbleached), spike counts ``S`` and ``bleaching`` are
    ``(unit, frame)`` float32, computed on first read (a recording saved
    without reading them never holds them in memory); ``shifts`` are the
    applied displacements ``(frame, 2)`` in pixels, ``(dy, dx)``, positive
    moving content down/right. A field whose step did not run is ``None``.
    """

    fov_shape: tuple[int, int]
    fov_offset: tuple[int, int]
    pixel_size_um: float
    planted: Footprints
    observed: Footprints | None = None
    C: np.ndarray = _ReadAsNumpy(empty=(0, 0))  # type: ignore[assignment]
    S: np.ndarray = _ReadAsNumpy(empty=(0, 0))  # type: ignore[assignment]
    centers_um: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    amplitude_per_cell: np.ndarray = field(default_factory=lambda: np.zeros(0))
    in_focus: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    detectable: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    snr: np.ndarray | None = None
    population_id: np.ndarray | None = None
    observed_sigma_px: np.ndarray | None = None
    observed_gain: np.ndarray | None = None
    optical_brightness: np.ndarray | None = None
    focal_depth_um: float | None = None
    shifts: np.ndarray | None = None
    illumination: np.ndarray | None = None
    vignette: np.ndarray | None = None
    leakage: np.ndarray | None = None
    bleaching: np.ndarray | None = _ReadAsNumpy(empty=None)  # type: ignore[assignment]
    neuropil_spatial: np.ndarray | None = None
    neuropil_temporal: np.ndarray | None = None
    neuropil_population: np.ndarray | None = None
    vasculature_mask: np.ndarray | None = None
    vessel_overlap_fraction: np.ndarray | None = None

    @property
    def n_units(self) -> int:
        return len(self.planted)

    def stored(self, name: str) -> Any:
        """A field as held, without computing it: a dask array for a long series not yet read."""
        if name in LAZY_FIELDS:
            return self.__dict__.get(f"_stored_{name}")
        return getattr(self, name)

    def _series(self, name: str) -> Any:
        """A long series as held (lazy if not yet read), or its empty default."""
        value = self.stored(name)
        return getattr(self, name) if value is None else value

    def __repr__(self) -> str:
        frames = self.stored("C").shape[1] if self.stored("C") is not None else 0
        present = [f.name for f in dataclasses.fields(self) if self.stored(f.name) is not None]
        return f"GroundTruth({self.n_units} units, {frames} frames, fov {self.fov_shape}; fields: {', '.join(present)})"

    @property
    def depth_um(self) -> np.ndarray:
        return self.centers_um[:, 0]

    @property
    def _crop(self) -> tuple[slice, slice]:
        (r, c), (h, w) = self.fov_offset, self.fov_shape
        return (slice(r, r + h), slice(c, c + w))

    @cached_property
    def A_planted(self) -> np.ndarray:  # noqa: N802 - minisim 1.0 name
        """Dense planted footprints ``(unit, height, width)`` cropped to the field of view."""
        return self.planted.to_dense(self._crop)

    @cached_property
    def A_observed(self) -> np.ndarray:  # noqa: N802 - minisim 1.0 name
        """Dense footprints as the optics render them (the planted ones without optics)."""
        return (self.observed or self.planted).to_dense(self._crop)

    def detectable_subset(self) -> GroundTruth:
        """The same ground truth restricted to detectable cells."""
        return self.subset(np.asarray(self.detectable, bool))

    def subset(self, index: np.ndarray) -> GroundTruth:
        """Per-unit fields sliced by ``index``; per-effect fields carried unchanged."""
        changes: dict[str, Any] = {
            "planted": self.planted.subset(index),
            "observed": self.observed.subset(index) if self.observed is not None else None,
        }
        for name in (*PER_UNIT, "detectable", "snr"):
            value = self.stored(name)
            if value is not None:
                changes[name] = value[np.asarray(index)] if isinstance(value, da.Array) else np.asarray(value)[index]
        return dataclasses.replace(self, **changes)

    def to_dataset(self) -> xr.Dataset:
        """Labelled view of the ground truth (footprints densified; ``C`` and ``S`` lazy if not yet read)."""
        h, w = self.fov_shape
        coords = {"unit_id": np.arange(self.n_units), "height": np.arange(h), "width": np.arange(w)}
        data: dict[str, Any] = {
            "A": (("unit_id", "height", "width"), self.A_observed),
            "A_planted": (("unit_id", "height", "width"), self.A_planted),
            "C": (("unit_id", "frame"), self._series("C")),
            "S": (("unit_id", "frame"), self._series("S")),
            "centers_um": (("unit_id", "zyx"), self.centers_um),
            "detectable": (("unit_id",), self.detectable),
            "in_focus": (("unit_id",), self.in_focus),
        }
        if self.shifts is not None:
            data["shifts"] = (("frame", "shift_dim"), self.shifts)
        ds = xr.Dataset(data, coords=coords)
        for name in ds.data_vars:
            ds[name].attrs.update(attrs_of(str(name)))
        return ds


@dataclass(frozen=True, eq=False, init=False)
class Recording:
    """A simulated recording: lazy movie stages plus the ground truth.

    ``observed`` is the sensor output (unsigned integer counts when a sensor
    ran, float otherwise) as a lazy ``(frame, height, width)`` DataArray;
    nothing is computed until you ask for values or save it.

    minisim 1.0's constructor, ``Recording(spec=, observed=, ground_truth=,
    snapshots=)`` with a finished movie (numpy, dask or xarray) and a dict of
    stage movies, is accepted too.
    """

    spec: Spec
    ground_truth: GroundTruth
    stages: dict[str, da.Array]
    stage_order: tuple[str, ...]
    margin_px: int = 0
    snapshot_names: tuple[str, ...] | None = None

    def __init__(
        self,
        spec: Spec,
        ground_truth: GroundTruth | None = None,
        stages: dict[str, da.Array] | None = None,
        stage_order: tuple[str, ...] = (),
        margin_px: int = 0,
        snapshot_names: tuple[str, ...] | None = None,
        *,
        observed: Any = None,
        snapshots: dict[str, Any] | None = None,
    ) -> None:
        if ground_truth is None:
            raise TypeError("Recording needs ground_truth= (a GroundTruth)")
        if observed is not None or snapshots is not None:
            if stages is not None:
                raise TypeError("Recording: pass either stages= or minisim 1.0's observed=/snapshots=, not both")
            if observed is None:
                raise TypeError("Recording(snapshots=...) also needs observed=, the final movie")
            stages = {name: _as_dask(movie) for name, movie in (snapshots or {}).items()}
            stages["_fov"] = _as_dask(observed)
            snapshot_names = tuple(snapshots or {})
            stage_order = snapshot_names
        values = (spec, ground_truth, dict(stages or {}), tuple(stage_order), int(margin_px), snapshot_names)
        for f, value in zip(dataclasses.fields(self), values, strict=True):
            object.__setattr__(self, f.name, value)

    @property
    def observed(self) -> xr.DataArray:
        """The final movie, lazy, with integer pixel coordinates."""
        if "_fov" in self.stages:
            return self._label(self.stages["_fov"], "observed")
        if not self.stage_order:
            h, w = self.ground_truth.fov_shape
            return self._label(da.zeros((0, h, w), dtype=np.float32), "observed")
        return self._label(self.stages[self.stage_order[-1]], "observed")

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        """``(field, value)`` pairs as minisim 1.0's model iterated, so ``dict(rec)`` works."""
        yield from (("spec", self.spec), ("observed", self.observed), ("ground_truth", self.ground_truth))
        yield ("snapshots", self.snapshots)

    @property
    def observed_movie(self) -> xr.DataArray:
        """Same as :attr:`observed` (minisim 1.0 name)."""
        return self.observed

    def stage(self, name: str) -> xr.DataArray:
        """The lazy movie after a stage, by stage name or step kind.

        Stages before brain motion live on the padded tissue canvas; their
        pixel coordinates extend to ``-margin`` so they align with the field
        of view.
        """
        kind = kind_of(name)
        step = self.spec.step(kind)
        stage = type(step).stage if step is not None else name
        if stage not in self.stages:
            raise KeyError(
                f"no movie stage {name!r} in this recording; stages: {list(self.stage_order)} "
                "(cell-phase steps such as place_neurons have no movie; stages after until= are not built)"
            )
        return self._label(self.stages[stage], stage)

    @property
    def snapshots(self) -> dict[str, xr.DataArray]:
        """Every movie stage when ``output.save_intermediates`` is set, else empty.

        A recording built with minisim 1.0's ``Recording(..., snapshots=)`` has those.
        """
        if self.snapshot_names is not None:
            return {name: self._label(self.stages[name], name) for name in self.snapshot_names}
        if not self.spec.output.save_intermediates:
            return {}
        return {name: self.stage(name) for name in self.stage_order}

    def _label(self, arr: da.Array, name: str) -> xr.DataArray:
        h, w = self.ground_truth.fov_shape
        off_h = (arr.shape[1] - h) // 2
        off_w = (arr.shape[2] - w) // 2
        coords = {
            "frame": np.arange(arr.shape[0]),
            "height": np.arange(arr.shape[1]) - off_h,
            "width": np.arange(arr.shape[2]) - off_w,
        }
        if name == "observed" and np.issubdtype(arr.dtype, np.integer):
            attrs = attrs_of("observed")
        else:
            what = "observed movie (no sensor step)" if name == "observed" else f"movie after {name}"
            attrs = {**attrs_of("stage"), "long_name": what}
        return xr.DataArray(arr, dims=MOVIE_DIMS, coords=coords, name=name, attrs=attrs)

    def save(self, path: str | Path, **kwargs: Any) -> Path:
        """Write one self-describing zarr store: ``export("zarr", ...)``; see :func:`minisim.store.save`."""
        return cast(Path, self.export("zarr", path, **kwargs))

    def plot(self, path: str | Path | None = None, **kwargs: Any) -> Any:
        """Summary figure: projections with footprints, traces, motion, fields.

        See :func:`minisim.plot.plot_summary`.
        """
        from minisim.plot import plot_summary

        return plot_summary(self, path, **kwargs)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Recording:
        """Read a store written by :meth:`save`; refuses edited or incomplete stores.

        See :func:`minisim.store.load`.
        """
        from minisim._store_read import read_parts

        parts = read_parts(path)
        known = {f.name for f in dataclasses.fields(GroundTruth)}
        truth = GroundTruth(**{k: v for k, v in parts.truth.items() if k in known})
        return cls(parts.spec, truth, parts.stages, parts.stage_order, parts.margin_px)

    def export(self, fmt: str, path: str | Path, **options: Any) -> Path | list[Path]:
        """Write this recording in format ``fmt``: the single entry point of every export.

        ``fmt`` is a name of :func:`minisim.exporters.exporters`
        (``"zarr"``, ``"video"``, ``"tiff"``, ``"minian"`` or a format an
        installed package registers); ``options`` are that format's options,
        checked against its options model. Returns what was written.
        """
        from minisim.exporters import export

        return export(self, fmt, path, **options)

    def write_video(
        self,
        path: str | Path,
        *,
        fps: float | None = None,
        vmin: float = 0.0,
        vmax: float | None = None,
        codec: str = "Y800",
        progress: bool = True,
        **kwargs: Any,
    ) -> Path:
        """Stream the observed movie to an 8-bit grayscale video: ``export("video", ...)``.

        See :func:`minisim.export.write_video`.
        """
        options = dict(fps=fps, vmin=vmin, vmax=vmax, codec=codec, progress=progress, **kwargs)
        return cast(Path, self.export("video", path, **options))

    def write_tiff(self, path: str | Path, **kwargs: Any) -> list[Path]:
        """Stream the observed movie to multi-page TIFF: ``export("tiff", ...)``.

        See :func:`minisim.export.write_tiff`.
        """
        return cast(list[Path], self.export("tiff", path, **kwargs))

    def to_minian(self, directory: str | Path, **kwargs: Any) -> Path:
        """Write movie and ground truth in minian's zarr layout: ``export("minian", ...)``.

        See :func:`minisim.export_minian.to_minian`; its ``varr_range=(vmin, vmax)`` is the format's
        ``vmin`` / ``vmax`` options.
        """
        if "varr_range" in kwargs:
            kwargs["vmin"], kwargs["vmax"] = kwargs.pop("varr_range")
        return cast(Path, self.export("minian", directory, **kwargs))


def _as_dask(movie: Any) -> da.Array:
    data = movie.data if isinstance(movie, xr.DataArray) else movie
    arr = data if isinstance(data, da.Array) else da.from_array(np.asarray(data))
    if arr.ndim != 3:
        raise ValueError(f"a movie must be (frame, height, width); got shape {arr.shape}")
    return arr
