"""The photometry session spec: task, fibers, a list of physical steps, acquisition and faults.

Like the miniscope chain, a :class:`PhotometrySpec` is a frozen pydantic model
whose ``steps`` list holds at most one step of each kind; leaving a step out
switches its physics off. Every field carries its unit in its name.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from minisim._base import Base, bounded
from minisim.photometry.sensors import SENSORS, SensorKinetics

NonNeg = Annotated[float, bounded(ge=0)]
Pos = Annotated[float, bounded(gt=0)]
Fraction = Annotated[float, bounded(ge=0, lt=1)]


class Psychometric(Base):
    """Choice model: ``P(right) = γ1 + (1-γ1-γ2)·(erf((c-μ)/σ)+1)/2``, c signed contrast in % (right > 0).

    ``gamma1`` is the lapse rate towards "right" at strong left contrasts
    (P(right) at c → -∞) and ``gamma2`` towards "left". The bias μ follows the
    latent prior: ``μ = bias_pct + prior_shift_pct·(prior_left - 0.5)/0.3``
    (a left prior needs more right contrast for a "right").
    """

    bias_pct: float = 0.0
    threshold_pct: Annotated[float, bounded("%", gt=0)] = 15.0
    gamma1: Annotated[float, bounded(ge=0, le=0.5)] = 0.05
    gamma2: Annotated[float, bounded(ge=0, le=0.5)] = 0.05
    prior_shift_pct: float = 12.0
    prior_learning_rate: Annotated[float, bounded(gt=0, le=1)] = 0.1


class ReactionTimes(Base):
    """Log-normal reaction (stimOn → firstMovement) and movement (firstMovement → response) times."""

    rt_median_easy_s: Pos = 0.3
    rt_median_zero_s: Pos = 0.8
    rt_log_sd: Pos = 0.5
    disengaged_fraction: Fraction = 0.05
    disengaged_median_s: Pos = 4.0
    movement_median_s: Pos = 0.25
    movement_log_sd: Pos = 0.4


class Task(Base):
    """An IBL biasedChoiceWorld session (iblrig's block and trial structure)."""

    protocol: str = "_iblrig_tasks_biasedChoiceWorld"
    n_trials: Annotated[int, bounded("trials", ge=10, le=5000)] = 400
    first_block_trials: Annotated[int, bounded("trials", ge=10)] = 90
    block_scale_trials: Pos = 60.0
    block_min_trials: Annotated[int, bounded("trials", ge=10)] = 20
    block_max_trials: Annotated[int, bounded("trials", ge=10)] = 100
    contrasts: tuple[float, ...] = (1.0, 0.25, 0.125, 0.0625, 0.0)
    reward_ul: Pos = 1.5
    psychometric: Psychometric = Psychometric()
    reaction_times: ReactionTimes = ReactionTimes()

    @model_validator(mode="after")
    def _blocks(self) -> Task:
        if self.block_min_trials > self.block_max_trials:
            raise ValueError(
                f"block_min_trials={self.block_min_trials} > block_max_trials={self.block_max_trials}; "
                "fix: make the minimum at most the maximum"
            )
        if not self.contrasts or any(not 0 <= c <= 1 for c in self.contrasts):
            raise ValueError(f"contrasts={self.contrasts} must be non-empty fractions in [0, 1]")
        return self


class Fiber(Base):
    """One fiber (one ROI, ``G<i>``) in one brain region, expressing one sensor."""

    region: str = "VTA"
    sensor: str = "GCaMP6f"
    response_scale: float = 1.0
    brightness: Pos = 1.0

    @field_validator("sensor")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in SENSORS:
            raise ValueError(f"unknown sensor {v!r}; fix: choose one of {sorted(SENSORS)}")
        return v

    @property
    def kinetics(self) -> SensorKinetics:
        return SENSORS[self.sensor]


class EventResponse(Base):
    """A response locked to one task event: amplitude ``base_dff + rpe_gain_dff · signal``.

    ``signal`` is the predicted value at stimulus onset, the reward prediction
    error at feedback and 1 at movement. The neural drive is a pulse of
    ``width_s`` starting ``delay_s`` after the event, filtered by the sensor.
    """

    enabled: bool = True
    base_dff: float = 0.0
    rpe_gain_dff: float = 0.0
    delay_s: NonNeg = 0.05
    width_s: Annotated[float, bounded("s", gt=0, le=5)] = 0.1


class Responses(Base):
    """Event-locked, RPE-scaled responses at stimulus onset, first movement and feedback."""

    kind: Literal["responses"] = "responses"
    stim_on: EventResponse = EventResponse(base_dff=0.01, rpe_gain_dff=0.03)
    movement: EventResponse = EventResponse(base_dff=0.01, rpe_gain_dff=0.0, delay_s=0.0, width_s=0.2)
    feedback: EventResponse = EventResponse(base_dff=0.0, rpe_gain_dff=0.06)


class Spontaneous(Base):
    """Poisson background transients not locked to the task."""

    kind: Literal["spontaneous"] = "spontaneous"
    rate_hz: NonNeg = 0.2
    amplitude_dff: NonNeg = 0.01


class BandBleaching(Base):
    """``B(t) = 1 - a_f(1-e^{-t/τf}) - a_s(1-e^{-t/τs}) - lin·t`` for one excitation band."""

    fast_fraction: Fraction = 0.08
    tau_fast_s: Annotated[float, bounded("s", gt=0)] = 150.0
    slow_fraction: Fraction = 0.2
    tau_slow_s: Annotated[float, bounded("s", gt=0)] = 2500.0
    linear_per_hour: Annotated[float, bounded("1/h", ge=0, lt=0.5)] = 0.02


class Bleaching(Base):
    """Photobleaching of each excitation band (the 415 nm band bleaches at its own rates)."""

    kind: Literal["bleaching"] = "bleaching"
    band_470: BandBleaching = BandBleaching()
    band_415: BandBleaching = BandBleaching(fast_fraction=0.05, tau_fast_s=250.0, slow_fraction=0.25, tau_slow_s=3500.0)

    @model_validator(mode="after")
    def _positive(self) -> Bleaching:
        for name, b in (("band_470", self.band_470), ("band_415", self.band_415)):
            if b.fast_fraction + b.slow_fraction >= 0.95:
                raise ValueError(
                    f"{name}: fast_fraction + slow_fraction = {b.fast_fraction + b.slow_fraction:g} "
                    "must be < 0.95 so the signal stays positive; fix: lower one of them"
                )
        return self


class Motion(Base):
    """Shared multiplicative motion gain: slow wander, fiber-coupling steps, movement-locked dips."""

    kind: Literal["motion"] = "motion"
    wander_sd: NonNeg = 0.005
    wander_tau_s: Pos = 5.0
    coupling_steps_per_hour: NonNeg = 2.0
    coupling_step_sd: NonNeg = 0.03
    movement_dip: NonNeg = 0.004
    band_415_exponent: Annotated[float, bounded(ge=0, le=3)] = 1.0


class Hemodynamics(Base):
    """Blood-volume absorption: heartbeat, respiration and vasomotion, stronger at 415 nm."""

    kind: Literal["hemodynamics"] = "hemodynamics"
    heart_rate_hz: Annotated[float, bounded("Hz", ge=6, le=14)] = 10.0
    heart_rate_sd_hz: NonNeg = 0.4
    heartbeat_absorbance: NonNeg = 0.002
    respiration_hz: Annotated[float, bounded("Hz", ge=0.5, le=6)] = 3.0
    respiration_absorbance: NonNeg = 0.001
    vasomotion_hz: Annotated[float, bounded("Hz", gt=0, le=0.5)] = 0.1
    vasomotion_absorbance: NonNeg = 0.004
    ratio_415_to_470: NonNeg = 2.5


class IsosbesticMismatch(Base):
    """The 415 nm channel as an imperfect reference: it sees some activity and scaled artifacts."""

    kind: Literal["isosbestic_mismatch"] = "isosbestic_mismatch"
    activity_coefficient: float | None = None
    artifact_gain: Annotated[float, bounded(ge=0, le=3)] = 1.15


AnyStep = Annotated[
    Responses | Spontaneous | Bleaching | Motion | Hemodynamics | IsosbesticMismatch, Field(discriminator="kind")
]

#: Canonical order of the step kinds and their stable RNG step ids (never renumber).
STEP_IDS: dict[str, int] = {
    "task": 201,
    "responses": 202,
    "spontaneous": 203,
    "bleaching": 204,
    "motion": 205,
    "hemodynamics": 206,
    "isosbestic_mismatch": 207,
    "acquisition": 208,
}
STEP_ORDER = tuple(k for k in STEP_IDS if k not in ("task", "acquisition"))


class Acquisition(Base):
    """The Neurophotometrics FP3002: LED multiplexing, camera, clock and Bpod sync."""

    frame_rate_hz: Literal[30, 60] = 60
    exposure_fraction: Annotated[float, bounded(gt=0, le=0.95)] = 0.6
    f0_470_au: Pos = 0.0086
    f0_415_au: Pos = 0.0099
    dark_offset_au: NonNeg = 0.0004
    roi_pixels: Annotated[int, bounded("px", ge=1)] = 2000
    au_per_electron: Pos = 1.7e-5
    read_noise_e: NonNeg = 2.0
    clock_drift_ppm: Annotated[float, bounded("ppm", ge=-100, le=100)] = 4.0
    clock_offset_s: Annotated[float, bounded("s", ge=0, le=1000)] = 321.5
    jitter_us: Annotated[float, bounded("us", ge=0, le=200)] = 30.0
    pre_s: Annotated[float, bounded("s", ge=3)] = 10.0
    post_s: Annotated[float, bounded("s", ge=3)] = 10.0
    sync_channel: Annotated[int, bounded(ge=0, le=3)] = 1


class Faults(Base):
    """Hardware faults, each flagged in the ground truth (rows count the junk frame as row 0).

    ``dropped_rows``: the camera frame due at that row was lost (LED order and
    timing skip one frame). ``repeated_rows``: that row re-used the previous
    LED. ``early_rows``: that frame's timestamp is ``early_ms`` early.
    ``late_start_s``: photometry starts this long after the first trial.
    ``quantize_bits``: ROI means are rounded to this many bits of ``full_scale_au``.
    """

    dropped_rows: tuple[int, ...] = ()
    repeated_rows: tuple[int, ...] = ()
    early_rows: tuple[int, ...] = ()
    early_ms: Annotated[float, bounded("ms", gt=0, le=10)] = 2.0
    late_start_s: Annotated[float, bounded("s", gt=0)] | None = None
    quantize_bits: Annotated[int, bounded("bits", ge=1, le=24)] | None = None
    full_scale_au: Pos = 0.02

    @model_validator(mode="after")
    def _rows(self) -> Faults:
        for name in ("dropped_rows", "repeated_rows", "early_rows"):
            rows = getattr(self, name)
            if any(r < 2 for r in rows):
                raise ValueError(f"{name}={rows}: rows must be >= 2 (row 0 is the junk frame); fix: use later rows")
        both = set(self.dropped_rows) & set(self.repeated_rows)
        if both:
            raise ValueError(f"rows {sorted(both)} are both dropped and repeated; fix: pick one fault per row")
        return self

    @property
    def any(self) -> bool:
        return bool(
            self.dropped_rows or self.repeated_rows or self.early_rows or self.late_start_s or self.quantize_bits
        )


def default_steps() -> tuple[AnyStep, ...]:
    return (Responses(), Spontaneous(), Bleaching(), Motion(), Hemodynamics())


class PhotometrySpec(Base):
    """A fiber-photometry session of a subject doing the IBL task."""

    seed: Annotated[int, bounded(ge=0)] = 0
    lab: str = "minisimlab"
    subject: str = "SIM001"
    start_date: str = "2026-01-05"
    fibers: tuple[Fiber, ...] = (Fiber(),)
    task: Task = Task()
    steps: tuple[AnyStep, ...] = Field(default_factory=default_steps)
    acquisition: Acquisition = Acquisition()
    faults: Faults = Faults()

    @field_validator("steps")
    @classmethod
    def _order(cls, steps: tuple[AnyStep, ...]) -> tuple[AnyStep, ...]:
        kinds = [s.kind for s in steps]
        dup = sorted({k for k in kinds if kinds.count(k) > 1})
        if dup:
            raise ValueError(f"step kinds {dup} appear more than once; fix: keep one step of each kind")
        return tuple(sorted(steps, key=lambda s: STEP_ORDER.index(s.kind)))

    @model_validator(mode="after")
    def _fibers(self) -> PhotometrySpec:
        if not 1 <= len(self.fibers) <= 16:
            raise ValueError(f"got {len(self.fibers)} fibers; the FP3002 records 1 to 16 ROIs here")
        import datetime

        try:
            datetime.date.fromisoformat(self.start_date)
        except ValueError:
            raise ValueError(f"start_date={self.start_date!r} is not an ISO date; fix: write YYYY-MM-DD") from None
        return self

    def step(self, kind: str) -> Any:
        """The step of ``kind`` (one of the :data:`AnyStep` models), or None when it is switched off."""
        return next((s for s in self.steps if s.kind == kind), None)

    @property
    def roi_names(self) -> tuple[str, ...]:
        return tuple(f"G{i}" for i in range(len(self.fibers)))
