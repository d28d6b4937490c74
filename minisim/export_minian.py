"""Recording -> the zarr layout minian's ``open_minian`` reads (movie next to ground truth)."""

from __future__ import annotations

import os
import shutil
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


def to_minian(
    rec: Recording,
    directory: str | os.PathLike[str],
    *,
    chunk_frames: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write the movie and the ground truth in the layout minian's ``open_minian`` reads.

    ``directory`` receives one zarr group (format 2) per variable,
    ``<name>.zarr`` holding the data variable ``<name>``, with minian's names
    and dimensions and integer ``arange`` coordinates shared by all:

    * ``varr`` ``(frame, height, width)``: the observed movie, dtype unchanged,
      chunked by frames with whole frames per chunk;
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
    movie = da.asarray(rec.observed.data)
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


def _dask_bar(enabled: bool) -> Any:
    if not enabled:
        return nullcontext()
    try:
        from minisim.progress import progress_bar
    except ImportError:  # pragma: no cover - progress helpers not available
        return nullcontext()
    return progress_bar(desc="minian varr")


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


__all__ = ["MINIAN_TRUTH", "TRUTH_UNIT_DIM", "to_minian"]
