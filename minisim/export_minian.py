"""Recording -> the zarr layout minian's ``open_minian`` reads (movie next to ground truth)."""

from __future__ import annotations

import os
import shutil
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask.array as da
import numpy as np

if TYPE_CHECKING:
    from minisim.recording import Recording

#: Names of the ground-truth variables written next to ``varr`` in the minian layout. They
#: differ from minian's own result names (``A``, ``C``, ``S``, ``motion``) so that a minian
#: run saved into the same directory never overwrites the truth, and ``open_minian`` never
#: presents the truth as a result.
MINIAN_TRUTH = ("true_A", "true_C", "true_S", "true_motion")
#: The unit dimension of the truth (minian's results use ``unit_id``).
TRUTH_UNIT_DIM = "true_unit_id"
#: The ``varr_dtype`` choices: ``None`` keeps the movie's dtype, ``"uint8"`` rescales it.
VARR_DTYPES = (None, "uint8")


class MinianDtypeWarning(UserWarning):
    """The movie written for minian is not 8-bit, which minian's default median denoise refuses."""


def to_minian(
    rec: Recording,
    directory: str | os.PathLike[str],
    *,
    chunk_frames: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    varr_dtype: str | None = None,
    varr_range: tuple[float, float | None] = (0.0, None),
) -> Path:
    """Write the movie and the ground truth in the layout minian's ``open_minian`` reads.

    ``directory`` receives one zarr group (format 2) per variable,
    ``<name>.zarr`` holding the data variable ``<name>``, with minian's names
    and dimensions and integer ``arange`` coordinates shared by all:

    * ``varr`` ``(frame, height, width)``: the observed movie, chunked by
      frames with whole frames per chunk; its dtype is unchanged unless
      ``varr_dtype="uint8"`` (below). Its attributes ``counts_offset`` and
      ``counts_per_level`` give the counts back:
      ``counts ~= counts_offset + varr * counts_per_level`` (0 and 1 when unchanged);
    * ``true_A`` ``(true_unit_id, height, width)``: footprints as the optics
      render them (``GroundTruth.A_observed``), float32;
    * ``true_C`` ``(true_unit_id, frame)``: calcium traces; ``true_S``
      ``(true_unit_id, frame)``: spike counts;
    * ``true_motion`` ``(frame, shift_dim)`` with ``shift_dim = ["height", "width"]``:
      minian's convention, the *correction* that registers each frame, i.e.
      the negation of the applied ``GroundTruth.shifts`` (``(dy, dx)``,
      positive moving content down/right). Zeros when the recording has no
      brain motion.

    So ``xr.merge([xr.open_zarr(p) for p in directory.glob("*.zarr")])`` (or
    minian's ``open_minian``) gives one dataset, and minian's results (``A``,
    ``C``, ``S``, ``motion`` over ``unit_id``) can be saved into the same
    directory beside the truth without colliding with it.

    minian's default ``denoise(method="median")`` runs OpenCV's median blur,
    which needs 8-bit frames. A 16-bit sensor (or a sensorless float movie)
    therefore warns (:class:`MinianDtypeWarning`) unless ``varr_dtype="uint8"``,
    which maps ``varr_range = (vmin, vmax)`` linearly onto 0..255, rounded to
    nearest and clipped: ``vmin`` (default 0 counts) becomes 0 and ``vmax``
    (default: the movie's maximum, found in one extra pass over the movie)
    becomes 255. An 8-bit movie with the default range is written unchanged.
    The truth is not rescaled; ``counts_per_level`` relates the two.

    Each group is written to a temporary sibling of ``directory`` and moved
    into place when complete; other contents of ``directory`` are left alone.
    An existing group of the same name raises ``FileExistsError`` unless
    ``overwrite=True``.

    Returns
    -------
    Path
        ``directory``.
    """
    import xarray as xr

    from minisim._zarr_compat import broken_xarray_zarr_pair

    broken = broken_xarray_zarr_pair()
    if broken is not None:
        raise RuntimeError(f"cannot write the minian layout: {broken}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not overwrite:
        clash = [f"{v}.zarr" for v in ("varr", *MINIAN_TRUTH) if (directory / f"{v}.zarr").exists()]
        if clash:
            raise FileExistsError(
                f"{str(directory)!r} already holds {clash}; fix: pass overwrite=True or use another directory"
            )
    gt = rec.ground_truth
    movie, scale = _varr(da.asarray(rec.observed.data), varr_dtype, varr_range, progress)
    n, h, w = movie.shape
    frames_chunk = int(chunk_frames) if chunk_frames is not None else movie.chunks[0][0] if n else 1
    frame, height, width = np.arange(n), np.arange(h), np.arange(w)
    unit = {TRUTH_UNIT_DIM: np.arange(gt.n_units)}
    shifts = np.zeros((n, 2)) if gt.shifts is None else np.asarray(gt.shifts, dtype=np.float64)
    variables = {
        "varr": xr.DataArray(
            movie.rechunk({0: frames_chunk, 1: -1, 2: -1}),
            dims=("frame", "height", "width"),
            coords={"frame": frame, "height": height, "width": width},
            attrs=scale,
        ),
        "true_A": xr.DataArray(
            _footprint_stack(rec),
            dims=(TRUTH_UNIT_DIM, "height", "width"),
            coords={**unit, "height": height, "width": width},
        ),
        "true_C": xr.DataArray(np.asarray(gt.C), dims=(TRUTH_UNIT_DIM, "frame"), coords={**unit, "frame": frame}),
        "true_S": xr.DataArray(np.asarray(gt.S), dims=(TRUTH_UNIT_DIM, "frame"), coords={**unit, "frame": frame}),
        "true_motion": xr.DataArray(
            -shifts, dims=("frame", "shift_dim"), coords={"frame": frame, "shift_dim": ["height", "width"]}
        ),
    }
    for name, arr in variables.items():
        ds = arr.rename(name).to_dataset()
        if name != "varr":
            ds = ds.chunk({d: (frames_chunk if d == "frame" else -1) for d in ds[name].dims})
        for var in ds.variables.values():
            var.encoding = {}
        bar = _dask_bar(progress and name == "varr")
        with bar:
            _write_group(ds, directory / f"{name}.zarr")
    return directory


def _varr(
    movie: da.Array, varr_dtype: str | None, varr_range: tuple[float, float | None], progress: bool
) -> tuple[da.Array, dict[str, Any]]:
    """The movie as written for minian, and the attributes that map it back to counts."""
    if varr_dtype not in VARR_DTYPES:
        raise ValueError(
            f"varr_dtype={varr_dtype!r} is not supported; fix: pass varr_dtype='uint8' (minian's median "
            "denoise needs 8-bit) or None (keep the movie's dtype)"
        )
    source = str(movie.dtype)
    unchanged = {"counts_offset": 0.0, "counts_per_level": 1.0, "source_dtype": source}
    if varr_dtype is None:
        if movie.dtype != np.uint8:
            warnings.warn(
                f"the movie written for minian is {source}, but minian's default denoise(method='median') "
                "needs 8-bit frames (OpenCV's medianBlur) and fails on it; fix: to_minian(..., "
                "varr_dtype='uint8') or `minisim export --to minian --varr-dtype uint8`, which rescale the "
                "counts to 0..255 and record the scale in varr's attributes",
                MinianDtypeWarning,
                stacklevel=3,
            )
        return movie, unchanged
    vmin, vmax = float(varr_range[0]), varr_range[1]
    if movie.dtype == np.uint8 and vmin == 0 and vmax in (None, 255):
        return movie, unchanged
    if vmax is None:
        with _dask_bar(progress, "minian varr range"):
            top = float(movie.max().compute()) if movie.size else vmin
        vmax = top if top > vmin else vmin + 255.0
    vmax = float(vmax)
    if not (np.isfinite(vmin) and np.isfinite(vmax) and vmax > vmin):
        raise ValueError(
            f"varr_range=({vmin!r}, {vmax!r}) counts must be finite with vmax > vmin; fix: e.g. "
            "varr_range=(0, 4095) for a 12-bit sensor, or leave vmax None for the movie's maximum"
        )
    from minisim._gray import to_uint8

    scaled = da.map_blocks(to_uint8, movie, vmin, vmax, dtype=np.uint8)
    return scaled, {"counts_offset": vmin, "counts_per_level": (vmax - vmin) / 255.0, "source_dtype": source}


def _footprint_stack(rec: Recording, batch_bytes: int = 64 * 2**20) -> da.Array:
    """Dense float32 observed footprints, built lazily in batches of units (bounded memory)."""
    import dask

    gt = rec.ground_truth
    fp = gt.observed if gt.observed is not None else gt.planted
    h, w = gt.fov_shape
    n = len(fp)
    per = max(1, batch_bytes // max(1, 4 * h * w))
    parts = []
    for start in range(0, n, per):
        idx = np.arange(start, min(n, start + per))
        block = dask.delayed(_dense)(fp.subset(idx), gt._crop)
        parts.append(da.from_delayed(block, shape=(len(idx), h, w), dtype=np.float32))
    return da.concatenate(parts) if parts else da.zeros((0, h, w), dtype=np.float32)


def _dense(fp: Any, crop: tuple[slice, slice]) -> np.ndarray:
    return fp.to_dense(crop, dtype=np.float32)


def _dask_bar(enabled: bool, desc: str = "minian varr") -> Any:
    if not enabled:
        return nullcontext()
    try:
        from minisim.progress import progress_bar
    except ImportError:  # pragma: no cover - progress helpers not available
        return nullcontext()
    return progress_bar(desc=desc)


def _write_group(ds: Any, dest: Path) -> None:
    """Write one zarr-2 group to a hidden temporary beside ``dest``, then move it into place.

    The temporary sits beside the directory (so nothing half-written is ever
    inside it) and names this process (``.<dir>.<group>.<pid>-<random>.tmp``);
    one left by a killed process is removed on the next write of the group.
    """
    from minisim._atomic import remove_orphans, temp_name

    base = dest.parent.parent / f"{dest.parent.name}.{dest.name}"
    remove_orphans(base)
    tmp = temp_name(base)
    try:
        ds.to_zarr(tmp, mode="w", zarr_format=2, consolidated=True)
        if dest.exists():
            trash = temp_name(base)
            os.replace(dest, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["MINIAN_TRUTH", "TRUTH_UNIT_DIM", "VARR_DTYPES", "MinianDtypeWarning", "to_minian"]
