"""Match estimated footprints to true ones: similarity matrices and an optimal assignment."""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import dask.array as da
import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from minisim.metrics._arrays import UNIT_DIMS, as_lazy

#: Share of a footprint's summed weight its "iou" mask keeps (brightest pixels first).
DEFAULT_ENERGY_FRAC = 0.9
SIMILARITY_METRICS = ("iou", "weighted_jaccard", "cosine")
#: A summed footprint image's pixels above this fraction of its peak form the support "auto" aligns.
AUTO_SUPPORT_REL = 1e-2
#: "auto" searches shifts within this fraction of the field of view per axis.
AUTO_SEARCH_FRAC = 0.25
#: Number of phase-correlation peaks "auto" scores before keeping the best.
AUTO_CANDIDATES = 5

Metric = Literal["iou", "cosine", "weighted_jaccard"]


@dataclass(frozen=True)
class Match:
    """An optimal one-to-one assignment of estimated to true footprints.

    Attributes
    ----------
    similarity_matrix : (n_est, n_true) float
        Pairwise similarity in [0, 1] under ``metric`` (after ``shift``).
    pairing : tuple of (int, int)
        Assigned ``(estimate, truth)`` index pairs with positive similarity, as
        plain Python ints (minisim 1.0's type: ``set(m.pairing)`` and
        ``for e, t in m.pairing`` work). :attr:`pairs` is the same as a
        ``(k, 2)`` integer array.
    metric : str
        ``"iou"``, ``"cosine"`` or ``"weighted_jaccard"``.
    shift : (int, int) or None
        Integer ``(dy, dx)`` applied to the estimate before comparing;
        ``None`` when no shift was requested.
    """

    similarity_matrix: np.ndarray
    pairing: tuple[tuple[int, int], ...]
    metric: str = "iou"
    shift: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        pairs = tuple((int(e), int(t)) for e, t in np.asarray(self.pairing, dtype=np.int64).reshape(-1, 2))
        object.__setattr__(self, "pairing", pairs)

    @property
    def n_est(self) -> int:
        return int(self.similarity_matrix.shape[0])

    @property
    def n_true(self) -> int:
        return int(self.similarity_matrix.shape[1])

    @property
    def pairs(self) -> np.ndarray:
        """:attr:`pairing` as a ``(k, 2)`` int64 array (empty pairing: shape ``(0, 2)``)."""
        return np.asarray(self.pairing, dtype=np.int64).reshape(-1, 2)

    @property
    def pair_similarity(self) -> np.ndarray:
        """Similarity of each assigned pair, aligned with :attr:`pairing`."""
        p = self.pairs
        return self.similarity_matrix[p[:, 0], p[:, 1]] if len(p) else np.zeros(0)

    def matched_pairs(self, threshold: float = 0.5, *, thr: float | None = None) -> list[tuple[int, int]]:
        """Assigned ``(estimate, truth)`` pairs whose similarity is at least ``threshold``.

        ``thr`` is the 2.0-development spelling of ``threshold`` (deprecated).
        """
        threshold = _threshold(threshold, thr)
        sims = self.pair_similarity
        return [p for p, s in zip(self.pairing, sims, strict=True) if s >= threshold]

    def recall(self, threshold: float = 0.5, *, thr: float | None = None) -> float:
        """Fraction of true units matched at ``threshold``; 0 when there is no true unit."""
        threshold = _threshold(threshold, thr)
        return len(self.matched_pairs(threshold)) / self.n_true if self.n_true else 0.0

    def precision(self, threshold: float = 0.5, *, thr: float | None = None) -> float:
        """Fraction of estimated units matched at ``threshold``; 0 when nothing was estimated."""
        threshold = _threshold(threshold, thr)
        return len(self.matched_pairs(threshold)) / self.n_est if self.n_est else 0.0

    def f1(self, threshold: float = 0.5, *, thr: float | None = None) -> float:
        """Harmonic mean of precision and recall; 0 when both are 0."""
        threshold = _threshold(threshold, thr)
        p, r = self.precision(threshold), self.recall(threshold)
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    @property
    def mean_similarity(self) -> float:
        """Mean similarity over all assigned (positive) pairs, unthresholded; 0 when none."""
        sims = self.pair_similarity
        return float(sims.mean()) if sims.size else 0.0

    @property
    def total_similarity(self) -> float:
        return float(self.pair_similarity.sum())

    @property
    def iou_matrix(self) -> np.ndarray:
        """Alias of :attr:`similarity_matrix` (minisim 1.0 name)."""
        return self.similarity_matrix

    @property
    def mean_iou(self) -> float:
        """Alias of :attr:`mean_similarity` (minisim 1.0 name)."""
        return self.mean_similarity


def _threshold(threshold: float, thr: float | None) -> float:
    if thr is None:
        return float(threshold)
    warnings.warn("Match(...): `thr=` is deprecated; use `threshold=`", DeprecationWarning, stacklevel=3)
    return float(thr)


def footprint_matrix(A: Any) -> tuple[sp.csr_matrix, tuple[int, int]]:
    """Footprints ``(unit, height, width)`` as a non-negative ``(unit, pixels)`` CSR matrix.

    A single ``(height, width)`` image counts as one unit. Negative values are
    clipped to 0. A dask stack is densified one unit-chunk at a time.
    """
    data = as_lazy(A, first=UNIT_DIMS)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3:
        raise ValueError(f"footprints must be (unit, height, width); got shape {data.shape}")
    n, h, w = data.shape
    if isinstance(data, da.Array):
        rows = []
        bounds = np.concatenate([[0], np.cumsum(data.chunks[0])]).astype(int)
        for start, stop in itertools.pairwise(bounds):
            block = np.asarray(data[start:stop].compute(), dtype=np.float64)
            rows.append(sp.csr_matrix(np.clip(block.reshape(len(block), h * w), 0, None)))
        mat = sp.vstack(rows, format="csr") if rows else sp.csr_matrix((0, h * w))
    else:
        mat = sp.csr_matrix(np.clip(np.asarray(data, dtype=np.float64).reshape(n, h * w), 0, None))
    mat.eliminate_zeros()
    return mat, (h, w)


def energy_masks(M: sp.csr_matrix, energy_frac: float) -> sp.csr_matrix:
    """Binary masks: per row, the fewest largest entries holding ``energy_frac`` of the row sum.

    At ``energy_frac >= 1`` the mask is the whole positive support.
    """
    out = M.copy().astype(np.float64)
    if energy_frac >= 1:
        out.data[:] = 1.0
        return out
    for i in range(out.shape[0]):
        s, e = out.indptr[i], out.indptr[i + 1]
        vals = out.data[s:e]
        if vals.size == 0:
            continue
        order = np.argsort(-vals, kind="stable")
        cum = np.cumsum(vals[order])
        keep = int(np.searchsorted(cum, energy_frac * cum[-1] * (1 - 1e-12))) + 1
        mask = np.zeros(vals.size)
        mask[order[:keep]] = 1.0
        out.data[s:e] = mask
    out.eliminate_zeros()
    return out


def similarity(E: sp.csr_matrix, T: sp.csr_matrix, metric: str, energy_frac: float) -> np.ndarray:
    """Dense ``(n_est, n_true)`` similarity of two CSR footprint matrices."""
    if E.shape[0] == 0 or T.shape[0] == 0:
        return np.zeros((E.shape[0], T.shape[0]))
    if metric == "iou":
        me, mt = energy_masks(E, energy_frac), energy_masks(T, energy_frac)
        inter = (me @ mt.T).toarray()
        union = np.asarray(me.sum(1)) + np.asarray(mt.sum(1)).T - inter
        return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    if metric == "cosine":
        dot = (E @ T.T).toarray()
        norm = np.sqrt(np.asarray(E.multiply(E).sum(1))) * np.sqrt(np.asarray(T.multiply(T).sum(1))).T
        return np.clip(np.divide(dot, norm, out=np.zeros_like(dot), where=norm > 0), 0.0, 1.0)
    return _weighted_jaccard(E, T)


def _unit_rows(M: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(M.sum(1)).ravel()
    return sp.diags(np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)) @ M


def _weighted_jaccard(E: sp.csr_matrix, T: sp.csr_matrix) -> np.ndarray:
    """Ruzicka similarity sum(min)/sum(max) of unit-sum rows, one estimate row at a time."""
    e, t = _unit_rows(E).tocsr(), _unit_rows(T).tocsc()
    overlap = ((e > 0).astype(np.float64) @ (t > 0).astype(np.float64).T).tocsr()
    out = np.zeros((e.shape[0], t.shape[0]))
    e_sum = np.asarray(e.sum(1)).ravel()
    t_sum = np.asarray(t.sum(1)).ravel()
    for i in range(e.shape[0]):
        cands = overlap.indices[overlap.indptr[i] : overlap.indptr[i + 1]]
        if cands.size == 0:
            continue
        cols = e.indices[e.indptr[i] : e.indptr[i + 1]]
        vals = e.data[e.indptr[i] : e.indptr[i + 1]]
        sub = t[:, cols][cands].toarray()
        smin = np.minimum(sub, vals).sum(1)
        smax = e_sum[i] + t_sum[cands] - smin
        out[i, cands] = np.divide(smin, smax, out=np.zeros_like(smin), where=smax > 0)
    return out


def shift_footprints(M: sp.csr_matrix, shape: tuple[int, int], dy: int, dx: int) -> sp.csr_matrix:
    """Move every footprint by whole pixels ``(dy, dx)`` (down/right positive); pixels leaving the image drop."""
    if dy == 0 and dx == 0:
        return M
    h, w = shape
    coo = M.tocoo()
    r, c = np.divmod(coo.col, w)
    r, c = r + dy, c + dx
    keep = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    out = sp.csr_matrix((coo.data[keep], (coo.row[keep], r[keep] * w + c[keep])), shape=M.shape)
    out.eliminate_zeros()
    return out


def phase_correlation_peaks(
    moving: np.ndarray, fixed: np.ndarray, max_shift: tuple[int, int], n: int
) -> list[tuple[int, int]]:
    """The ``n`` strongest integer shifts ``(dy, dx)`` that move ``moving`` onto ``fixed``.

    Normalized cross-power spectrum (Kuglin & Hines 1975), searched within
    ``|dy| <= max_shift[0]`` and ``|dx| <= max_shift[1]``.
    """
    cross = np.fft.fft2(fixed) * np.conj(np.fft.fft2(moving))
    surface = np.fft.ifft2(cross / np.maximum(np.abs(cross), 1e-12)).real
    h, w = surface.shape
    dy = np.fft.fftfreq(h, 1 / h).astype(int)[:, None]
    dx = np.fft.fftfreq(w, 1 / w).astype(int)[None, :]
    allowed = (np.abs(dy) <= max_shift[0]) & (np.abs(dx) <= max_shift[1])
    surface = np.where(allowed, surface, -np.inf)
    best = np.argsort(surface, axis=None)[::-1][:n]
    rows, cols = np.unravel_index(best, surface.shape)
    return [(int(dy[r, 0]), int(dx[0, c])) for r, c in zip(rows, cols, strict=True) if np.isfinite(surface[r, c])]


def _assign(sim: np.ndarray) -> tuple[tuple[int, int], ...]:
    if sim.size == 0:
        return ()
    rows, cols = linear_sum_assignment(sim, maximize=True)
    keep = sim[rows, cols] > 0
    return tuple((int(r), int(c)) for r, c in zip(rows[keep], cols[keep], strict=True))


def hungarian_match(
    A_est: Any,
    A_true: Any,
    *,
    metric: Metric = "iou",
    energy_frac: float = DEFAULT_ENERGY_FRAC,
    shift: tuple[float, float] | Literal["auto"] | None = None,
) -> Match:
    """Optimally pair estimated with true footprints.

    Parameters
    ----------
    A_est, A_true : array-like, (unit, height, width)
        Footprints (numpy, xarray with a ``unit_id`` dimension, or dask);
        negative values are clipped to 0.
    metric : {"iou", "cosine", "weighted_jaccard"}
        ``"iou"``: Jaccard index of energy masks (each footprint's fewest
        brightest pixels holding ``energy_frac`` of its sum). ``"cosine"``:
        ``e.t / (|e| |t|)``. ``"weighted_jaccard"``: Ruzicka index
        ``sum(min) / sum(max)`` of unit-sum footprints (shape-sensitive,
        brightness-blind).
    energy_frac : float in (0, 1]
        Energy kept by the iou masks; 1 keeps the whole positive support.
    shift : (dy, dx), "auto" or None
        Integer pixel offset applied to the estimate before comparison
        (rounded; positive moves it down/right). ``"auto"`` phase-correlates
        the binary supports of the two summed footprint images (searching
        ±25% of the field of view per axis), scores the strongest candidate
        offsets, and adopts the best only if it raises the total assigned
        similarity above the unshifted one.

    Returns
    -------
    Match
        Pairs with zero similarity are never reported.

    Notes
    -----
    The assignment maximizes total similarity (Kuhn-Munkres, via
    ``scipy.optimize.linear_sum_assignment``). Empty inputs give an empty
    pairing and zero recall/precision, never NaN.
    """
    if metric not in SIMILARITY_METRICS:
        raise ValueError(f"metric = {metric!r} is not one of {SIMILARITY_METRICS}")
    if not 0 < energy_frac <= 1:
        raise ValueError(f"energy_frac = {energy_frac} must lie in (0, 1]; fix: 0.9 keeps 90% of each footprint's sum")
    E, shape = footprint_matrix(A_est)
    T, shape_t = footprint_matrix(A_true)
    if shape != shape_t and E.shape[0] and T.shape[0]:
        raise ValueError(f"estimated footprints are {shape} px but true ones are {shape_t} px; they must share a frame")
    if shift is None:
        sim = similarity(E, T, metric, energy_frac)
        return Match(sim, _assign(sim), metric, None)
    if isinstance(shift, str):
        if shift != "auto":
            raise ValueError(f"shift = {shift!r}; use None, a (dy, dx) pair or 'auto'")
        return _auto_match(E, T, shape, metric, energy_frac)
    dy, dx = (round(float(v)) for v in shift)
    sim = similarity(shift_footprints(E, shape, dy, dx), T, metric, energy_frac)
    return Match(sim, _assign(sim), metric, (dy, dx))


def _support(M: sp.csr_matrix, shape: tuple[int, int]) -> np.ndarray:
    img = np.asarray(M.sum(0)).reshape(shape)
    peak = img.max() if img.size else 0.0
    return (img > AUTO_SUPPORT_REL * peak).astype(np.float64) if peak > 0 else np.zeros(shape)


def _auto_match(E: sp.csr_matrix, T: sp.csr_matrix, shape: tuple[int, int], metric: str, energy_frac: float) -> Match:
    sim = similarity(E, T, metric, energy_frac)
    best = Match(sim, _assign(sim), metric, (0, 0))
    if E.shape[0] == 0 or T.shape[0] == 0:
        return best
    window = (int(AUTO_SEARCH_FRAC * shape[0]), int(AUTO_SEARCH_FRAC * shape[1]))
    for dy, dx in phase_correlation_peaks(_support(E, shape), _support(T, shape), window, AUTO_CANDIDATES):
        if (dy, dx) == (0, 0):
            continue
        s = similarity(shift_footprints(E, shape, dy, dx), T, metric, energy_frac)
        cand = Match(s, _assign(s), metric, (dy, dx))
        if cand.total_similarity > best.total_similarity + 1e-12:
            best = cand
    return best
