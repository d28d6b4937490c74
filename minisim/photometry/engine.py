"""Build a photometry session: the eager task and slow processes, then frames lazily in time chunks.

:func:`simulate_session` computes the trials (small) and a :class:`Plan` of
everything that is small and whole-session (event lists, coarse grids of the
slow random processes, the fault rows); frame rows are computed by
:func:`frame_block` for any row range, and :class:`PhotometrySession` exposes
them as lazy dask chunks. Nothing frame-sized is computed at build time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dask
import numpy as np
import pandas as pd

from minisim.photometry import signals as sig
from minisim.photometry.rng import block_draws, keyed
from minisim.photometry.spec import STEP_IDS, PhotometrySpec
from minisim.photometry.task import simulate_trials, states_timestamps

EVENTS = ("stim_on", "movement", "feedback")
_ACQ = STEP_IDS["acquisition"]
_S_JITTER, _S_NOISE, _S_READ, _S_COMPUTER = 0, 1, 2, 3


@dataclass(frozen=True)
class Plan:
    """Small whole-session inputs of the frame computation (no frame-sized array)."""

    spec: PhotometrySpec
    session: int
    n_rows: int
    fp_start_s: float
    grid_t0_s: float
    events: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]]
    motion_grid: dict[int, np.ndarray]
    coupling: dict[int, tuple[np.ndarray, np.ndarray]]
    move_times_s: np.ndarray
    hemo: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def drift(self) -> float:
        return self.spec.acquisition.clock_drift_ppm * 1e-6

    def fp_to_bpod(self, s: np.ndarray) -> np.ndarray:
        a = self.spec.acquisition
        return (s - a.clock_offset_s) / (1.0 + self.drift)

    def bpod_to_fp(self, t: np.ndarray) -> np.ndarray:
        a = self.spec.acquisition
        return a.clock_offset_s + np.asarray(t) * (1.0 + self.drift)


def _rows_before(sorted_rows: tuple[int, ...], r: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(sorted(sorted_rows), dtype=np.int64), r, side="right")


def bpod_sync_times(trials: pd.DataFrame, protocol: str) -> np.ndarray:
    """The Bpod TTL times the extractor syncs on, as it reads them back from the jsonable."""
    names = ("iti", "reward") if "habituation" in protocol else ("trial_start", "reward", "exit_state")
    out = []
    for name in names:
        for _, row in trials.iterrows():
            st = states_timestamps(row)
            if name in st:
                out.append(st[name][0][0] + row.intervals_0)
    ts = np.sort(np.asarray(out))
    return ts[~np.isnan(ts)]


def build_plan(spec: PhotometrySpec, trials: pd.DataFrame, truth: pd.DataFrame, session: int) -> Plan:
    """Everything small and whole-session: event amplitudes, slow-process grids, timing."""
    a, seed = spec.acquisition, spec.seed
    fr = a.frame_rate_hz
    t_first = float(trials.intervals_0.iloc[0])
    start = t_first + spec.faults.late_start_s if spec.faults.late_start_s else t_first - a.pre_s
    end = float(trials.intervals_1.iloc[-1]) + a.post_s
    n_real = int(np.ceil((end - start) * fr / 2.0)) * 2
    n_rows = 1 + n_real
    fp_start = float(a.clock_offset_s + start * (1.0 + a.clock_drift_ppm * 1e-6))
    grid_t0 = start - 5.0
    n_grid = int(np.ceil((end - grid_t0 + 10.0) / sig.GRID_DT_S)) + 2

    events: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}
    resp = spec.step("responses")
    signal_of = {
        "stim_on": truth.predicted_value.to_numpy(),
        "movement": np.ones(len(trials)),
        "feedback": truth.rpe.to_numpy(),
    }
    times_of = {
        "stim_on": trials.stimOn_times.to_numpy(),
        "movement": trials.firstMovement_times.to_numpy(),
        "feedback": trials.feedback_times.to_numpy(),
    }
    for f, fiber in enumerate(spec.fibers):
        for ev in EVENTS:
            er = getattr(resp, ev) if resp is not None else None
            if er is None or not er.enabled:
                events[(f, ev)] = (np.zeros(0), np.zeros(0))
                continue
            t = times_of[ev]
            amp = fiber.response_scale * (er.base_dff + er.rpe_gain_dff * signal_of[ev])
            ok = np.isfinite(t)
            order = np.argsort(t[ok], kind="stable")
            events[(f, ev)] = (t[ok][order], amp[ok][order])
        spont = spec.step("spontaneous")
        if spont is not None and spont.rate_hz > 0:
            rng = keyed(seed, STEP_IDS["spontaneous"], session, 0, f)
            n = int(rng.poisson(spont.rate_hz * (end - start)))
            t = np.sort(rng.uniform(start, end, n))
            events[(f, "spontaneous")] = (t, rng.exponential(spont.amplitude_dff, n) * fiber.response_scale)
        else:
            events[(f, "spontaneous")] = (np.zeros(0), np.zeros(0))

    motion_grid, coupling = {}, {}
    mot = spec.step("motion")
    for f in range(len(spec.fibers)):
        if mot is None:
            continue
        rng = keyed(seed, STEP_IDS["motion"], session, 0, f)
        motion_grid[f] = sig.ou_grid(rng.standard_normal(n_grid), mot.wander_tau_s, mot.wander_sd)
        rng = keyed(seed, STEP_IDS["motion"], session, 1, f)
        n = int(rng.poisson(mot.coupling_steps_per_hour * (end - start) / 3600.0))
        st = np.sort(rng.uniform(start, end, n))
        coupling[f] = (st, np.cumsum(rng.normal(0.0, mot.coupling_step_sd, n)))

    hemo: dict[str, np.ndarray] = {}
    hd = spec.step("hemodynamics")
    if hd is not None:
        rng = keyed(seed, STEP_IDS["hemodynamics"], session, 0)
        z = rng.standard_normal((4, n_grid))
        hr = hd.heart_rate_hz + sig.ou_grid(z[0], 20.0, hd.heart_rate_sd_hz)
        resp_hz = hd.respiration_hz * (1.0 + sig.ou_grid(z[1], 20.0, 0.1))
        vaso_hz = hd.vasomotion_hz * (1.0 + sig.ou_grid(z[2], 30.0, 0.2))
        hemo["heart_phase"] = 2 * np.pi * np.cumsum(hr) * sig.GRID_DT_S
        hemo["resp_phase"] = 2 * np.pi * np.cumsum(resp_hz) * sig.GRID_DT_S
        hemo["vaso_phase"] = 2 * np.pi * np.cumsum(vaso_hz) * sig.GRID_DT_S
        hemo["vaso_amp"] = 1.0 + sig.ou_grid(z[3], 60.0, 0.3)
    mt = trials.firstMovement_times.to_numpy()
    return Plan(
        spec, session, n_rows, fp_start, grid_t0, events, motion_grid, coupling, np.sort(mt[np.isfinite(mt)]), hemo
    )


def _hemo_absorbance(plan: Plan, t: np.ndarray) -> np.ndarray:
    hd = plan.spec.step("hemodynamics")
    if hd is None:
        return np.zeros(t.shape)
    h = plan.hemo
    g0 = plan.grid_t0_s
    heart = sig.heartbeat_wave(sig.on_grid(t, g0, h["heart_phase"]))
    resp = np.sin(sig.on_grid(t, g0, h["resp_phase"]))
    vaso = sig.on_grid(t, g0, h["vaso_amp"]) * np.sin(sig.on_grid(t, g0, h["vaso_phase"]))
    return hd.heartbeat_absorbance * heart + hd.respiration_absorbance * resp + hd.vasomotion_absorbance * vaso


def frame_block(plan: Plan, r0: int, r1: int) -> dict[str, np.ndarray]:
    """Every column of rows [r0, r1): raw FP3002 fields, Bpod times, ROI means and the truth.

    Notes
    -----
    ``F_b = D + S_b·B_b(t)·(1 + s_b·x(t))·M_b(t)·H_b(t)`` per band b (470 or
    415 nm), with x the sensor's ΔF/F, B bleaching, M the motion gain and H the
    hemodynamic transmission ``exp(-μ_b·h(t))`` averaged over the exposure.
    The ROI mean sums ``roi_pixels`` pixels: shot noise on ~10⁶ photoelectrons
    is Gaussian to a skewness of 10⁻³, so it is drawn as ``N + sqrt(N)·z``;
    read noise adds ``σ_read·sqrt(pixels)`` electrons.
    """
    spec, a, fl = plan.spec, plan.spec.acquisition, plan.spec.faults
    seed, ses = spec.seed, plan.session
    r = np.arange(r0, r1, dtype=np.int64)
    n_drop = _rows_before(fl.dropped_rows, r)
    n_rep = _rows_before(fl.repeated_rows, r)
    cam = r + n_drop
    parity = (r + n_drop + n_rep) % 2
    led = np.where(r == 0, 0, np.where(parity == 1, 2, 1)).astype(np.int64)
    early = np.isin(r, fl.early_rows)
    jitter = block_draws(seed, _ACQ, ses, _S_JITTER, 0, r0, r1) * a.jitter_us * 1e-6
    fp_t = plan.fp_start_s + cam / a.frame_rate_hz + jitter - early * fl.early_ms * 1e-3
    t = plan.fp_to_bpod(fp_t)
    t_led = t - (plan.fp_to_bpod(np.asarray(plan.fp_start_s)))
    out: dict[str, np.ndarray] = {
        "FrameCounter": r.copy(),
        "SystemTimestamp": fp_t,
        "LedState": led,
        "ComputerTimestamp": t + 5000.0 + 0.002 + np.abs(block_draws(seed, _ACQ, ses, _S_COMPUTER, 0, r0, r1)) * 1e-4,
        "times": t,
        "fault_dropped": np.isin(r, fl.dropped_rows),
        "fault_repeated": np.isin(r, fl.repeated_rows),
        "fault_early": early,
    }
    is470, lit = led == 2, led != 0
    mism = spec.step("isosbestic_mismatch")
    ble, mot = spec.step("bleaching"), spec.step("motion")
    exposure = a.exposure_fraction / a.frame_rate_hz
    sub = (np.arange(5) - 2) / 5.0 * exposure
    h = np.mean([_hemo_absorbance(plan, t + d) for d in sub], axis=0)
    hd = spec.step("hemodynamics")
    art_gain = mism.artifact_gain if mism is not None else 1.0
    mu415 = (hd.ratio_415_to_470 if hd is not None else 1.0) * art_gain
    hemo = np.where(is470, np.exp(-h), np.exp(-mu415 * h))
    for f, fiber in enumerate(spec.fibers):
        kin = fiber.kinetics
        resp = spec.step("responses")
        parts = {}
        for ev in (*EVENTS, "spontaneous"):
            et, amp = plan.events[(f, ev)]
            er = getattr(resp, ev) if ev in EVENTS and resp is not None else None
            width = er.width_s if er is not None else 0.05
            delay = er.delay_s if er is not None else 0.0
            parts[ev] = sig.event_sum(t, et, amp, kin.tau_rise_s, kin.tau_decay_s, width, delay)
        drive = parts["stim_on"] + parts["movement"] + parts["feedback"] + parts["spontaneous"]
        x = sig.saturate(drive, kin.dff_max)
        s415 = 0.0
        if mism is not None:
            s415 = kin.iso_coefficient if mism.activity_coefficient is None else mism.activity_coefficient
        if ble is not None:
            bl = np.where(is470, sig.bleaching(t_led, ble.band_470), sig.bleaching(t_led, ble.band_415))
        else:
            bl = np.ones(t.shape)
        if mot is not None:
            logm = sig.on_grid(t, plan.grid_t0_s, plan.motion_grid[f]) + sig.step_gain(t, *plan.coupling[f])
            logm = logm - mot.movement_dip * sig.event_sum(
                t, plan.move_times_s, np.ones(plan.move_times_s.size), 0.05, 0.3, 0.2, 0.0
            )
            motion = np.where(is470, np.exp(logm), np.exp(mot.band_415_exponent * art_gain * logm))
        else:
            motion = np.ones(t.shape)
        f0 = np.where(is470, a.f0_470_au, a.f0_415_au) * fiber.brightness
        act = np.where(is470, 1.0 + x, 1.0 + s415 * x)
        clean = np.where(lit, f0 * bl * act * motion * hemo, 0.0)
        electrons = clean / a.au_per_electron * a.roi_pixels
        shot = np.sqrt(electrons) * block_draws(seed, _ACQ, ses, _S_NOISE, f, r0, r1)
        read = a.read_noise_e * np.sqrt(a.roi_pixels) * block_draws(seed, _ACQ, ses, _S_READ, f, r0, r1)
        value = a.dark_offset_au + (electrons + shot + read) * a.au_per_electron / a.roi_pixels
        if fl.quantize_bits:
            lsb = fl.full_scale_au / 2**fl.quantize_bits
            value = np.round(value / lsb) * lsb
        name = spec.roi_names[f]
        out[name] = value
        out[f"dff_{name}"] = x
        for ev, v in parts.items():
            out[f"{ev}_{name}"] = v
        out[f"bleaching_{name}"] = bl
        out[f"motion_{name}"] = motion
        out[f"hemodynamics_{name}"] = hemo
        out[f"expected_{name}"] = a.dark_offset_au + clean
    return out


@dataclass(frozen=True)
class PhotometrySession:
    """One simulated session: eager trials and truth, lazy frame rows.

    Attributes
    ----------
    plan : Plan
        The small whole-session inputs; ``plan.n_rows`` frame rows (row 0 the junk frame).
    trials, trials_truth : DataFrame
        The IBL trials table (Bpod clock) and its per-trial truth.
    """

    plan: Plan
    trials: pd.DataFrame
    trials_truth: pd.DataFrame

    @property
    def spec(self) -> PhotometrySpec:
        return self.plan.spec

    @property
    def n_rows(self) -> int:
        return self.plan.n_rows

    def chunks(self, chunk_rows: int = 16384) -> list[Any]:
        """Lazy ``dask.delayed`` dicts of columns, one per chunk of ``chunk_rows`` frame rows."""
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows={chunk_rows} must be >= 1")
        plan = dask.delayed(self.plan, pure=True, traverse=False)
        fn = dask.delayed(frame_block, pure=True)
        return [fn(plan, r0, min(r0 + chunk_rows, self.n_rows)) for r0 in range(0, self.n_rows, chunk_rows)]

    def column(self, name: str, chunk_rows: int = 16384):
        """One column as a lazy dask array chunked like :meth:`chunks`."""
        import dask.array as da

        probe = frame_block(self.plan, 0, 1)[name]
        parts = [
            da.from_delayed(
                dask.delayed(lambda d, n=name: d[n])(c), shape=(min(chunk_rows, self.n_rows - r0),), dtype=probe.dtype
            )
            for c, r0 in zip(self.chunks(chunk_rows), range(0, self.n_rows, chunk_rows), strict=True)
        ]
        return da.concatenate(parts)

    def frames(self, chunk_rows: int = 16384) -> pd.DataFrame:
        """Every row computed into one DataFrame (fine for short sessions; writers stream instead)."""
        blocks = dask.compute(*self.chunks(chunk_rows))
        return pd.DataFrame({k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]})

    def sync_times_bpod(self) -> np.ndarray:
        """Bpod TTL times recorded on the FP3002's digital input (those inside the recording)."""
        ts = bpod_sync_times(self.trials, self.spec.task.protocol)
        t_start = float(self.plan.fp_to_bpod(np.asarray(self.plan.fp_start_s)))
        return ts[ts >= t_start]

    @property
    def reported_drift_ppm(self) -> float:
        """The drift a linear FP3002 → Bpod fit reports: slope of (t_bpod - t_fp) against t_fp, in ppm."""
        d = self.plan.drift
        return -d / (1.0 + d) * 1e6


def simulate_session(spec: PhotometrySpec, session: int = 0) -> PhotometrySession:
    """Simulate session number ``session`` of ``spec`` (its trials now, its frames lazily)."""
    if session < 0:
        raise ValueError(f"session={session} must be >= 0")
    trials, truth = simulate_trials(spec.task, spec.seed, session)
    plan = build_plan(spec, trials, truth, session)
    for name in ("dropped_rows", "repeated_rows", "early_rows"):
        bad = [r for r in getattr(spec.faults, name) if r >= plan.n_rows]
        if bad:
            raise ValueError(f"faults.{name} {bad} are beyond the session's {plan.n_rows} rows; fix: use smaller rows")
    return PhotometrySession(plan, trials, truth)
