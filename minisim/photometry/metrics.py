"""Score photometry preprocessing against the simulated truth.

* :func:`recovery`: correlation and error (ΔF/F units) of a preprocessed trace against the true ΔF/F;
* :func:`event_amplitude_bias`: bias of per-trial event-response amplitudes;
* :func:`fit_bleaching` / :func:`bleaching_error`: the project's own bi-exponential fit and its error;
* :func:`raw_qc`, :func:`expected_qc`, :func:`qc_confusion`: QC flags against the injected faults.

All functions take plain pandas objects: a preprocessed series indexed by
time, the truth table ``alf/sim/_sim_photometryTruth.table.pqt`` and the
trials table, so they work on any pipeline's output.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def true_dff(truth: pd.DataFrame, roi: str = "G0", led_state: int = 2) -> pd.Series:
    """The true sensor ΔF/F of ``roi`` at the frames of one band (470 nm by default), indexed by time."""
    sel = truth[truth.LedState == led_state]
    return pd.Series(sel[f"dff_{roi}"].to_numpy(), index=sel["times"].to_numpy(), name=f"dff_{roi}")


def _aligned(estimate: pd.Series, truth: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    est = estimate.dropna()
    tru = np.interp(est.index.to_numpy(dtype=float), truth.index.to_numpy(dtype=float), truth.to_numpy())
    return est.to_numpy(dtype=float), tru


def recovery(estimate: pd.Series, truth: pd.Series) -> dict[str, float]:
    """Pearson r, RMSE and mean bias (ΔF/F) of ``estimate`` against the true ΔF/F (interpolated to its times).

    ``rmse_affine_dff`` is the RMSE after the best affine map of the estimate
    onto the truth, which separates shape errors from a gain or offset.
    """
    e, t = _aligned(estimate, truth)
    if e.size < 3:
        raise ValueError(f"need at least 3 overlapping samples, got {e.size}")
    r = float(np.corrcoef(e, t)[0, 1])
    slope, icpt = np.polyfit(e, t, 1)
    return {
        "r": r,
        "rmse_dff": float(np.sqrt(np.mean((e - t) ** 2))),
        "bias_dff": float(np.mean(e - t)),
        "rmse_affine_dff": float(np.sqrt(np.mean((slope * e + icpt - t) ** 2))),
    }


def _window_means(s: pd.Series, events: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = s.index.to_numpy(dtype=float)
    v = s.to_numpy(dtype=float)
    cs = np.concatenate([[0.0], np.cumsum(v)])
    a = np.searchsorted(t, events + lo)
    b = np.searchsorted(t, events + hi)
    n = b - a
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (cs[b] - cs[a]) / n, np.nan)


def event_amplitudes(
    s: pd.Series,
    event_times: np.ndarray,
    window: tuple[float, float] = (0.1, 0.35),
    baseline: tuple[float, float] = (-0.1, 0.0),
) -> np.ndarray:
    """Per-event response magnitude: mean over ``window`` minus mean over ``baseline`` (s from the event), as iblnm."""
    ev = np.asarray(event_times, dtype=float)
    return _window_means(s, ev, *window) - _window_means(s, ev, *baseline)


def event_amplitude_bias(
    estimate: pd.Series, truth: pd.Series, event_times: np.ndarray, **windows: Any
) -> dict[str, float]:
    """Bias of per-trial response amplitudes measured on ``estimate`` against the same measure on the truth.

    Returns the mean and relative bias, the regression slope (1 = unbiased
    gain) and the correlation over trials.
    """
    ev = np.asarray(event_times, dtype=float)
    ev = ev[np.isfinite(ev)]
    e = event_amplitudes(estimate, ev, **windows)
    t = event_amplitudes(truth, ev, **windows)
    ok = np.isfinite(e) & np.isfinite(t)
    e, t = e[ok], t[ok]
    slope = float(np.polyfit(t, e, 1)[0]) if t.size > 2 else float("nan")
    return {
        "bias_dff": float(np.mean(e - t)),
        "relative_bias": float(np.mean(e - t) / np.mean(np.abs(t))) if t.size else float("nan"),
        "slope": slope,
        "r": float(np.corrcoef(e, t)[0, 1]) if t.size > 2 else float("nan"),
        "n": int(t.size),
    }


def _biexp_linear(t: np.ndarray, amp: float, af: float, tf: float, as_: float, ts: float, lin: float) -> np.ndarray:
    return amp * (1.0 - af * (1.0 - np.exp(-t / tf)) - as_ * (1.0 - np.exp(-t / ts)) - lin * t / 3600.0)


def fit_bleaching(times_s: np.ndarray, values: np.ndarray, offset: float = 0.0, bin_s: float = 1.0) -> dict[str, float]:
    """Fit ``A·(1 - a_f(1-e^{-t/τf}) - a_s(1-e^{-t/τs}) - l·t)`` to one band's trace.

    The trace (minus a known dark ``offset``) is reduced to medians over
    ``bin_s`` bins, which removes the fast activity and noise, then fitted by
    least squares (scipy ``curve_fit``) from pyPhotometry-like starting
    values. ``t`` is measured from the first sample.

    Returns
    -------
    dict
        ``amplitude``, ``fast_fraction``, ``tau_fast_s``, ``slow_fraction``, ``tau_slow_s``, ``linear_per_hour``.
    """
    from scipy.optimize import curve_fit

    t = np.asarray(times_s, dtype=float)
    y = np.asarray(values, dtype=float) - offset
    t = t - t[0]
    edges = np.arange(0.0, t[-1] + bin_s, bin_s)
    idx = np.digitize(t, edges) - 1
    tb = np.array([np.median(t[idx == i]) for i in range(edges.size - 1) if np.any(idx == i)])
    yb = np.array([np.median(y[idx == i]) for i in range(edges.size - 1) if np.any(idx == i)])
    span = float(tb[-1])
    p0 = [yb[0], 0.1, min(300.0, span / 6), 0.2, min(3000.0, span), 0.0]
    lower = [0.0, 0.0, 1.0, 0.0, 10.0, -0.5]
    upper = [np.inf, 0.9, 5000.0, 0.9, 1e6, 0.5]
    popt, _ = curve_fit(_biexp_linear, tb, yb, p0=p0, bounds=(lower, upper), maxfev=20000)
    if popt[2] > popt[4]:  # name the faster component "fast"
        popt = popt[[0, 3, 4, 1, 2, 5]]
    keys = ("amplitude", "fast_fraction", "tau_fast_s", "slow_fraction", "tau_slow_s", "linear_per_hour")
    return dict(zip(keys, map(float, popt), strict=True))


def bleaching_error(fit: dict[str, float], true: Any) -> dict[str, float]:
    """Relative error of the fitted time constants against a :class:`~minisim.photometry.spec.BandBleaching`."""
    return {
        "tau_fast": fit["tau_fast_s"] / true.tau_fast_s - 1.0,
        "tau_slow": fit["tau_slow_s"] / true.tau_slow_s - 1.0,
    }


def raw_qc(
    raw: pd.DataFrame, trials: pd.DataFrame | None = None, times: np.ndarray | None = None, dt_tol_s: float = 1e-3
) -> dict[str, Any]:
    """This project's own raw-frame QC, mirroring the IBL rules, on a raw FP3002 table.

    Counts adjacent frames with the same LED (band inversions) and frames more
    than ``dt_tol_s`` early against the median frame spacing (both bands), after
    dropping the junk first frame; with ``trials`` and the frames' Bpod
    ``times``, also whether the recording covers first stimulus to last feedback.
    """
    df = raw.iloc[1:]
    led = df["LedState"].to_numpy()
    out: dict[str, Any] = {"band_inversions": int(np.sum(led[1:] == led[:-1]))}
    dt = np.diff(df["SystemTimestamp"].to_numpy())
    out["early_samples"] = int(np.sum(np.median(dt) - dt > dt_tol_s))
    rois = [c for c in df.columns if c.startswith(("G", "R"))]
    out["unique_fraction"] = min(float(np.unique(df[c]).size / len(df)) for c in rois)
    if trials is not None and times is not None:
        t = np.asarray(times)[1:]
        out["covers_trials"] = bool(t.min() <= trials.stimOn_times.min() and t.max() >= trials.feedback_times.max())
    return out


def expected_qc(params: dict[str, Any]) -> dict[str, Any]:
    """What QC should find in a session, from the truth's ``_sim_session.params.json``."""
    f = params["faults"]
    return {
        "band_inversions": len(f["dropped_rows"]) + len(f["repeated_rows"]),
        "early_samples": len(f["early_rows"]),
        "covers_trials": f["late_start_s"] is None,
        "few_unique": f["quantize_bits"] is not None,
    }


def load_truth(session_path: str | Path) -> dict[str, Any]:
    """The truth tables of a written session: frames, trials, faults and params."""
    import json

    sim = Path(session_path) / "alf" / "sim"
    return {
        "frames": pd.read_parquet(sim / "_sim_photometryTruth.table.pqt"),
        "trials": pd.read_parquet(sim / "_sim_trialsTruth.table.pqt"),
        "faults": pd.read_parquet(sim / "_sim_faults.table.pqt"),
        "params": json.loads((sim / "_sim_session.params.json").read_text()),
    }


def qc_confusion(pairs: Iterable[tuple[bool, bool]]) -> pd.DataFrame:
    """2 x 2 confusion matrix of (injected fault, QC flagged) pairs: rows truth, columns QC."""
    m = np.zeros((2, 2), dtype=int)
    for truth, flagged in pairs:
        m[int(bool(truth)), int(bool(flagged))] += 1
    return pd.DataFrame(
        m, index=pd.Index(["clean", "faulty"], name="truth"), columns=pd.Index(["pass", "flagged"], name="qc")
    )
