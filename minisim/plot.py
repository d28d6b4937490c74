"""Summary pictures of a recording beside its ground truth.

:func:`plot_summary` (also ``Recording.plot()`` and ``minisim preview``)
draws the mean and max projections of the observed movie with the
ground-truth footprint contours (detectable and not), a few calcium traces
with their spikes, the motion trajectory and the optical fields that exist.
:func:`plot_stages` shows one frame of every movie stage side by side.

Projections are dask reductions over frame chunks, on at most ``max_frames``
evenly spaced frames, so memory stays bounded for hour-long recordings. The
figures are built on a bare :class:`matplotlib.figure.Figure` (Agg), so
nothing touches pyplot's global state or needs a display.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import dask
import dask.array as da
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from minisim.detection import DETECT_SNR_THRESHOLD

if TYPE_CHECKING:
    from minisim.recording import GroundTruth, Recording

#: Ground-truth per-pixel fields drawn when present, with their panel titles.
FIELDS = {
    "illumination": "illumination",
    "vignette": "vignette",
    "leakage": "leakage",
    "vasculature_mask": "vasculature mask",
    "neuropil_spatial": "neuropil (spatial)",
}
DETECTABLE_COLOR = "#00e5ff"
UNDETECTABLE_COLOR = "#ff7043"
#: Contour level as a fraction of each footprint's peak.
CONTOUR_REL = 0.3


def projections(movie: Any, max_frames: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Mean and max projections over at most ``max_frames`` evenly spaced frames.

    Parameters
    ----------
    movie : array-like or xarray.DataArray, ``(frame, height, width)``
        Lazy (dask) or in-memory movie.
    max_frames : int
        Frames used: every ``ceil(n / max_frames)``-th frame.

    Returns
    -------
    mean, max : 2-D float64 arrays
        Computed in one streaming pass over frame chunks.
    """
    arr = getattr(movie, "data", movie)
    if not isinstance(arr, da.Array):
        arr = da.from_array(np.asarray(arr), chunks=(max(1, min(256, len(arr))), -1, -1))
    n = arr.shape[0]
    if n == 0:
        zeros = np.zeros(arr.shape[1:])
        return zeros, zeros
    step = max(1, math.ceil(n / max(1, max_frames)))
    sub = arr[::step]
    mean, peak = dask.compute(sub.mean(axis=0, dtype=np.float64), sub.max(axis=0))
    return np.asarray(mean), np.asarray(peak, dtype=np.float64)


def footprint_contours(gt: GroundTruth, rel: float = CONTOUR_REL) -> list[list[np.ndarray]]:
    """Per unit, the contour polygons ``(k, 2)`` as (x, y) in field-of-view pixels.

    Drawn from the sparse patches (never a dense stack) at ``rel`` of each
    footprint's peak, using the footprints as observed through the optics.
    """
    fps = gt.observed if gt.observed is not None else gt.planted
    r0, c0 = gt.fov_offset
    out: list[list[np.ndarray]] = []
    for off, patch in zip(fps.offsets, fps.patches, strict=True):
        if patch.size == 0 or patch.max() <= 0:
            out.append([])
            continue
        mask = np.pad((patch >= rel * patch.max()).astype(np.uint8), 1)
        found, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        polys = []
        for c in found:
            pts = c[:, 0, :].astype(float) - 1 + [off[1] - c0, off[0] - r0]
            polys.append(np.vstack([pts, pts[:1]]))
        out.append(polys)
    return out


def _crop_to_fov(field: np.ndarray, fov: tuple[int, int]) -> np.ndarray:
    field = np.asarray(field, dtype=float)
    if field.ndim == 3:  # stacked components (e.g. neuropil): their sum
        field = field.sum(axis=0)
    if field.ndim != 2:
        return field
    dh, dw = (field.shape[0] - fov[0]) // 2, (field.shape[1] - fov[1]) // 2
    if dh > 0 or dw > 0:
        field = field[max(dh, 0) : max(dh, 0) + fov[0], max(dw, 0) : max(dw, 0) + fov[1]]
    return field


def _show_image(ax: Any, img: np.ndarray, title: str) -> Any:
    lo, hi = np.percentile(img, [0.5, 99.8]) if img.size else (0, 1)
    im = ax.imshow(img, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def _draw_contours(ax: Any, contours: list[list[np.ndarray]], detectable: np.ndarray) -> None:
    lw = 0.7 if len(contours) < 200 else 0.35
    for flag, color, style in ((True, DETECTABLE_COLOR, "solid"), (False, UNDETECTABLE_COLOR, "dashed")):
        segs = [p for polys, d in zip(contours, detectable, strict=True) if bool(d) == flag for p in polys]
        if segs:
            ax.add_collection(
                LineCollection(segs, colors=color, linewidths=lw, linestyles=style, alpha=0.9), autolim=False
            )


def _pick_units(gt: GroundTruth, n: int) -> np.ndarray:
    """Up to ``n`` units: detectable ones first, most active (largest C range) first."""
    C = np.asarray(gt.C)
    if C.size == 0:
        return np.zeros(0, int)
    spread = C.max(axis=1) - C.min(axis=1)
    order = np.lexsort((-spread, ~np.asarray(gt.detectable, bool)))
    return order[:n]


def plot_summary(
    recording: Recording,
    path: str | Path | None = None,
    *,
    max_frames: int = 2000,
    n_traces: int = 6,
    dpi: int = 100,
) -> Figure:
    """Draw a recording's summary figure; save it to ``path`` if given.

    Parameters
    ----------
    recording : Recording
        A simulated or loaded recording.
    path : str or Path, optional
        Where to save (format from the suffix, e.g. ``.png``).
    max_frames : int
        At most this many evenly spaced frames enter the projections.
    n_traces : int
        Number of calcium traces drawn (detectable, most active cells first).
    dpi : int
        Resolution of the saved image.

    Returns
    -------
    matplotlib.figure.Figure
        Panels titled "mean projection", "max projection", "calcium traces",
        "motion" (when the recording has shifts) and one per optical field.
    """
    gt = recording.ground_truth
    fps_hz = recording.spec.acquisition.fps
    mean, peak = projections(recording.observed, max_frames)
    contours = footprint_contours(gt)
    detectable = np.asarray(gt.detectable, bool)
    fields = {k: _crop_to_fov(getattr(gt, k), gt.fov_shape) for k in FIELDS if getattr(gt, k, None) is not None}
    fields = {k: v for k, v in fields.items() if v.ndim == 2}
    has_motion = gt.shifts is not None and len(gt.shifts) > 0

    snr = np.asarray(gt.snr, float) if gt.snr is not None else np.zeros(0)
    has_snr = bool(np.isfinite(snr).any())
    n_top = 2 + int(has_motion) + int(has_snr)
    rows = [4.2, 2.4] + ([2.0] if fields else [])
    width = 3.3 * max(3, n_top, len(fields))
    fig = Figure(figsize=(width, sum(rows) + 0.6), layout="constrained")
    grid = fig.add_gridspec(len(rows), 1, height_ratios=rows)
    top = grid[0].subgridspec(1, max(3, n_top))
    for i, (img, title) in enumerate(((mean, "mean projection"), (peak, "max projection"))):
        ax = fig.add_subplot(top[0, i])
        _show_image(ax, img, title)
        _draw_contours(ax, contours, detectable)
    handles = [
        Line2D([], [], color=DETECTABLE_COLOR, label=f"detectable ({detectable.sum()})"),
        Line2D([], [], color=UNDETECTABLE_COLOR, ls="--", label=f"not detectable ({(~detectable).sum()})"),
    ]
    col = 2
    if has_motion:
        ax = fig.add_subplot(top[0, col])
        col += 1
        shifts = np.asarray(gt.shifts, float)
        t = np.arange(len(shifts)) / fps_hz
        ax.plot(t, shifts[:, 0], lw=0.8, label="dy")
        ax.plot(t, shifts[:, 1], lw=0.8, label="dx")
        ax.set_title("motion", fontsize=10)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("shift (px)")
        ax.legend(fontsize=7)
    if has_snr:
        ax = fig.add_subplot(top[0, col])
        finite = snr[np.isfinite(snr)]
        bins = np.linspace(0, max(finite.max(), DETECT_SNR_THRESHOLD) * 1.05, 25).tolist()
        ax.hist(finite[detectable[np.isfinite(snr)]], bins=bins, color=DETECTABLE_COLOR, label="detectable")
        ax.hist(finite[~detectable[np.isfinite(snr)]], bins=bins, color=UNDETECTABLE_COLOR, label="not")
        ax.axvline(DETECT_SNR_THRESHOLD, color="black", lw=0.8, ls=":")
        ax.set_title("cell SNR", fontsize=10)
        ax.set_xlabel("peak SNR")
        ax.set_ylabel("cells")

    ax = fig.add_subplot(grid[1])
    units = _pick_units(gt, n_traces)
    C, S = np.asarray(gt.C, float), np.asarray(gt.S, float)
    t = np.arange(C.shape[1]) / fps_hz if C.ndim == 2 else np.zeros(0)
    for row, u in enumerate(units):
        c = C[u]
        scale = (c.max() - c.min()) or 1.0
        base = -1.4 * row
        color = DETECTABLE_COLOR if detectable[u] else UNDETECTABLE_COLOR
        ax.plot(t, base + (c - c.min()) / scale, lw=0.8, color="black")
        spikes = np.nonzero(S[u] > 0)[0]
        ax.plot(t[spikes], np.full(spikes.size, base - 0.15), "|", ms=5, color=color)
        ax.text(t[0] if t.size else 0, base + 0.6, f"unit {u}", fontsize=7, ha="right", va="center")
    ax.set_title("calcium traces", fontsize=10)
    ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.8)
    ax.set_xlabel("time (s)")
    ax.set_yticks([])
    if t.size:
        ax.set_xlim(t[0], t[-1])

    if fields:
        bottom = grid[2].subgridspec(1, max(len(fields), 3))
        for i, (key, field) in enumerate(fields.items()):
            ax = fig.add_subplot(bottom[0, i])
            im = ax.imshow(field, cmap="viridis", interpolation="nearest")
            ax.set_title(FIELDS[key], fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
            fig.colorbar(im, ax=ax, shrink=0.8)

    n = recording.spec.acquisition.n_frames
    h, w = gt.fov_shape
    fig.suptitle(
        f"{n} frames at {fps_hz:g} Hz, {h}x{w} px ({gt.pixel_size_um:.2f} µm/px), {gt.n_units} cells",
        fontsize=11,
    )
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def plot_stages(recording: Recording, frame: int | None = None, path: str | Path | None = None) -> Figure:
    """One frame of every movie stage, in chain order, cropped to the field of view.

    Parameters
    ----------
    recording : Recording
        Any recording; only the requested frame is computed for each stage.
    frame : int, optional
        Frame index (default: the frame where the ground-truth activity peaks).
    path : str or Path, optional
        Where to save the figure.
    """
    gt = recording.ground_truth
    if frame is None:
        C = np.asarray(gt.C)
        frame = int(C.sum(axis=0).argmax()) if C.size else 0
    names = list(recording.stage_order)
    cols = max(1, min(4, len(names)))
    nrows = max(1, math.ceil(len(names) / cols))
    fig = Figure(figsize=(3 * cols, 3 * nrows + 0.4), layout="constrained")
    h, w = gt.fov_shape
    for i, name in enumerate(names):
        ax = fig.add_subplot(nrows, cols, i + 1)
        img = recording.stage(name).sel(height=slice(0, h - 1), width=slice(0, w - 1))[frame].values
        _show_image(ax, np.asarray(img, float), name)
    fig.suptitle(f"frame {frame}, stage by stage", fontsize=11)
    if path is not None:
        fig.savefig(path)
    return fig
