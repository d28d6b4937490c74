"""Temporal metrics on matched pairs (traces, activity, spike timing), fields, and ROI traces.

Every function here streams over frame chunks of dask (or dask-backed
xarray) inputs: one pass, a few chunks in memory, on the active scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import dask.array as da
import numpy as np
import scipy.sparse as sp

from minisim.metrics._arrays import UNIT_DIMS, PairedMoments, Stats, as_lazy, as_numpy, check_pairing, map_frame_blocks

#: Fraction of a footprint's peak above which a pixel belongs to its ROI.
DEFAULT_ROI_REL_THRESHOLD = 0.18


def _unit_traces(x: Any, name: str) -> np.ndarray | da.Array:
    data = as_lazy(x, first=UNIT_DIMS, last=("frame",))
    if data.ndim == 1:
        data = data[None]
    if data.ndim != 2:
        raise ValueError(f"{name} must be (unit, frame); got shape {data.shape}")
    return data


def _pairs_and_traces(est: Any, true: Any, pairing: Any, names: tuple[str, str]) -> tuple[Any, Any, np.ndarray]:
    x, y = _unit_traces(est, names[0]), _unit_traces(true, names[1])
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"{names[0]} has {x.shape[1]} frames but {names[1]} has {y.shape[1]}; they must cover the same frames"
        )
    if pairing is None:
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"without a pairing, {names[0]} and {names[1]} need the same number of units")
        pairing = np.column_stack([np.arange(x.shape[0])] * 2)
    return x, y, check_pairing(pairing, x.shape[0], y.shape[0])


def _pair_moments_block(start: int, x: np.ndarray, y: np.ndarray, pairs: np.ndarray) -> Stats:
    return PairedMoments.of_block(x[pairs[:, 0]], y[pairs[:, 1]])


def _moments(x: Any, y: Any, pairs: np.ndarray) -> PairedMoments:
    out = PairedMoments(len(pairs))
    if len(pairs):
        for stats in map_frame_blocks(_pair_moments_block, [x, y], 1, pairs):
            out.merge(stats)
    return out


def trace_pearson(C_est: Any, C_true: Any, pairing: Any = None) -> np.ndarray:
    """Pearson correlation of each matched pair of traces.

    Parameters
    ----------
    C_est, C_true : array-like, (unit, frame)
        Traces (numpy, xarray or dask; streamed over frame chunks).
    pairing : (k, 2) int or Match, optional
        (estimate, truth) index pairs; default pairs unit i with unit i.

    Returns
    -------
    (k,) float
        NaN for a pair where either trace is constant (correlation undefined).
    """
    x, y, pairs = _pairs_and_traces(C_est, C_true, pairing, ("C_est", "C_true"))
    m = _moments(x, y, pairs)
    cx, cy = m.constant()
    with np.errstate(invalid="ignore", divide="ignore"):
        r = m.sxy / np.sqrt(m.sxx * m.syy)
    return np.where(cx | cy, np.nan, np.clip(r, -1.0, 1.0))


class ActivityScore(NamedTuple):
    """Per-pair agreement of an activity estimate with the true activity.

    A named tuple, as in minisim 1.0: ``corr, scale, pve = activity_similarity(...)``.

    Attributes
    ----------
    correlation : (k,) float
        Pearson correlation (0 for a constant estimate or a constant truth).
    scale : (k,) float
        The non-negative gain ``alpha`` of the least-squares fit
        ``true ~ alpha * est + beta`` (units of truth per unit of estimate).
    variance_explained : (k,) float
        ``1 - SS_res / SS_tot`` of that fit: ``r**2`` for positive
        correlation, 0 otherwise; NaN when the truth is constant.
    """

    correlation: np.ndarray
    scale: np.ndarray
    variance_explained: np.ndarray


def activity_similarity(S_est: Any, S_true: Any, pairing: Any = None) -> ActivityScore:
    """Scale-free agreement of estimated activity (e.g. deconvolved ``S``) with the truth.

    The estimate is treated as a rate in arbitrary units, not as spikes:
    nothing is binarized, and multiplying an estimate by a positive constant
    changes only ``scale``. Inputs stream over frame chunks.

    Notes
    -----
    The fit ``b = alpha a + beta`` (a: estimate, b: truth) has
    ``alpha = max(cov(a, b) / var(a), 0)``; with ``alpha > 0`` the fraction
    of the truth's variance explained is ``r**2``. A constant estimate gives
    correlation 0, scale 0 and variance explained 0; a constant truth gives
    correlation 0 and variance explained NaN (nothing to explain).
    """
    x, y, pairs = _pairs_and_traces(S_est, S_true, pairing, ("S_est", "S_true"))
    m = _moments(x, y, pairs)
    cx, cy = m.constant()
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip(m.sxy / np.sqrt(m.sxx * m.syy), -1.0, 1.0)
        alpha = np.maximum(m.sxy / m.sxx, 0.0)
        pve = 1.0 - (m.syy - 2 * alpha * m.sxy + alpha**2 * m.sxx) / m.syy
    r = np.where(cx | cy, 0.0, r)
    alpha = np.where(cx | cy, 0.0, alpha)
    pve = np.where(cy, np.nan, np.where(cx, 0.0, pve))
    return ActivityScore(correlation=r, scale=alpha, variance_explained=pve)


@dataclass(frozen=True)
class SpikeScore:
    """Per-pair spike-timing agreement (events matched one-to-one within a tolerance).

    ``precision = n_matched / n_est``, ``recall = n_matched / n_true``; a
    side with no events scores 0, and a pair with no events on either side is
    NaN (nothing to score). :meth:`pooled` sums the counts over pairs.
    """

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    n_matched: np.ndarray
    n_est: np.ndarray
    n_true: np.ndarray

    def pooled(self) -> tuple[float, float, float]:
        """(precision, recall, f1) over all events of all pairs; 0 when there are none."""
        m, e, t = self.n_matched.sum(), self.n_est.sum(), self.n_true.sum()
        p = m / e if e else 0.0
        r = m / t if t else 0.0
        return float(p), float(r), float(2 * p * r / (p + r)) if p + r else 0.0


def match_events(est_frames: np.ndarray, true_frames: np.ndarray, tolerance_frames: int) -> int:
    """Largest number of one-to-one pairs with ``|est - true| <= tolerance_frames``.

    For points on a line with a symmetric window, sweeping both sorted lists
    and pairing the earliest compatible events is optimal (an exchange
    argument: any optimal matching can be uncrossed into this one).
    """
    e, t = np.sort(est_frames), np.sort(true_frames)
    i = j = n = 0
    while i < len(e) and j < len(t):
        if abs(e[i] - t[j]) <= tolerance_frames:
            n, i, j = n + 1, i + 1, j + 1
        elif e[i] < t[j]:
            i += 1
        else:
            j += 1
    return n


def _event_block(start: int, x: np.ndarray, y: np.ndarray, pairs: np.ndarray, thr: float) -> tuple[list, list]:
    ex = [np.nonzero(np.asarray(x[i]) > thr)[0] + start for i in pairs[:, 0]]
    ey = [np.nonzero(np.asarray(y[j]) > 0)[0] + start for j in pairs[:, 1]]
    return ex, ey


def spike_timing(
    S_est: Any, S_true: Any, pairing: Any = None, tolerance_frames: int = 1, *, threshold: float = 0.0
) -> SpikeScore:
    """Spike-timing precision, recall and F1 of each matched pair.

    Parameters
    ----------
    S_est, S_true : array-like, (unit, frame)
        Estimated activity and true spike counts.
    pairing : (k, 2) int or Match, optional
        Default pairs unit i with unit i.
    tolerance_frames : int
        An estimated event matches a true one at most this many frames away.
    threshold : float
        An estimated event is a frame with ``S_est > threshold``. A true event
        is a frame with at least one spike (several spikes in one frame count
        once: at imaging frame rates spikes within a frame are not resolved).
    """
    if tolerance_frames < 0:
        raise ValueError(f"tolerance_frames = {tolerance_frames} must be >= 0 frames")
    x, y, pairs = _pairs_and_traces(S_est, S_true, pairing, ("S_est", "S_true"))
    k = len(pairs)
    ex: list[list[np.ndarray]] = [[] for _ in range(k)]
    ey: list[list[np.ndarray]] = [[] for _ in range(k)]
    if k:
        for bx, by in map_frame_blocks(_event_block, [x, y], 1, pairs, float(threshold)):
            for i in range(k):
                ex[i].append(bx[i])
                ey[i].append(by[i])
    est = [np.concatenate(v) if v else np.zeros(0, int) for v in ex]
    tru = [np.concatenate(v) if v else np.zeros(0, int) for v in ey]
    n_m = np.array([match_events(a, b, int(tolerance_frames)) for a, b in zip(est, tru, strict=True)], dtype=np.int64)
    n_e = np.array([len(a) for a in est], dtype=np.int64)
    n_t = np.array([len(b) for b in tru], dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n_e > 0, n_m / np.maximum(n_e, 1), 0.0)
        r = np.where(n_t > 0, n_m / np.maximum(n_t, 1), 0.0)
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    silent = (n_e == 0) & (n_t == 0)
    p, r, f1 = (np.where(silent, np.nan, v) for v in (p, r, f1))
    return SpikeScore(p, r, f1, n_m, n_e, n_t)


def _field_block(start: int, x: np.ndarray, y: np.ndarray) -> Stats:
    return PairedMoments.of_block(np.reshape(x, (1, -1)), np.reshape(y, (1, -1)))


def field_pearson(est: Any, true: Any) -> float:
    """Pearson correlation of two fields of any (equal) shape, flattened.

    Invariant to offset and positive scale of either field; NaN when either is
    constant. Streams over the first axis of dask inputs.
    """
    x, y = as_lazy(est), as_lazy(true)
    if x.shape != y.shape:
        raise ValueError(f"fields have shapes {x.shape} and {y.shape}; they must match")
    if x.size == 0:
        return float("nan")
    if x.ndim == 0:
        x, y = x.reshape(1), y.reshape(1)
    m = PairedMoments(1)
    for stats in map_frame_blocks(_field_block, [x, y], 0):
        m.merge(stats)
    cx, cy = m.constant()
    if cx[0] or cy[0]:
        return float("nan")
    return float(np.clip(m.sxy[0] / np.sqrt(m.sxx[0] * m.syy[0]), -1.0, 1.0))


def footprint_mask(a: Any, rel: float = DEFAULT_ROI_REL_THRESHOLD) -> np.ndarray:
    """Pixels of a footprint above ``rel`` times its peak (per unit for a stack).

    An all-zero (or non-positive) footprint has an empty mask.
    """
    if not 0 <= rel < 1:
        raise ValueError(f"rel = {rel} must lie in [0, 1) (a fraction of the footprint's peak)")
    arr = as_numpy(a, first=UNIT_DIMS).astype(np.float64)
    peak = arr.max(axis=(-2, -1), keepdims=True) if arr.size else np.zeros((*arr.shape[:-2], 1, 1))
    return (arr > rel * peak) & (peak > 0)


def _roi_block(start: int, block: np.ndarray, weights: sp.csr_matrix) -> np.ndarray:
    flat = np.asarray(block, dtype=np.float64).reshape(block.shape[0], -1)
    return np.asarray(weights @ flat.T)


def footprint_roi_trace(movie: Any, a: Any, rel: float = DEFAULT_ROI_REL_THRESHOLD) -> np.ndarray:
    """Mean of the movie over each footprint's ROI mask, per frame (the naive ROI trace).

    Parameters
    ----------
    movie : array-like, (frame, height, width)
        numpy, xarray or dask; a dask movie is read one frame chunk at a time
        (in parallel on the active scheduler), never whole.
    a : array-like, (height, width) or (unit, height, width)
        Footprint(s); see :func:`footprint_mask`.
    rel : float
        ROI threshold as a fraction of each footprint's peak.

    Returns
    -------
    (frame,) or (unit, frame) float64
        NaN for an empty ROI.
    """
    masks = footprint_mask(a, rel)
    single = masks.ndim == 2
    masks = masks.reshape(-1, *masks.shape[-2:])
    data = as_lazy(movie, first=("frame",))
    if data.ndim != 3 or data.shape[1:] != masks.shape[1:]:
        raise ValueError(
            f"movie {data.shape} must be (frame, height, width) matching the footprints' {masks.shape[1:]}"
        )
    counts = masks.reshape(len(masks), -1).sum(1).astype(np.float64)
    weights = sp.diags(np.divide(1.0, counts, out=np.full_like(counts, np.nan), where=counts > 0)) @ sp.csr_matrix(
        masks.reshape(len(masks), -1).astype(np.float64)
    )
    weights = sp.csr_matrix(weights)
    if isinstance(data, da.Array):
        data = data.rechunk({1: -1, 2: -1})
    blocks = map_frame_blocks(_roi_block, [data], 0, weights)
    out = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(masks), 0))
    out[counts == 0] = np.nan
    return out[0] if single else out


__all__ = [
    "DEFAULT_ROI_REL_THRESHOLD",
    "ActivityScore",
    "SpikeScore",
    "activity_similarity",
    "field_pearson",
    "footprint_mask",
    "footprint_roi_trace",
    "match_events",
    "spike_timing",
    "trace_pearson",
]
