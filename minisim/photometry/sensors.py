"""Kinetics of the fluorescent sensors a photometry session can express.

Each entry gives the sensor's rise and decay time constants, its dynamic
range, its isosbestic behaviour under 415 nm excitation and the paper the
numbers come from (the papers are those listed in the project's photometry
reference, ``fiber-photometry.md`` §3.1). The values are rounded from the
papers' summary figures and text; they set realistic defaults, not a
substitute for a lab's own calibration.

Notes
-----
*Kinetics.* The GRAB and dLight papers report single-exponential on and off
time constants (τ_on, τ_off); they are used as ``tau_rise_s`` and
``tau_decay_s`` directly. Chen et al. (2013) report half-times of the
response to one action potential instead. A difference of two exponentials
cannot reproduce both of those half-times (its half-rise is always much
shorter than its half-decay), so for GCaMP6 ``tau_rise_s`` is the published
half-rise and ``tau_decay_s`` is solved so that the kernel's half-decay from
its peak equals the published half-decay (``published_half_decay_s``;
:func:`kernel_half_times` checks it).

*Dynamic range.* ``dff_max`` is ``F_sat/F_0 - 1``: Chen et al. give
F_sat/F_apo of purified protein (GCaMP6f 51.8, GCaMP6s 63.2); the GRAB and
dLight papers give the maximal ΔF/F₀ in cells at a saturating ligand dose.

*Isosbestic behaviour.* GCaMP's apo and Ca²⁺-bound spectra cross near
405-410 nm (``isosbestic_nm``), so the FP3002's 415 nm LED lies slightly on
the 470 nm side of the crossing and sees a small positive change (the
reference suggests at most about ±5 % of the 470 nm response). GRAB and
dLight sensors have no usable isosbestic point near 405-415 nm
(``isosbestic_nm`` is None): the violet-excited response is small and
usually negative.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np

from minisim._base import Base, bounded

SensorName = Literal["GCaMP6f", "GCaMP6s", "dLight1.1", "GRAB-DA2m", "GRAB-5HT1.0", "GRAB-ACh3.0", "GRAB-NE1m"]


class SensorKinetics(Base):
    """Rise/decay kinetics, dynamic range and 415 nm behaviour of one sensor.

    Parameters
    ----------
    name : str
        Sensor name as published.
    ligand : str
        What it reports (calcium, dopamine, ...).
    tau_rise_s, tau_decay_s : float
        Time constants (s) of the difference-of-exponentials impulse response.
    dff_max : float
        Saturating ΔF/F at 470 nm (dimensionless, e.g. 2.3 = 230 %).
    iso_coefficient : float
        ΔF/F at 415 nm per unit ΔF/F at 470 nm (signed, small).
    isosbestic_nm : float or None
        Wavelength (nm) where the sensor's fluorescence does not change with
        its ligand; None when it has no usable isosbestic point near 405-415 nm.
    published_half_decay_s : float or None
        The published half-decay from peak that ``tau_decay_s`` was solved
        for (sensors whose paper reports half-times), else None.
    reference : str
        Where the constants come from.

    Notes
    -----
    The impulse response is ``k(t) = (exp(-t/τd) - exp(-t/τr)) / peak`` for
    ``t >= 0``, normalised to a peak of 1, so an event amplitude is the peak
    ΔF/F of an isolated response before saturation.
    """

    name: str
    ligand: str
    tau_rise_s: Annotated[float, bounded("s", gt=0, le=10)]
    tau_decay_s: Annotated[float, bounded("s", gt=0, le=60)]
    dff_max: Annotated[float, bounded(gt=0, le=100)]
    iso_coefficient: Annotated[float, bounded(ge=-1, le=1)]
    isosbestic_nm: Annotated[float, bounded("nm", ge=350, le=500)] | None = None
    published_half_decay_s: Annotated[float, bounded("s", gt=0)] | None = None
    reference: str


def kernel_half_times(tau_rise_s: float, tau_decay_s: float) -> tuple[float, float, float]:
    """(half-rise from onset, time to peak, half-decay from peak) in s of ``e^{-t/τd} - e^{-t/τr}``.

    Notes
    -----
    The peak is at ``t* = τr·τd/(τd-τr)·ln(τd/τr)``; the two half-maximum
    crossings are found by bisection on either side of it.
    """
    from scipy.optimize import brentq

    if not 0 < tau_rise_s < tau_decay_s:
        raise ValueError(f"need 0 < tau_rise_s < tau_decay_s, got {tau_rise_s} s and {tau_decay_s} s")
    tp = tau_rise_s * tau_decay_s / (tau_decay_s - tau_rise_s) * math.log(tau_decay_s / tau_rise_s)

    def k(t: float) -> float:
        return float(np.exp(-t / tau_decay_s) - np.exp(-t / tau_rise_s))

    half = k(tp) / 2.0
    up = brentq(lambda t: k(t) - half, 0.0, tp)
    down = brentq(lambda t: k(t) - half, tp, tp + 50.0 * tau_decay_s)
    return float(up), float(tp), float(down - tp)


SENSORS: dict[str, SensorKinetics] = {
    s.name: s
    for s in (
        SensorKinetics(
            name="GCaMP6f",
            ligand="calcium",
            tau_rise_s=0.045,
            tau_decay_s=0.134,
            dff_max=50.8,
            iso_coefficient=0.02,
            isosbestic_nm=407.0,
            published_half_decay_s=0.142,
            reference="Chen et al. 2013, Nature 499:295 (1 AP in vivo: half-rise 45 ms, half-decay 142 ms; "
            "F_sat/F_apo 51.8)",
        ),
        SensorKinetics(
            name="GCaMP6s",
            ligand="calcium",
            tau_rise_s=0.179,
            tau_decay_s=0.512,
            dff_max=62.2,
            iso_coefficient=0.02,
            isosbestic_nm=407.0,
            published_half_decay_s=0.55,
            reference="Chen et al. 2013, Nature 499:295 (1 AP in vivo: half-rise 179 ms, half-decay 550 ms; "
            "F_sat/F_apo 63.2)",
        ),
        SensorKinetics(
            name="dLight1.1",
            ligand="dopamine",
            tau_rise_s=0.01,
            tau_decay_s=0.09,
            dff_max=2.3,
            iso_coefficient=-0.05,
            reference="Patriarchi et al. 2018, Science 360:eaat4422 (τon ~10 ms, τoff ~90 ms, ΔF/Fmax ~230 %)",
        ),
        SensorKinetics(
            name="GRAB-DA2m",
            ligand="dopamine",
            tau_rise_s=0.04,
            tau_decay_s=1.3,
            dff_max=3.4,
            iso_coefficient=-0.05,
            reference="Sun et al. 2020, Nat Methods 17:1156 (τon ~40 ms, τoff ~1.3 s, ΔF/Fmax ~340 %)",
        ),
        SensorKinetics(
            name="GRAB-5HT1.0",
            ligand="serotonin",
            tau_rise_s=0.2,
            tau_decay_s=3.1,
            dff_max=2.8,
            iso_coefficient=-0.05,
            reference="Wan et al. 2021, Nat Neurosci 24:746 (τon ~0.2 s, τoff ~3.1 s, ΔF/Fmax ~280 %)",
        ),
        SensorKinetics(
            name="GRAB-ACh3.0",
            ligand="acetylcholine",
            tau_rise_s=0.1,
            tau_decay_s=3.0,
            dff_max=2.8,
            iso_coefficient=-0.05,
            reference="Jing et al. 2020, Nat Methods 17:1139 (τon ~0.1 s, τoff ~3 s, ΔF/Fmax ~280 %)",
        ),
        SensorKinetics(
            name="GRAB-NE1m",
            ligand="noradrenaline",
            tau_rise_s=0.07,
            tau_decay_s=0.7,
            dff_max=2.3,
            iso_coefficient=-0.05,
            reference="Feng et al. 2019, Neuron 102:745 (τon ~70 ms, τoff ~0.7 s, ΔF/Fmax ~230 %)",
        ),
    )
}


def sensor(name: str) -> SensorKinetics:
    """The table entry for ``name``; the error lists the known sensors."""
    try:
        return SENSORS[name]
    except KeyError:
        raise ValueError(f"unknown sensor {name!r}; choose one of {sorted(SENSORS)}") from None
