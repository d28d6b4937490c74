"""Photobleaching: each cell's intact-fluorophore fraction B(t), fought by protein turnover."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import numpy as np

from minisim._base import bounded
from minisim.detection import sample_field_at
from minisim.steps.base import StepSpec
from minisim.traces import SEGMENT_FRAMES, StreamedTraces, SummaryAccumulator, lazy_segments, run_segments

#: Largest summed decay exponent (e-folds) one closed-form block may span (keeps exp() finite and exact).
MAX_BLOCK_EFOLDS = 30.0
#: Longest block of frames integrated in one vectorized pass (bounds memory: cells x block).
MAX_BLOCK_FRAMES = 256


class Bleaching(StepSpec):
    """Per-cell photobleaching driven by the cell's own emission and the local excitation.

    Produces ``bleaching`` ``(unit, frame)``: the intact-fluorophore fraction
    ``B_i(t)`` that multiplies each cell's emission in the composite. The
    ground-truth calcium ``C`` stays unbleached.

    Parameters
    ----------
    bleach_susceptibility : float
        Bleaching rate per second per unit of emission and excitation (``q``,
        1/s). 0 disables bleaching. The default 6.3e-6 /s is the minisim 1.0
        calibration (CA1 GCaMP6f: about 0.003 per minute of imaging at high power).
    turnover_tau_s : float
        Protein turnover time constant (s): bleached indicator is replaced by
        fresh protein with this time constant (about 5.5 h).
    excitation_intensity : float
        Dimensionless excitation scale ``I``; multiplied by the illumination
        profile at the cell when an ``illumination_profile`` step is present.
    follow_motion : bool
        When a ``brain_motion`` step is present, sample the illumination at
        the cell's *displaced* position in every frame rather than at its rest
        position (see Notes).

    Notes
    -----
    Model (first-order kinetics of a fluorophore pool with synthesis):

    ``dB/dt = (1 - B)/tau_turn - q * I * e(t) * B``,  ``B(0) = 1``,

    with ``e(t) = max(C_i(t), 0)`` the cell's emission (its trace, including
    gain and baseline) and ``I`` the excitation it receives. Over one frame
    the drive is constant, so the ODE is linear with constant coefficients
    and is integrated *exactly*: ``B -> B* + (B - B*) exp(-(k + r))`` with
    ``k = 1/tau_turn`` and ``r = q I e`` per frame and the instantaneous
    fixed point ``B* = k / (k + r)`` (:func:`bleaching_floor`). ``B[t]`` is
    the value at the start of frame ``t`` (the minisim 1.0 convention).

    Differences from minisim 1.0:

    * The recurrence is solved in closed form for all cells at once over
      blocks of frames (cumulative decay exponents; each block spans at most
      ``MAX_BLOCK_EFOLDS`` e-folds so no exponential overflows), instead of a
      Python loop over cells x frames. Results agree with the per-frame loop
      to ~1e-12.
    * With ``follow_motion`` (default) and a brain-motion step, the dose uses
      the illumination at ``rest + shift(t)``, the position where the cell is
      actually excited in each frame; 1.0 used the rest position only. The
      extra cost is one field lookup per cell and frame, done block by block.
    * A negative trace (possible with ``trace_noise``) is not allowed to
      *un*-bleach: the emission is clipped at 0.

    The excitation is not attenuated by the tissue above the cell: the
    calibration is stated for the effective intensity at the cell layer.
    Dark recovery between sessions is :func:`dark_recovery`.
    """

    kind: Literal["bleaching"] = "bleaching"
    bleach_susceptibility: Annotated[
        float, bounded("1/s", ge=0, hint="use 0 to disable, ~6.3e-6 /s for GCaMP6f in CA1")
    ] = 6.3e-6
    turnover_tau_s: Annotated[float, bounded("s", gt=0, hint="GCaMP turnover is hours, e.g. 20000 s")] = 20_000.0
    excitation_intensity: Annotated[float, bounded(ge=0, hint="dimensionless excitation scale, 1.0 by default")] = 1.0
    follow_motion: bool = True

    stage: ClassVar[str] = "bleaching"
    domain: ClassVar[Any] = "cell"
    requires: ClassVar[tuple[str, ...]] = ("cell_activity",)
    consumes: ClassVar[tuple[str, ...]] = ("centers_um",)
    uses: ClassVar[tuple[str, ...]] = ("C", "illumination", "shifts")
    produces: ClassVar[tuple[str, ...]] = ("bleaching",)

    def compute(self, ctx: Any) -> dict[str, Any]:
        if not ctx.has("C"):
            return {}
        C: StreamedTraces = ctx.get("C")
        fps, px = ctx.acq.fps, ctx.acq.pixel_size_um
        field = ctx.get("illumination") if ctx.has("illumination") else None
        shifts = ctx.get("shifts") if self.follow_motion and field is not None and ctx.has("shifts") else None
        centers = ctx.get("centers_um")
        dose = DoseModel(
            q=self.bleach_susceptibility / fps,
            k_turn=1.0 / (self.turnover_tau_s * fps),
            excitation=self.excitation_intensity,
            field=None if field is None else np.asarray(field, dtype=np.float64),
            y_um=centers[:, 1],
            x_um=centers[:, 2],
            pixel_size_um=px,
            shifts_um=None if shifts is None else np.asarray(shifts, dtype=np.float64) * px,
        )
        n_cells, n_frames = C.shape
        summary, starts = SummaryAccumulator(n_cells, n_frames), []
        for first, _, values, state in run_segments(bleaching_segment, dose, np.ones(n_cells), n_frames, (C,)):
            starts.append(state)
            summary.add(first, values)
        lazy = lazy_segments(bleaching_segment, dose, starts, n_frames, (n_cells,), (C.data,))
        return {"bleaching": summary.finish(lazy)}


@dataclass(frozen=True, eq=False)
class DoseModel:
    """What drives bleaching: rates per frame and the excitation each cell receives."""

    q: float  # bleach susceptibility per frame per unit emission and excitation
    k_turn: float  # turnover rate per frame
    excitation: float
    field: np.ndarray | None  # illumination profile (sensor frame), None: uniform
    y_um: np.ndarray  # rest positions of the cells
    x_um: np.ndarray
    pixel_size_um: float
    shifts_um: np.ndarray | None  # (frames, 2) displacement when following motion

    @property
    def intensity_max(self) -> float:
        return self.excitation * (1.0 if self.field is None else float(np.max(self.field)))

    def intensity(self, first: int, stop: int) -> np.ndarray:
        """Excitation ``(cells, frames or 1)`` each cell receives over frames ``[first, stop)``."""
        if self.shifts_um is None:
            return self.excitation * sample_field_at(self.field, self.y_um, self.x_um, self.pixel_size_um)[:, None]
        yy = self.y_um[:, None] + self.shifts_um[None, first:stop, 0]
        xx = self.x_um[:, None] + self.shifts_um[None, first:stop, 1]
        return self.excitation * sample_field_at(self.field, yy, xx, self.pixel_size_um)


def bleaching_segment(
    dose: DoseModel, k: int, n_frames: int, b_start: np.ndarray, emission: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Segment ``k`` of ``B`` (float32) from its traces and the intact fraction at its start."""
    first = k * SEGMENT_FRAMES

    def intensity(t0: int, t1: int) -> np.ndarray:
        return dose.intensity(first + t0, first + t1)

    return bleaching_run(emission, dose.q, dose.k_turn, intensity, dose.intensity_max, b_start, np.float32)


def bleaching_pool(
    emission: np.ndarray,
    q: float,
    k_turn: float,
    intensity: float | np.ndarray | Callable[[int, int], np.ndarray] = 1.0,
    intensity_max: float | None = None,
    b0: float | np.ndarray = 1.0,
    dtype: type = np.float64,
) -> np.ndarray:
    """Exact solution of ``dB/dt = k (1 - B) - q I e(t) B`` for piecewise-constant drive.

    Parameters
    ----------
    emission : (n, T) array
        Per-frame emission ``e`` of each cell; negative values count as 0.
    q : float
        Bleach susceptibility per frame per unit emission and intensity.
    k_turn : float
        Turnover rate per frame (``1 / tau_turn_frames``).
    intensity : float, array or callable
        Excitation ``I``: a scalar, an array broadcastable to ``(n, T)``, or
        ``intensity(t0, t1)`` returning an array broadcastable to ``(n, t1 - t0)``
        (lets a caller build a time-varying dose block by block).
    intensity_max : float, optional
        Upper bound of the intensity (needed for a callable; default: its max).
    b0 : float or (n,) array
        Intact fraction at the start of frame 0.
    dtype : numpy dtype
        Of the result; the state is always carried in float64.

    Returns
    -------
    (n, T) array
        ``B[:, t]`` at the start of frame ``t``.

    Notes
    -----
    The recurrence ``B_{t+1} = a_t B_t + b_t`` with ``a_t = exp(-lam_t)``,
    ``lam_t = k + r_t`` and ``b_t = k (1 - a_t)/lam_t`` is solved in closed
    form, ``B_t = exp(-L_t) (B_0 + sum_{s<t} b_s exp(L_{s+1}))`` with
    ``L_t = sum_{s<t} lam_s``, over blocks of frames short enough that
    ``L`` stays below ``MAX_BLOCK_EFOLDS`` (all terms are positive, so the sum
    has no cancellation). Cost is O(n T) vectorized work plus one Python
    iteration per block.
    """
    return bleaching_run(emission, q, k_turn, intensity, intensity_max, b0, dtype)[0]


def bleaching_run(
    emission: np.ndarray,
    q: float,
    k_turn: float,
    intensity: float | np.ndarray | Callable[[int, int], np.ndarray] = 1.0,
    intensity_max: float | None = None,
    b0: float | np.ndarray = 1.0,
    dtype: type = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`bleaching_pool` and the intact fraction after the last frame (float64, ``(n,)``)."""
    # Blocks are converted one at a time so an hour-long (cells x frames) input is never copied whole.
    e = np.asarray(emission)
    n, T = e.shape
    out: np.ndarray = np.empty((n, T), dtype=dtype)
    b = np.broadcast_to(np.asarray(b0, dtype=np.float64), (n,)).copy()
    if callable(intensity):
        get_intensity = intensity
        i_max = float("inf") if intensity_max is None else float(intensity_max)
    else:
        arr: Any = np.broadcast_to(np.asarray(intensity, dtype=np.float64), (n, T)) if np.ndim(intensity) else intensity

        def get_intensity(t0: int, t1: int) -> Any:
            return arr[:, t0:t1] if np.ndim(arr) else arr

        i_max = float(np.max(arr)) if intensity_max is None else float(intensity_max)
    if T == 0:
        return out, b
    lam_max = k_turn + q * i_max * (max(float(e.max()), 0.0) if e.size else 0.0)
    if not np.isfinite(lam_max):
        block = 1
    else:
        block = MAX_BLOCK_FRAMES if lam_max <= 0 else int(np.clip(MAX_BLOCK_EFOLDS // lam_max, 1, MAX_BLOCK_FRAMES))
    for t0 in range(0, T, block):
        t1 = min(t0 + block, T)
        e_block = np.maximum(e[:, t0:t1], 0.0, dtype=np.float64)
        lam = np.broadcast_to(k_turn + q * get_intensity(t0, t1) * e_block, (n, t1 - t0))
        inflow_rate = k_turn * _relaxed_fraction(lam)  # b_s
        if t1 - t0 == 1:
            out[:, t0] = b
            b = np.exp(-lam[:, 0]) * b + inflow_rate[:, 0]
            continue
        L_incl = np.cumsum(lam, axis=1)  # L_{s+1}, at most MAX_BLOCK_EFOLDS
        L_end = L_incl[:, -1:]
        inflow = np.cumsum(inflow_rate * np.exp(L_incl - L_end), axis=1)  # exp(-L_end) sum_{s<=t} b_s exp(L_{s+1})
        before = np.concatenate([np.zeros((n, 1)), inflow[:, :-1]], axis=1)
        L_excl = L_incl - lam  # L_t
        out[:, t0:t1] = np.exp(-L_excl) * b[:, None] + np.exp(L_end - L_excl) * before
        b = np.exp(-L_end[:, 0]) * b + inflow[:, -1]
    return out, b


def _relaxed_fraction(lam: np.ndarray) -> np.ndarray:
    """``(1 - exp(-lam)) / lam``, equal to 1 at ``lam = 0``."""
    safe = np.where(lam > 0, lam, 1.0)
    return np.where(lam > 0, -np.expm1(-safe) / safe, 1.0)


def bleaching_floor(q: float, intensity: float, emission: float, tau_turn: float) -> float:
    """Fixed point ``B* = k / (k + q I e)`` of the bleaching ODE, ``k = 1/tau_turn``.

    ``q`` and ``tau_turn`` must share a time unit (both per second, or both
    per frame). No drive gives 1; no turnover (``tau_turn`` 0 or inf) gives 0.
    """
    for name, value in (("q", q), ("intensity", intensity), ("emission", emission), ("tau_turn", tau_turn)):
        if not value >= 0:
            raise ValueError(f"bleaching_floor: {name} = {value!r} must be >= 0; fix: pass non-negative rates")
    k = 1.0 / tau_turn if 0 < tau_turn < math.inf else 0.0
    drive = q * intensity * emission
    return 1.0 if drive == 0 else k / (k + drive)


def dark_recovery(b0: float | np.ndarray, t: float | np.ndarray, tau_turn: float) -> np.ndarray:
    """Intact fraction after ``t`` of darkness: ``1 - (1 - b0) exp(-t / tau_turn)``.

    Chains sessions: pass the last ``B`` of one recording and the gap between
    them (``t`` and ``tau_turn`` in the same unit).
    """
    if not tau_turn > 0:
        raise ValueError(f"dark_recovery: tau_turn = {tau_turn!r} must be > 0; fix: give the turnover time constant")
    return 1.0 - (1.0 - np.asarray(b0, dtype=float)) * np.exp(-np.asarray(t, dtype=float) / tau_turn)
