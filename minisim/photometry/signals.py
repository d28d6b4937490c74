"""Physics of the photometry signal as small functions of time (seconds, Bpod clock).

Everything here is a pure function of the time points asked for and of small
eager inputs (event lists, coarse grids), so any frame range can be computed
on its own and gives the same numbers.
"""

from __future__ import annotations

import numpy as np

from minisim.photometry.spec import BandBleaching

#: Grid step (s) of the slow random processes (motion wander, heart-rate and vasomotion variability).
GRID_DT_S = 0.05


def pulse_response(t_s: np.ndarray, tau_rise_s: float, tau_decay_s: float, width_s: float) -> np.ndarray:
    """Sensor response to a unit neural pulse of ``width_s`` starting at t = 0 (unnormalised).

    Notes
    -----
    The sensor's impulse response is ``exp(-t/τd) - exp(-t/τr)``. Convolved
    with a boxcar on [0, w] each exponential term integrates in closed form:
    ``∫_0^{min(t,w)} e^{-(t-s)/τ} ds = τ (e^{-(t-m)/τ} - e^{-t/τ})`` with
    ``m = clip(t, 0, w)``; the response is zero before the pulse.
    """
    t = np.asarray(t_s, dtype=float)
    m = np.clip(t, 0.0, width_s)
    tp = np.maximum(t, 0.0)

    def term(tau: float) -> np.ndarray:
        return tau * (np.exp(-(tp - m) / tau) - np.exp(-tp / tau))

    out = term(tau_decay_s) - term(tau_rise_s)
    return np.where(t > 0, out, 0.0)


def pulse_peak(tau_rise_s: float, tau_decay_s: float, width_s: float) -> float:
    """Peak of :func:`pulse_response`, so that amplitudes are peak ΔF/F."""
    span = width_s + 8 * max(tau_rise_s, 1e-3) + 2 * tau_decay_s
    grid = np.linspace(0.0, span, 20001)
    return float(pulse_response(grid, tau_rise_s, tau_decay_s, width_s).max())


def support_s(tau_decay_s: float, width_s: float, delay_s: float) -> float:
    """Time after an event beyond which its response is below 1e-7 of its peak and taken as exactly 0."""
    return delay_s + width_s + 17.0 * tau_decay_s


def event_sum(
    t_s: np.ndarray,
    event_times_s: np.ndarray,
    amplitudes: np.ndarray,
    tau_rise_s: float,
    tau_decay_s: float,
    width_s: float,
    delay_s: float,
) -> np.ndarray:
    """Sum of peak-normalised pulse responses, one per event, at times ``t_s``.

    Events are added one by one in their global order and each contributes
    exactly zero outside its support, so the sum at a time point does not
    depend on which other time points are computed with it.
    """
    out = np.zeros(t_s.shape)
    if event_times_s.size == 0 or t_s.size == 0:
        return out
    peak = pulse_peak(tau_rise_s, tau_decay_s, width_s)
    sup = support_s(tau_decay_s, width_s, delay_s)
    lo = np.searchsorted(event_times_s, t_s.min() - sup, side="left")
    hi = np.searchsorted(event_times_s, t_s.max(), side="right")
    for e in range(lo, hi):
        dt = t_s - event_times_s[e] - delay_s
        inside = (dt > 0) & (dt < sup - delay_s)
        if inside.any():
            out += np.where(inside, pulse_response(dt, tau_rise_s, tau_decay_s, width_s), 0.0) * (amplitudes[e] / peak)
    return out


def saturate(drive_dff: np.ndarray, dff_max: float) -> np.ndarray:
    """Sensor saturation: ``x / (1 + |x|/ΔF/F_max)``, linear for small drive, bounded by ±ΔF/F_max."""
    return drive_dff / (1.0 + np.abs(drive_dff) / dff_max)


def bleaching(t_s: np.ndarray, b: BandBleaching) -> np.ndarray:
    """Bi-exponential plus linear photobleaching, 1 at t = 0 (time since the LEDs came on).

    Notes
    -----
    ``B(t) = 1 - a_f (1 - e^{-t/τ_f}) - a_s (1 - e^{-t/τ_s}) - l t / 3600``:
    a fast and a slow bleaching population (pyPhotometry's double-exponential
    model) and a slow linear drift; each excitation band has its own constants.
    """
    t = np.maximum(np.asarray(t_s, dtype=float), 0.0)
    return (
        1.0
        - b.fast_fraction * (1.0 - np.exp(-t / b.tau_fast_s))
        - b.slow_fraction * (1.0 - np.exp(-t / b.tau_slow_s))
        - b.linear_per_hour * t / 3600.0
    )


def ou_grid(z: np.ndarray, tau_s: float, sd: float, dt_s: float = GRID_DT_S) -> np.ndarray:
    """An Ornstein-Uhlenbeck path of stationary ``sd`` and time constant ``tau_s`` from unit normals ``z``.

    Exact AR(1) discretisation: ``x[k+1] = a x[k] + sd·sqrt(1-a²)·z[k+1]``, a = e^{-dt/τ}.
    """
    from scipy.signal import lfilter

    a = float(np.exp(-dt_s / tau_s))
    drive = sd * np.sqrt(1.0 - a * a) * z
    drive[0] = sd * z[0]
    return lfilter([1.0], [1.0, -a], drive)


def on_grid(t_s: np.ndarray, grid_t0_s: float, values: np.ndarray, dt_s: float = GRID_DT_S) -> np.ndarray:
    """Linear interpolation of a coarse-grid process at ``t_s`` (held at the ends)."""
    return np.interp((np.asarray(t_s) - grid_t0_s) / dt_s, np.arange(values.size), values)


def heartbeat_wave(phase_rad: np.ndarray) -> np.ndarray:
    """Zero-mean cardiac pulse shape: a fundamental with a second harmonic (sharper systole)."""
    return np.sin(phase_rad) + 0.5 * np.sin(2.0 * phase_rad + 0.5)


def step_gain(t_s: np.ndarray, step_times_s: np.ndarray, cumulative_log_steps: np.ndarray) -> np.ndarray:
    """Log-gain of the fiber coupling at ``t_s``: the sum of all steps that happened at or before it."""
    if step_times_s.size == 0:
        return np.zeros(np.shape(t_s))
    idx = np.searchsorted(step_times_s, t_s, side="right")
    padded = np.concatenate([[0.0], cumulative_log_steps])
    return padded[idx]
