"""Kinetics of the fluorescent sensors a photometry session can express.

Each entry gives the sensor's rise and decay time constants, its dynamic
range and how it behaves under 415 nm (isosbestic) excitation, with the paper
the numbers come from. The values are rounded from the papers' summary
figures and text (single-stimulus, room or body temperature as reported); they
set realistic defaults, not a substitute for a lab's own calibration. The
415 nm coefficients are qualitative: GCaMP's isosbestic point lies near
405-410 nm, so 415 nm sees a small positive change; GRAB and dLight sensors
have no clean isosbestic point and dim slightly at 415 nm.
"""

from __future__ import annotations

from typing import Annotated, Literal

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
    reference: str


SENSORS: dict[str, SensorKinetics] = {
    s.name: s
    for s in (
        SensorKinetics(
            name="GCaMP6f",
            ligand="calcium",
            tau_rise_s=0.05,
            tau_decay_s=0.2,
            dff_max=50.0,
            iso_coefficient=0.02,
            reference="Chen et al. 2013, Nature 499:295 (1-AP half-rise ~45 ms, half-decay ~140 ms)",
        ),
        SensorKinetics(
            name="GCaMP6s",
            ligand="calcium",
            tau_rise_s=0.18,
            tau_decay_s=0.8,
            dff_max=60.0,
            iso_coefficient=0.02,
            reference="Chen et al. 2013, Nature 499:295 (1-AP half-rise ~180 ms, half-decay ~550 ms)",
        ),
        SensorKinetics(
            name="dLight1.1",
            ligand="dopamine",
            tau_rise_s=0.01,
            tau_decay_s=0.1,
            dff_max=2.3,
            iso_coefficient=-0.05,
            reference="Patriarchi et al. 2018, Science 360:eaat4422 (τon ~10 ms, τoff ~100 ms, ΔF/Fmax ~230 %)",
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
