"""Spiking and calcium dynamics of each cell.

Model (after the CaLab simulator): a two-state Markov gate (quiescent /
active) stepped at the frame rate sets each cell's firing rate; spikes are
Bernoulli draws on a fine time grid (one per bin at most, a refractory
period); calcium is the spike train convolved with a peak-normalized
double-exponential kernel, averaged over each frame's exposure.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import scipy.signal as sig
from pydantic import model_validator

from minisim._base import bounded, field_error
from minisim.steps.base import StepSpec


class CellActivity(StepSpec):
    """Spikes and calcium traces ``C`` (unitless, baseline ``f0``) per cell.

    Notes
    -----
    The calcium kernel is ``k(t) = exp(-t/tau_decay) - exp(-t/tau_rise)``
    scaled to peak 1, which peaks at ``t* = tr*td/(td-tr) * ln(td/tr)``.
    Convolution is computed exactly on the fine grid as the difference of two
    first-order recursive filters. A burn-in of ``ceil(6 tau_decay fps)``
    frames is simulated and dropped so traces open at steady state.
    ``C = gain * (f0 + calcium)`` with a lognormal, mean-1 ``gain`` per cell
    (coefficient of variation ``brightness_cv``). Transition probabilities are
    per frame, as in minisim 1.0. Indicator saturation is not modelled.
    """

    kind: Literal["cell_activity"] = "cell_activity"
    spike_sim_hz: Annotated[float, bounded("Hz", gt=0)] = 300.0
    p_quiescent_to_active: Annotated[float, bounded("per frame", gt=0, le=1)] = 0.005
    p_active_to_quiescent: Annotated[float, bounded("per frame", gt=0, le=1)] = 0.3
    active_rate_hz: Annotated[float, bounded("Hz", gt=0)] = 150.0
    quiescent_rate_hz: Annotated[float, bounded("Hz", ge=0)] = 0.6
    tau_rise_s: Annotated[float, bounded("s", gt=0, hint="GCaMP6f rises in ~0.05 s")] = 0.05
    tau_decay_s: Annotated[float, bounded("s", gt=0, hint="GCaMP6f decays in ~0.5 s")] = 0.5
    brightness_cv: Annotated[float, bounded(ge=0)] = 0.3
    f0: Annotated[float, bounded(ge=0)] = 1.0
    trace_noise: Annotated[float, bounded(ge=0)] = 0.0

    stage: ClassVar[str] = "cell_activity"
    domain: ClassVar[Any] = "cell"
    requires: ClassVar[tuple[str, ...]] = ("place_neurons",)
    consumes: ClassVar[tuple[str, ...]] = ("centers_um",)
    produces: ClassVar[tuple[str, ...]] = ("C", "S", "amplitude_per_cell")

    @model_validator(mode="after")
    def _rise_before_decay(self) -> CellActivity:
        if self.tau_rise_s >= self.tau_decay_s:
            raise field_error(
                type(self).__name__,
                ("tau_rise_s",),
                self.tau_rise_s,
                f"tau_rise_s = {self.tau_rise_s} s must be < tau_decay_s = {self.tau_decay_s} s; "
                "fix: calcium rises faster than it decays, make tau_rise_s smaller (GCaMP6f: 0.05 s and 0.5 s)",
            )
        return self

    def compute(self, ctx: Any) -> dict[str, Any]:
        n_cells = len(ctx.get("centers_um"))
        n_frames = ctx.acq.n_frames
        fps = ctx.acq.fps
        # float32 halves the eager (cells x frames) ground truth of long recordings; spike counts are exact in it.
        C = np.empty((n_cells, n_frames), dtype=np.float32)
        S = np.empty((n_cells, n_frames), dtype=np.float32)
        gain = np.empty(n_cells)
        for i in range(n_cells):
            C[i], S[i], gain[i] = simulate_cell(self, fps, n_frames, ctx.rng(index=i))
        return {"C": C, "S": S, "amplitude_per_cell": gain}


def kernel_peak_time_s(tau_rise_s: float, tau_decay_s: float) -> float:
    """Time of the double-exponential kernel's maximum."""
    return tau_rise_s * tau_decay_s / (tau_decay_s - tau_rise_s) * math.log(tau_decay_s / tau_rise_s)


def calcium_kernel(tau_rise_s: float, tau_decay_s: float, rate_hz: float) -> np.ndarray:
    """Peak-normalized kernel sampled at ``rate_hz`` out to ``5 tau_decay``."""
    if tau_rise_s >= tau_decay_s:
        raise ValueError(f"tau_rise_s = {tau_rise_s} s must be < tau_decay_s = {tau_decay_s} s")
    t = np.arange(0, 5 * tau_decay_s, 1 / rate_hz)
    k = np.exp(-t / tau_decay_s) - np.exp(-t / tau_rise_s)
    tp = kernel_peak_time_s(tau_rise_s, tau_decay_s)
    return k / (math.exp(-tp / tau_decay_s) - math.exp(-tp / tau_rise_s))


def convolve_calcium(spikes: np.ndarray, tau_rise_s: float, tau_decay_s: float, rate_hz: float) -> np.ndarray:
    """Spike train convolved with the peak-normalized kernel (exact, O(n))."""
    a_d, a_r = math.exp(-1 / (tau_decay_s * rate_hz)), math.exp(-1 / (tau_rise_s * rate_hz))
    tp = kernel_peak_time_s(tau_rise_s, tau_decay_s)
    peak = math.exp(-tp / tau_decay_s) - math.exp(-tp / tau_rise_s)
    decay = sig.lfilter([1.0], [1.0, -a_d], spikes)
    rise = sig.lfilter([1.0], [1.0, -a_r], spikes)
    return (decay - rise) / peak


def lognormal_gain(cv: float, rng: np.random.Generator) -> float:
    """One draw of a lognormal with mean exactly 1 and coefficient of variation ``cv``."""
    if cv == 0:
        return 1.0
    sigma = math.sqrt(math.log1p(cv**2))
    return float(rng.lognormal(-(sigma**2) / 2, sigma))


def simulate_cell(
    spec: CellActivity, fps: float, n_frames: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float]:
    """One cell's trace ``C`` (frames), spike counts ``S`` and brightness gain."""
    bins = max(round(spec.spike_sim_hz / fps), 1)
    hr_hz = bins * fps
    pad = math.ceil(6 * spec.tau_decay_s * fps)
    total = n_frames + pad
    gain = lognormal_gain(spec.brightness_cv, rng)
    active = markov_gate(total, spec.p_quiescent_to_active, spec.p_active_to_quiescent, rng)
    rate = np.where(active, spec.active_rate_hz, spec.quiescent_rate_hz)
    p_bin = np.minimum(np.repeat(rate, bins) / hr_hz, 1.0)
    fine = (rng.random(total * bins) < p_bin).astype(np.float64)
    calcium = convolve_calcium(fine, spec.tau_rise_s, spec.tau_decay_s, hr_hz)
    per_frame = calcium.reshape(total, bins).mean(axis=1)[pad:]
    spikes = fine.reshape(total, bins).sum(axis=1)[pad:]
    trace = gain * (spec.f0 + per_frame)
    if spec.trace_noise > 0:
        trace = trace + rng.normal(0, spec.trace_noise, n_frames)
    return trace, spikes, gain


def markov_gate(n_frames: int, p_qa: float, p_aq: float, rng: np.random.Generator) -> np.ndarray:
    """Two-state Markov chain (True = active) stepped once per frame.

    Sampled as alternating geometric run lengths, which is the same process
    as drawing a transition per frame but vectorized. The first state is
    drawn from the stationary distribution ``p_qa / (p_qa + p_aq)``.
    """
    state = bool(rng.random() < p_qa / (p_qa + p_aq))
    pieces, filled = [], 0
    n_cycles = int(n_frames / (1 / p_qa + 1 / p_aq)) + 8
    while filled < n_frames:
        quiet, act = rng.geometric(p_qa, n_cycles), rng.geometric(p_aq, n_cycles)
        lengths = np.empty(2 * n_cycles, dtype=np.int64)
        lengths[0::2], lengths[1::2] = (act, quiet) if state else (quiet, act)
        values = np.empty(2 * n_cycles, dtype=bool)
        values[0::2], values[1::2] = state, not state
        pieces.append(np.repeat(values, lengths))
        filled += int(lengths.sum())
    return np.concatenate(pieces)[:n_frames]
