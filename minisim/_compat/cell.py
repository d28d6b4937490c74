"""minisim 1.0's cell-domain helpers (``minisim.steps.cell``) over our placement, morphology and optics.

Placement is :func:`minisim.steps.place_neurons.sample_centers_um`, the
shapes are :mod:`minisim.steps.morphology`, the kernel is the double
exponential of :mod:`minisim.steps.cell_activity` and auto-focus is
:func:`minisim.steps.optics.resolve_focal_depth_um`. What differs from 1.0 is
listed in ``docs/compat_1_0_helpers.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
from scipy.optimize import brentq

from minisim.steps.cell_activity import kernel_peak_time_s
from minisim.steps.morphology import cytosolic_mask, soma_mask
from minisim.steps.optics import resolve_focal_depth_um
from minisim.steps.place_neurons import sample_centers_um
from minisim.traces import StreamedTraces


def neuron_footprint(
    shape: tuple[int, int],
    center_px: tuple[float, float],
    radius_px: float,
    irregularity: float,
    rng: np.random.Generator,
    *,
    morphology: str = "soma",
    dendrite_length_px: float = 0.0,
    dendrite_width_px: float = 0.0,
) -> np.ndarray:
    """Planted (pre-optics), peak-1 footprint of one neuron on a dense ``shape`` grid.

    Parameters
    ----------
    shape : (int, int)
        Canvas ``(height, width)`` in pixels.
    center_px : (float, float)
        Fractional ``(row, col)`` of the soma center.
    radius_px : float
        Soma radius in pixels.
    irregularity : float
        Fractional wobble of the soma outline, in [0, 1] (0 is a clean disk).
    rng : numpy.random.Generator
        Source of the outline noise and the dendrites.
    morphology : {"soma", "cytosolic"}
        ``"cytosolic"`` adds tapering, forking proximal dendrites.
    dendrite_length_px, dendrite_width_px : float
        Nominal dendrite reach and base diameter (cytosolic only).

    Returns
    -------
    numpy.ndarray
        float64 ``shape`` array, 1 inside the soma; a sub-pixel soma lights its nearest pixel.

    Notes
    -----
    Drawn by :func:`minisim.steps.morphology.soma_mask` / ``cytosolic_mask``,
    the shapes the engine plants. A clean disk (``irregularity=0``) is exactly
    the set of pixel centers within ``radius_px``.
    """
    if morphology not in ("soma", "cytosolic"):
        raise ValueError(f"morphology = {morphology!r} is not a known shape; fix: use 'soma' or 'cytosolic'")
    h, w = int(shape[0]), int(shape[1])
    row, col = float(center_px[0]), float(center_px[1])
    if morphology == "cytosolic" and dendrite_length_px > 0:
        offset, patch = cytosolic_mask(row, col, radius_px, irregularity, dendrite_length_px, dendrite_width_px, rng)
    else:
        offset, patch = soma_mask(row, col, radius_px, irregularity, rng)
    out = np.zeros((h, w))
    r0, c0 = int(offset[0]), int(offset[1])
    pr0, pc0 = max(-r0, 0), max(-c0, 0)
    r1, c1 = min(r0 + patch.shape[0], h), min(c0 + patch.shape[1], w)
    if r1 > max(r0, 0) and c1 > max(c0, 0):
        out[max(r0, 0) : r1, max(c0, 0) : c1] = patch[pr0 : pr0 + r1 - max(r0, 0), pc0 : pc0 + c1 - max(c0, 0)]
    if not out.any():
        out[int(np.clip(round(row), 0, h - 1)), int(np.clip(round(col), 0, w - 1))] = 1.0
    return out


def sample_neurons(
    spec: Any, fov_h_um: float, fov_w_um: float, rng: np.random.Generator
) -> list[tuple[float, float, float]]:
    """Soma centers ``(z, y, x)`` µm of every population of a ``PlaceNeurons`` spec over a field.

    Parameters
    ----------
    spec : minisim.spec.PlaceNeurons
        Its ``resolved_populations`` are sampled in order.
    fov_h_um, fov_w_um : float
        Extent of the field (optical-center frame, so ``y`` spans ``±fov_h_um/2``).
    rng : numpy.random.Generator

    Returns
    -------
    list of (float, float, float)

    Notes
    -----
    :func:`minisim.steps.place_neurons.sample_centers_um`: the count is
    ``round(density * area * max(thickness, soma diameter))``, centers uniform
    in the slab, optionally Poisson-disk spaced; explicit ``positions_um`` are
    returned as given.
    """
    centers: list[tuple[float, float, float]] = []
    for pop in spec.resolved_populations:
        pts = sample_centers_um(pop, (float(fov_h_um), float(fov_w_um)), rng)
        centers.extend((float(z), float(y), float(x)) for z, y, x in pts)
    return centers


def calcium_kernel(tau_rise_s: float, tau_decay_s: float, fps: float) -> np.ndarray:
    """Double-exponential indicator kernel ``exp(-t/tau_d) - exp(-t/tau_r)`` sampled at ``fps``.

    Returns ``max(ceil(5 tau_d fps), 2)`` samples from ``t = 0``, scaled so the
    largest sample is 1 (1.0's normalization; the engine scales by the
    analytic peak instead, which differs by the sampling of the peak).
    """
    if tau_rise_s >= tau_decay_s:
        raise ValueError(
            f"tau_rise_s = {tau_rise_s} s must be < tau_decay_s = {tau_decay_s} s; "
            "fix: give a rise faster than the decay"
        )
    n = max(math.ceil(5.0 * tau_decay_s * fps), 2)
    t = np.arange(n) / fps
    k = np.exp(-t / tau_decay_s) - np.exp(-t / tau_rise_s)
    return k / k.max()


def _half_max_times(r: float) -> tuple[float, float]:
    """The two times (in units of tau_decay) where ``exp(-u) - exp(-u/r)`` is half its peak."""

    def shape(u: float) -> float:
        return math.exp(-u) - math.exp(-u / r)

    peak = kernel_peak_time_s(r, 1.0)
    half = shape(peak) / 2.0
    hi = 2.0 * peak
    while shape(hi) > half:
        hi *= 2.0
    lo_t = float(brentq(lambda u: shape(u) - half, 0.0, peak))
    hi_t = float(brentq(lambda u: shape(u) - half, peak, hi))
    return lo_t, hi_t


def kernel_timing(tau_rise_s: float, tau_decay_s: float) -> tuple[float, float]:
    """``(time_to_peak_s, fwhm_s)`` of the double-exponential kernel.

    Notes
    -----
    The peak is at ``tau_r tau_d ln(tau_d / tau_r) / (tau_d - tau_r)``
    (:func:`minisim.steps.cell_activity.kernel_peak_time_s`); the half-maximum
    crossings are found by bracketing root finds.
    """
    if tau_rise_s >= tau_decay_s:
        raise ValueError(
            f"tau_rise_s = {tau_rise_s} s must be < tau_decay_s = {tau_decay_s} s; "
            "fix: give a rise faster than the decay"
        )
    lo_t, hi_t = _half_max_times(tau_rise_s / tau_decay_s)
    return kernel_peak_time_s(tau_rise_s, tau_decay_s), (hi_t - lo_t) * tau_decay_s


#: Range of ``tau_rise / tau_decay`` the inversion searches (the kernel family's limits).
_RATIO_RANGE = (1e-4, 1.0 - 1e-6)


def tau_from_kernel_timing(t_peak_s: float, fwhm_s: float) -> tuple[float, float]:
    """``(tau_rise_s, tau_decay_s)`` of the kernel with a given time to peak and FWHM.

    Notes
    -----
    With ``r = tau_r / tau_d`` both features are ``tau_d`` times a function of
    ``r``, so their ratio fixes ``r`` (one root find); then
    ``tau_d = t_peak / peak(r)``. A ratio outside what the family can reach
    (about 0 to 0.41) is clamped to the nearest reachable shape.
    """
    if not (t_peak_s > 0 and fwhm_s > 0):
        raise ValueError(f"t_peak_s = {t_peak_s} s and fwhm_s = {fwhm_s} s must both be > 0")

    def ratio(r: float) -> float:
        lo_t, hi_t = _half_max_times(r)
        return kernel_peak_time_s(r, 1.0) / (hi_t - lo_t)

    target = t_peak_s / fwhm_s
    lo, hi = _RATIO_RANGE
    if target <= ratio(lo):
        r = lo
    elif target >= ratio(hi):
        r = hi
    else:
        r = float(brentq(lambda x: ratio(x) - target, lo, hi))
    tau_decay = t_peak_s / kernel_peak_time_s(r, 1.0)
    return r * tau_decay, tau_decay


#: (p_quiescent_to_active, p_active_to_quiescent, active_rate_hz, quiescent_rate_hz)
#: at activity 0, 0.5 and 1: the CaLab simulator's sparse, moderate and dense levels.
_ACTIVITY_LEVELS = (
    (0.002, 0.4, 90.0, 0.3),
    (0.005, 0.3, 150.0, 0.6),
    (0.01, 0.2, 210.0, 1.5),
)


def spike_activity_params(activity: float) -> tuple[float, float, float, float]:
    """Markov-gate parameters for one ``activity`` knob in [0, 1] (clamped).

    Returns ``(p_quiescent_to_active, p_active_to_quiescent, active_rate_hz,
    quiescent_rate_hz)`` for :class:`minisim.spec.CellActivity`, piecewise
    linear through the sparse (0), moderate (0.5) and dense (1) levels.
    """
    a = min(max(float(activity), 0.0), 1.0)
    lo, hi = (_ACTIVITY_LEVELS[0], _ACTIVITY_LEVELS[1]) if a <= 0.5 else (_ACTIVITY_LEVELS[1], _ACTIVITY_LEVELS[2])
    t = a / 0.5 if a <= 0.5 else (a - 0.5) / 0.5
    p_qa, p_aq, active, quiet = (x + t * (y - x) for x, y in zip(lo, hi, strict=True))
    return p_qa, p_aq, active, quiet


def resolve_focal_plane(
    cells: Sequence[Any],
    focal_depth_in_tissue_um: float | str,
    optics: Any = None,
    *,
    acq: Any = None,
    sensor_spec: Any = None,
    photon_field: np.ndarray | None = None,
) -> float:
    """The focal depth (µm below the surface) that ``"auto"`` focus chooses for ``cells``.

    Parameters
    ----------
    cells : sequence
        Objects with ``center_um`` ``(z, y, x)`` and ``trace`` (array or None),
        e.g. :class:`minisim.scene.Cell`.
    focal_depth_in_tissue_um : float or "auto"
        A number is returned as is.
    optics : minisim.spec.Optics, optional
        Supplies the field curvature (off-axis cells focus shallower).
    acq : minisim.spec.Acquisition, optional
    sensor_spec : minisim.spec.Sensor, optional
        With ``acq``, selects the yield scan; otherwise the median depth.
    photon_field : numpy.ndarray, optional
        Illumination x vignette over the sensor field.

    Returns
    -------
    float

    Notes
    -----
    Without a sensor the plane minimizing total defocus, the median effective
    depth, is chosen. With one, :func:`minisim.steps.optics.resolve_focal_depth_um`
    scans 96 planes for the detectable cells weighted by sharpness (1.0 counted
    detectable cells only; the two agree when the cells sit in one layer).
    """
    if focal_depth_in_tissue_um != "auto":
        return float(focal_depth_in_tissue_um)
    if len(cells) == 0:
        return 0.0
    centers = np.asarray([c.center_um for c in cells], dtype=float).reshape(-1, 3)
    sagitta = np.zeros(len(centers))
    if optics is not None and optics.field_curvature_radius_um is not None:
        sagitta = optics.focal_curvature_shift_um(np.hypot(centers[:, 1], centers[:, 2]))
    effective = centers[:, 0] + sagitta
    scored = [i for i, c in enumerate(cells) if getattr(c, "trace", None) is not None]
    if acq is None or sensor_spec is None or not scored:
        return float(np.median(effective))
    rows = np.stack([np.asarray(cells[i].trace, dtype=np.float64) for i in scored])
    traces = StreamedTraces(
        da.from_array(rows.astype(np.float32)), rows.min(axis=1), rows.max(axis=1), rows.sum(axis=0)
    )
    acq_auto = acq.model_copy(update={"focal_depth_in_tissue_um": "auto"})
    if optics is not None:
        acq_auto = acq_auto.model_copy(update={"optics": optics})
    idx = np.asarray(scored)
    return resolve_focal_depth_um(
        acq_auto, centers[idx, 0], sagitta[idx], centers[idx, 1], centers[idx, 2], traces, photon_field,
        float(sensor_spec.photons_per_unit),
    )  # fmt: skip
