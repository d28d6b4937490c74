"""Spiking and calcium dynamics of each cell.

Model (after the CaLab simulator): a two-state Markov gate (quiescent /
active) stepped at the frame rate sets each cell's firing rate; spikes are
Bernoulli draws on a fine time grid (one per bin at most, a refractory
period); calcium is the spike train convolved with a peak-normalized
double-exponential kernel, averaged over each frame's exposure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import scipy.signal as sig
from pydantic import model_validator

from minisim._base import bounded, field_error
from minisim.rng import generator
from minisim.steps.base import StepSpec
from minisim.traces import KEEP_EAGER_BYTES, SEGMENT_FRAMES, SummaryAccumulator, lazy_segments, run_segments


class CellActivity(StepSpec):
    """Spikes and calcium traces ``C`` (unitless, baseline ``f0``) per cell.

    Notes
    -----
    The calcium kernel is ``k(t) = exp(-t/tau_decay) - exp(-t/tau_rise)``
    scaled to peak 1, which peaks at ``t* = tr*td/(td-tr) * ln(td/tr)``.
    Spikes are drawn per frame (a binomial count over the frame's fine bins,
    placed in a uniformly random set of distinct bins: the same process as a
    Bernoulli draw per bin) and the convolution with the kernel, averaged
    over each frame, is computed exactly from them by :func:`frame_calcium`.
    The model runs in segments of :data:`minisim.traces.SEGMENT_FRAMES`
    frames that carry the gate and filter states, with draws keyed on
    (cell, segment). A burn-in of ``ceil(6 tau_decay fps)`` frames is
    simulated and dropped so traces open at steady state.
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
        n_cells, n_frames = len(ctx.get("centers_um")), ctx.acq.n_frames
        gain = np.array([lognormal_gain(self.brightness_cv, ctx.rng(index=i)) for i in range(n_cells)])
        model = ActivityModel(self, ctx.acq.fps, ctx.seed, type(self).step_id(), gain)
        traces, spikes = SummaryAccumulator(n_cells, n_frames), SummaryAccumulator(n_cells, n_frames)
        starts, eager, kept = [], {}, 0
        for k, (first, _, values, state) in enumerate(run_segments(activity_segment, model, model.burn_in(), n_frames)):
            starts.append(state)
            traces.add(first, values[0])
            spikes.add(first, values[1])
            if kept + values[0].nbytes <= KEEP_EAGER_BYTES:
                eager[k] = values[0].copy()  # a later cell step reading C (bleaching) gets it without a second run
                kept += values[0].nbytes
        lazy = lazy_segments(activity_segment, model, starts, n_frames, (2, n_cells))
        return {"C": traces.finish(lazy[0], eager), "S": spikes.finish(lazy[1]), "amplitude_per_cell": gain}


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


#: Random streams of a cell: 0 its brightness gain, then its segments and its burn-in.
SEGMENT_STREAM, BURN_IN_STREAM = 1, 2


@dataclass(frozen=True)
class ActivityState:
    """Where every cell is at a segment boundary: all the model carries across."""

    active: np.ndarray  # (cells,) bool, gate state of the last frame
    decay: np.ndarray  # (cells,) float64, decay filter after the last fine bin
    rise: np.ndarray  # (cells,) float64, rise filter after the last fine bin


@dataclass(frozen=True, eq=False)
class ActivityModel:
    """The activity model of a recording: spec, frame rate, keys and per-cell gains."""

    spec: CellActivity
    fps: float
    seed: int
    step_id: int
    gain: np.ndarray

    @property
    def bins(self) -> int:
        """Fine spike bins per frame."""
        return max(round(self.spec.spike_sim_hz / self.fps), 1)

    def burn_in(self) -> ActivityState:
        """State at frame 0: ``ceil(6 tau_decay fps)`` frames from a stationary gate and no calcium."""
        p_qa, p_aq = self.spec.p_quiescent_to_active, self.spec.p_active_to_quiescent
        rngs = [generator(self.seed, self.step_id, BURN_IN_STREAM, i) for i in range(len(self.gain))]
        active = np.array([r.random() < p_qa / (p_qa + p_aq) for r in rngs], dtype=bool)
        state = ActivityState(active, np.zeros(len(self.gain)), np.zeros(len(self.gain)))
        pad = math.ceil(6 * self.spec.tau_decay_s * self.fps)
        return self.run(pad, state, rngs)[1] if pad else state

    def run(
        self, n_frames: int, state: ActivityState, rngs: list[np.random.Generator]
    ) -> tuple[np.ndarray, ActivityState]:
        """``(2, cells, n_frames)`` float32 traces ``C`` and spike counts ``S``, and the end state."""
        spec, B = self.spec, self.bins
        n_cells = len(self.gain)
        out = np.empty((2, n_cells, n_frames), np.float32)
        active = state.active.copy()
        noise = np.zeros((n_cells, n_frames)) if spec.trace_noise > 0 else None
        cells, frames_of, bins_of = [], [], []
        for i, rng in enumerate(rngs):
            gate = markov_gate(n_frames, spec.p_quiescent_to_active, spec.p_active_to_quiescent, rng, bool(active[i]))
            p_bin = np.minimum(np.where(gate, spec.active_rate_hz, spec.quiescent_rate_hz) / (B * self.fps), 1.0)
            counts = rng.binomial(B, p_bin)
            frames = np.flatnonzero(counts)
            if frames.size:
                # Given its count, a frame's spikes sit in a uniformly random set of distinct bins.
                order = np.argsort(rng.random((frames.size, B)), axis=1)
                bins_of.append(order[np.arange(B) < counts[frames, None]])
                frames_of.append(np.repeat(frames, counts[frames]))
                cells.append(np.full(frames_of[-1].size, i))
            out[1, i] = counts
            if noise is not None:
                noise[i] = rng.normal(0, spec.trace_noise, n_frames)
            if n_frames:
                active[i] = gate[-1]
        cell, frame, fine_bin = (np.concatenate(x) if x else np.zeros(0, np.int64) for x in (cells, frames_of, bins_of))
        calcium, decay, rise = frame_calcium(
            cell, frame, fine_bin, (n_cells, n_frames), B, B * self.fps, spec.tau_rise_s, spec.tau_decay_s,
            state.decay, state.rise,
        )  # fmt: skip
        calcium += spec.f0
        calcium *= self.gain[:, None]
        if noise is not None:
            calcium += noise
        out[0] = calcium
        return out, ActivityState(active, decay, rise)


def frame_calcium(
    cell: np.ndarray,
    frame: np.ndarray,
    fine_bin: np.ndarray,
    shape: tuple[int, int],
    bins: int,
    rate_hz: float,
    tau_rise_s: float,
    tau_decay_s: float,
    decay0: np.ndarray,
    rise0: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame-averaged calcium of spikes on a fine grid, computed per frame (exact).

    Parameters
    ----------
    cell, frame, fine_bin : (spikes,) int arrays
        Where each spike is: its cell, frame and bin within the frame.
    shape : (cells, frames)
    bins, rate_hz : fine bins per frame and their rate.
    tau_rise_s, tau_decay_s : kernel time constants.
    decay0, rise0 : (cells,) filter states after the last bin before frame 0.

    Returns
    -------
    calcium : (cells, frames)
        The mean over each frame's bins of :func:`convolve_calcium` of the
        fine spike train (continuing from the given states).
    decay, rise : (cells,)
        Filter states after the last bin.

    Notes
    -----
    Each filter ``x_n = a x_(n-1) + u_n`` is linear, so over a frame of ``B``
    bins its sum is ``c x_before + sum_i u_i (1 - a**(B-i))/(1 - a)`` and
    its end state ``a**B x_before + sum_i u_i a**(B-1-i)``, with
    ``c = a (1 - a**B)/(1 - a)``: one recursion per frame instead of per bin,
    over spikes instead of bins (spikes are sparse).
    """
    n_cells, n_frames = shape
    flat = cell * n_frames + frame
    tp = kernel_peak_time_s(tau_rise_s, tau_decay_s)
    calcium = np.zeros(shape)
    states = []
    for sign, tau, x0 in ((1.0, tau_decay_s, decay0), (-1.0, tau_rise_s, rise0)):
        a_frame, end_w, sum_w, carry_w = _bin_weights(tau, rate_hz, bins)
        added = np.bincount(flat, weights=end_w[fine_bin], minlength=n_cells * n_frames).reshape(shape)
        summed = np.bincount(flat, weights=sum_w[fine_bin], minlength=n_cells * n_frames).reshape(shape)
        end, _ = sig.lfilter([1.0], [1.0, -a_frame], added, axis=1, zi=a_frame * np.asarray(x0, float)[:, None])
        before = np.concatenate([np.asarray(x0, float)[:, None], end[:, :-1]], axis=1)
        calcium += sign * (carry_w * before + summed) / bins
        # A copy: a view would keep the whole (cells, frames) filter output alive with the state.
        states.append(end[:, -1].copy() if n_frames else np.asarray(x0, float))
    calcium /= math.exp(-tp / tau_decay_s) - math.exp(-tp / tau_rise_s)
    return calcium, states[0], states[1]


def _bin_weights(tau_s: float, rate_hz: float, bins: int) -> tuple[float, np.ndarray, np.ndarray, float]:
    """Frame-level form of the fine-grid filter ``x_n = a x_(n-1) + u_n``, ``a = exp(-1/(tau rate))``.

    Returns ``a**bins`` (decay over a frame), each bin's weight in the state
    after the frame's last bin (``a**(bins-1-i)``), each bin's weight in the
    frame's summed filter output (``(1 - a**(bins-i)) / (1 - a)``) and the
    carried state's weight in that sum (``a (1 - a**bins) / (1 - a)``).
    """
    a = math.exp(-1.0 / (tau_s * rate_hz))
    i = np.arange(bins)
    return a**bins, a ** (bins - 1 - i), (1 - a ** (bins - i)) / (1 - a), a * (1 - a**bins) / (1 - a)


def activity_segment(
    model: ActivityModel, k: int, n_frames: int, state: ActivityState
) -> tuple[np.ndarray, ActivityState]:
    """Segment ``k`` of every cell (a :data:`minisim.traces.SegmentFn`); draws keyed on (cell, segment).

    A recording's last segment is drawn whole and cut, so every segment is
    the same whatever the recording's length: a longer recording extends a
    shorter one with the same seed.
    """
    rngs = [generator(model.seed, model.step_id, SEGMENT_STREAM, i, block=k) for i in range(len(model.gain))]
    values, end = model.run(SEGMENT_FRAMES, state, rngs)
    return values[:, :, :n_frames], end


def simulate_cells(
    spec: CellActivity, fps: float, n_frames: int, n_cells: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Traces ``C``, spike counts ``S`` (both ``(cells, frames)``) and gains of ``n_cells`` cells, eagerly.

    The same model, keys and values as a recording with this seed and these
    cells, without the rest of a Spec (for tests and teaching).
    """
    step_id = CellActivity.step_id()
    gain = np.array([lognormal_gain(spec.brightness_cv, generator(seed, step_id, 0, i)) for i in range(n_cells)])
    model = ActivityModel(spec, fps, seed, step_id, gain)
    blocks = [values for _, _, values, _ in run_segments(activity_segment, model, model.burn_in(), n_frames)]
    both = np.concatenate(blocks, axis=2) if blocks else np.zeros((2, n_cells, 0), np.float32)
    return both[0], both[1], gain


def markov_gate(
    n_frames: int, p_qa: float, p_aq: float, rng: np.random.Generator, previous: bool | None = None
) -> np.ndarray:
    """Two-state Markov chain (True = active) stepped once per frame.

    Sampled as alternating geometric run lengths, which is the same process
    as drawing a transition per frame but vectorized. ``previous`` is the
    state of the frame before the first; by memorylessness its run goes on
    for ``Geometric(p_leave) - 1`` more frames. Without it, that state is
    drawn from the stationary distribution ``p_qa / (p_qa + p_aq)``.
    """
    state = bool(rng.random() < p_qa / (p_qa + p_aq)) if previous is None else bool(previous)
    first = int(rng.geometric(p_aq if state else p_qa)) - 1
    pieces, filled = [np.full(min(first, n_frames), state)], first
    state = not state
    n_cycles = int(max(n_frames - filled, 0) / (1 / p_qa + 1 / p_aq)) + 8
    while filled < n_frames:
        quiet, act = rng.geometric(p_qa, n_cycles), rng.geometric(p_aq, n_cycles)
        lengths = np.empty(2 * n_cycles, dtype=np.int64)
        lengths[0::2], lengths[1::2] = (act, quiet) if state else (quiet, act)
        values = np.empty(2 * n_cycles, dtype=bool)
        values[0::2], values[1::2] = state, not state
        pieces.append(np.repeat(values, lengths))
        filled += int(lengths.sum())
    return np.concatenate(pieces)[:n_frames]
