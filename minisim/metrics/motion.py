"""Motion metrics: estimated against true rigid shift trajectories.

Sign conventions. :attr:`GroundTruth.shifts` holds the *applied*
displacement of the tissue in pixels, ``(dy, dx)`` per frame, positive
moving content down/right. Registration pipelines (minian, CaImAn) report the
*correction*, the shift that undoes it, i.e. ``-shifts`` up to a constant
offset set by their template frame. ``correction=True`` negates such an
estimate before comparing; ``align=True`` removes the constant offset.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minisim._aliases import keyword_alias
from minisim.metrics._arrays import as_numpy


def as_shifts(x: Any, name: str = "shifts") -> np.ndarray:
    """A ``(frame, 2)`` float array of (dy, dx) from an array, DataArray, GroundTruth or Recording.

    A minian-style DataArray ``(frame, shift_dim)`` is put frame-first; a
    ``shift_dim`` coordinate labelled ``height``/``width`` is put in
    (height, width) = (dy, dx) order.
    """
    if hasattr(x, "ground_truth"):
        x = x.ground_truth
    if hasattr(x, "shifts") and hasattr(x, "fov_shape"):
        if x.shifts is None:
            raise ValueError(f"{name}: this ground truth has no motion (shifts is None); add a BrainMotion step")
        x = x.shifts
    try:
        import xarray as xr

        if isinstance(x, xr.DataArray) and "frame" in x.dims and x.ndim == 2:
            other = next(d for d in x.dims if d != "frame")
            x = x.transpose("frame", other)
            labels = [str(v) for v in np.asarray(x[other].values)] if other in x.coords else []
            if sorted(labels) == ["height", "width"]:
                x = x.sel({other: ["height", "width"]})
    except ImportError:  # pragma: no cover - xarray is a dependency
        pass
    arr = as_numpy(x).astype(np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must be (frame, 2) pixel shifts (dy, dx); got shape {arr.shape}")
    return arr


def _pair(est: Any, true: Any) -> tuple[np.ndarray, np.ndarray]:
    e, t = as_shifts(est, "est"), as_shifts(true, "true")
    if e.shape != t.shape:
        raise ValueError(f"est has {len(e)} frames of shifts but true has {len(t)}; they must cover the same frames")
    return e, t


@keyword_alias(est="shifts_est", true="shifts_true")
def shift_rmse(shifts_est: Any, shifts_true: Any, *, correction: bool = False, align: bool = False) -> float:
    """Root-mean-square error of a shift trajectory, in pixels, over frames and both axes.

    Parameters
    ----------
    shifts_est : array-like (frame, 2)
        Estimated shifts (dy, dx) in pixels (numpy, xarray, dask); ``est=``
        is also accepted.
    shifts_true : array-like (frame, 2), GroundTruth or Recording
        True applied shifts, e.g. ``ground_truth.shifts``; ``true=`` is also accepted.
    correction : bool
        ``shifts_est`` is a correction (the shift that undoes the motion, as minian
        and CaImAn report it): it is negated before comparison.
    align : bool
        Subtract the mean residual per axis first, so a constant offset (the
        choice of registration template) is not counted as error.

    Returns
    -------
    float
        NaN for zero frames.
    """
    e, t = _pair(shifts_est, shifts_true)
    if len(e) == 0:
        return float("nan")
    residual = (-e if correction else e) - t
    if align:
        residual = residual - residual.mean(axis=0)
    return float(np.sqrt(np.mean(residual**2)))


@keyword_alias(est="shifts_est", true="shifts_true")
def global_shift_from_trajectories(shifts_est: Any, shifts_true: Any, *, correction: bool = True) -> tuple[int, int]:
    """Integer (dy, dx) that moves footprints estimated from a registered movie onto the truth.

    A pipeline that corrects frame t by ``c(t)`` leaves the tissue displaced
    by ``shifts(t) + c(t)``, a constant ``b`` when registration is right; its
    footprints are the true ones moved by ``b``, and ``-b`` (rounded per
    axis) realigns them. With ``correction=False`` the estimate is an applied
    displacement ``d(t)`` instead and the realigning shift is ``mean(d -
    shifts)``. ``shifts_est`` / ``shifts_true`` may also be passed as ``est=`` / ``true=``.
    """
    e, t = _pair(shifts_est, shifts_true)
    if len(e) == 0:
        return (0, 0)
    offset = ((-e if correction else e) - t).mean(axis=0)
    return (int(np.round(offset[0])), int(np.round(offset[1])))


__all__ = ["as_shifts", "global_shift_from_trajectories", "shift_rmse"]
