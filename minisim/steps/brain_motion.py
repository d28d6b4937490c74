"""Brain motion: rigid, sub-pixel x-y translation of the tissue under the objective.

The trajectory is small (two numbers per frame) and generated eagerly, in
full, from keyed random streams; the movie op then crops each frame of the
padded tissue canvas at that frame's displacement, so real off-field tissue
moves into view. The crop is a bilinear interpolation written as an integer
slice plus a 2x2 blend, which is fast, exact to float32 rounding, and gives
the same bits on every platform.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import scipy.signal as sig
from pydantic import field_validator, model_validator

from minisim._base import SpecWarning, bounded
from minisim.acquisition import Acquisition, ceil_px
from minisim.steps.base import MovieOp, StepSpec

#: Internal integration rate of the physical model (Hz); frames average its bins.
SIM_HZ = 300.0
#: Relative wander of the stride frequency (standard deviation; excursions reach ~±15 %) and its correlation time (s).
STRIDE_WANDER, STRIDE_WANDER_TAU_S = 0.05, 0.3
#: Correlation time of the broadband (red-noise) drive (s).
BROADBAND_TAU_S = 0.12
#: Motion extent above this fraction of the smaller FOV side triggers a SpecWarning.
WARN_FOV_FRACTION = 0.05
LOCO_STREAM, BROADBAND_STREAM, WALK_STREAM = 0, 1, 2


class BrainMotion(StepSpec):
    """Move the tissue rigidly in x-y, frame by frame, and crop to the sensor.

    Parameters
    ----------
    model : {"physical", "walk"}
        "physical": a damped oscillator driven by locomotion and red noise;
        "walk": a bounded random walk. Ignored when ``trajectory_um`` is given.
    trajectory_um : list of (dy, dx) or None
        Explicit per-frame displacement in µm, one row per frame.
    max_shift_um : float
        Hard limit on the displacement radius; sizes the canvas margin.
    locomotion_freq_hz : float
        Stride frequency driving the physical model.
    motion_amplitude_um : float
        99th percentile of the displacement radius (physical model).
    locomotion_axis : {"y", "x"}
        Axis the stride drive acts on.
    resonance_freq_hz, damping_ratio : float
        Natural frequency and damping ratio of the brain-in-skull oscillator.
    locomotion_fraction : float
        Share of the motion power due to locomotion (the rest is broadband).
    walk_step_um : float
        Standard deviation per axis and frame of the walk's steps.

    Notes
    -----
    Physical model: each axis obeys ``x'' + 2 zeta w0 x' + w0**2 x = a(t)``,
    discretized by the bilinear transform at ~300 Hz and run with
    ``scipy.signal.lfilter``. Drives: a stride sinusoid on ``locomotion_axis``
    whose frequency wanders by 5 % rms, up to ~15 % (one-pole low-pass noise,
    tau 0.3 s), and red noise (tau 0.12 s) on both axes. After a burn-in each
    response is averaged over each frame's exposure, re-zeroed at frame 0 and
    scaled to unit RMS radius; they are mixed as ``sqrt(f) L + sqrt(1 - f)
    N``, scaled so the 99th-percentile radius equals ``motion_amplitude_um``
    and clamped radially to ``max_shift_um``. This is a phenomenological
    model with minisim 1.0's defaults; displacements of a few µm, largest
    along the running axis, are typical of awake head-fixed mice (Dombeck et
    al. 2007, Neuron 56). Walk: ``N(0, walk_step_um)`` per axis and frame,
    projected back onto the disk of radius ``max_shift_um`` after each step.

    Each frame is the padded canvas sampled at ``position - shift`` by
    bilinear interpolation, which slightly low-passes sub-pixel-shifted
    frames (at most a half-pixel tent blur). Motion is rigid translation
    only: no rotation, non-rigid warp or axial (z) focus drift, and it is
    constant within a frame (no intra-frame motion blur). Ground truth
    ``shifts`` is the applied displacement in pixels, ``(frame, 2)`` as
    ``(dy, dx)``; positive moves content down/right, and the correction is
    its negation. Differences from minisim 1.0: the trajectory length and
    the margin are checked when the Spec is built, not at run time, and the
    warp is numpy (bit-identical on every platform) instead of OpenCV.
    """

    kind: Literal["brain_motion"] = "brain_motion"
    model: Literal["physical", "walk"] = "physical"
    trajectory_um: list[tuple[float, float]] | None = None
    max_shift_um: Annotated[float, bounded("um", gt=0, hint="the largest displacement to allow, e.g. 15 um")] = 15.0
    locomotion_freq_hz: Annotated[float, bounded("Hz", gt=0, hint="mouse stride is ~3-9 Hz")] = 7.0
    motion_amplitude_um: Annotated[float, bounded("um", gt=0, hint="e.g. 10 um; keep <= max_shift_um")] = 10.0
    locomotion_axis: Literal["y", "x"] = "y"
    resonance_freq_hz: Annotated[float, bounded("Hz", gt=0)] = 6.0
    damping_ratio: Annotated[float, bounded(gt=0, hint="0.5 is moderately damped")] = 0.5
    locomotion_fraction: Annotated[float, bounded(ge=0, le=1)] = 0.25
    walk_step_um: Annotated[float, bounded("um", ge=0)] = 0.3

    stage: ClassVar[str] = "brain_motion"
    domain: ClassVar[Any] = "motion"
    produces: ClassVar[tuple[str, ...]] = ("shifts",)
    acts_on_movie: ClassVar[bool] = True

    @field_validator("trajectory_um", mode="before")
    @classmethod
    def _array_to_rows(cls, value: Any) -> Any:
        if value is None or isinstance(value, list):
            return value
        arr = np.asarray(value, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(f"trajectory_um has shape {arr.shape}; fix: give an (n_frames, 2) array of (dy, dx) um")
        return arr.tolist()

    @model_validator(mode="after")
    def _check_extent(self) -> BrainMotion:
        if self.trajectory_um is not None:
            traj = np.asarray(self.trajectory_um, dtype=float).reshape(-1, 2)
            if not np.isfinite(traj).all():
                raise ValueError("trajectory_um contains NaN or inf; fix: give finite (dy, dx) um per frame")
            radius = np.hypot(traj[:, 0], traj[:, 1])
            if radius.size and radius.max() > self.max_shift_um:
                frame = int(np.argmax(radius))
                raise ValueError(
                    f"trajectory_um reaches a shift of {radius.max():.3g} um (frame {frame}), larger than "
                    f"max_shift_um = {self.max_shift_um} um, which sizes the motion margin; "
                    f"fix: set max_shift_um >= {radius.max():.3g} um or shrink the trajectory"
                )
        elif self.model == "physical" and self.motion_amplitude_um > self.max_shift_um:
            raise ValueError(
                f"motion_amplitude_um = {self.motion_amplitude_um} um exceeds max_shift_um = {self.max_shift_um} um; "
                "fix: raise max_shift_um or lower motion_amplitude_um"
            )
        return self

    def extent_um(self) -> float:
        """Largest displacement component the recording can show (µm)."""
        if self.trajectory_um is not None:
            traj = np.asarray(self.trajectory_um, dtype=float).reshape(-1, 2)
            return float(np.abs(traj).max()) if traj.size else 0.0
        return self.motion_amplitude_um if self.model == "physical" else self.max_shift_um

    def margin_px(self, pixel_size_um: float) -> int:
        """``ceil(extent px) + 1`` (1 px guard for the bilinear blend), 0 without motion."""
        extent = self.extent_um() if self.trajectory_um is not None else self.max_shift_um
        px = extent / pixel_size_um
        return ceil_px(px) + 1 if px > 0 else 0

    def check_acquisition(self, acq: Acquisition) -> None:
        if self.trajectory_um is not None and len(self.trajectory_um) != acq.n_frames:
            raise ValueError(
                f"trajectory_um has {len(self.trajectory_um)} rows but the acquisition has {acq.n_frames} frames "
                f"(duration_s = {acq.duration_s} s x fps = {acq.fps} Hz); fix: give exactly one (dy, dx) um per frame"
            )
        fov = min(acq.fov_um)
        if self.extent_um() > WARN_FOV_FRACTION * fov:
            warnings.warn(
                f"brain motion extent {self.extent_um():.3g} um is more than {WARN_FOV_FRACTION:.0%} of the "
                f"{fov:.1f} um field of view; a large share of each frame will be tissue from the margin",
                SpecWarning,
                stacklevel=2,
            )

    def trajectory(self, acq: Acquisition, seed_rng: Any) -> np.ndarray:
        """Displacement ``(n_frames, 2)`` µm as ``(dy, dx)``; ``seed_rng(stream)`` gives a generator."""
        if self.trajectory_um is not None:
            return np.asarray(self.trajectory_um, dtype=np.float64).reshape(-1, 2)
        if self.model == "walk":
            return walk_trajectory_um(acq.n_frames, self.walk_step_um, self.max_shift_um, seed_rng(WALK_STREAM))
        return physical_trajectory_um(
            acq.n_frames,
            acq.fps,
            locomotion_freq_hz=self.locomotion_freq_hz,
            motion_amplitude_um=self.motion_amplitude_um,
            max_shift_um=self.max_shift_um,
            locomotion_axis=self.locomotion_axis,
            resonance_freq_hz=self.resonance_freq_hz,
            damping_ratio=self.damping_ratio,
            locomotion_fraction=self.locomotion_fraction,
            loco_rng=seed_rng(LOCO_STREAM),
            broadband_rng=seed_rng(BROADBAND_STREAM),
        )

    def compute(self, ctx: Any) -> dict[str, Any]:
        traj_um = self.trajectory(ctx.acq, lambda stream: ctx.rng(stream=stream))
        return {"shifts": traj_um / ctx.acq.pixel_size_um}

    def movie_op(self, ctx: Any) -> MovieOp | None:
        # Regenerated (cheap, deterministic) rather than read back: a step does not consume its own product.
        shifts = self.compute(ctx)["shifts"]
        return MovieOp(
            fn=shift_crop_block,
            static={"margin_px": ctx.geometry.margin_px, "fov_shape": ctx.geometry.fov_shape},
            per_frame={"shifts_px": shifts},
            out_shape=ctx.geometry.fov_shape,
        )


def one_pole_lowpass(x: np.ndarray, tau_samples: float) -> np.ndarray:
    """Causal ``y[n] = a y[n-1] + (1 - a) x[n]``, ``a = exp(-1/tau)``, along axis 0."""
    a = math.exp(-1.0 / tau_samples)
    return sig.lfilter([1.0 - a], [1.0, -a], x, axis=0)


def oscillator_coefficients(
    resonance_freq_hz: float, damping_ratio: float, fs_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """IIR ``(b, a)`` of ``x'' + 2 zeta w0 x' + w0**2 x = drive`` by the bilinear transform, unit DC gain."""
    w0 = 2 * math.pi * resonance_freq_hz
    b, a = sig.bilinear([w0**2], [1.0, 2 * damping_ratio * w0, w0**2], fs=fs_hz)
    return np.asarray(b), np.asarray(a)


def _unit_rms_radius(xy: np.ndarray) -> np.ndarray:
    rms = math.sqrt(float(np.mean(np.sum(xy**2, axis=1)))) if xy.size else 0.0
    return xy / rms if rms > 0 else np.zeros_like(xy)


def clamp_radius(xy: np.ndarray, max_radius: float) -> np.ndarray:
    """Scale rows whose radius exceeds ``max_radius`` back onto the disk."""
    r = np.hypot(xy[:, 0], xy[:, 1])
    scale = np.where(r > max_radius, max_radius / np.where(r > 0, r, 1.0), 1.0)
    return xy * scale[:, None]


def physical_trajectory_um(
    n_frames: int,
    fps: float,
    *,
    locomotion_freq_hz: float,
    motion_amplitude_um: float,
    max_shift_um: float,
    locomotion_axis: str,
    resonance_freq_hz: float,
    damping_ratio: float,
    locomotion_fraction: float,
    loco_rng: np.random.Generator,
    broadband_rng: np.random.Generator,
) -> np.ndarray:
    """Locomotion-driven damped-oscillator trajectory ``(n_frames, 2)`` µm (see :class:`BrainMotion`)."""
    bins = max(round(SIM_HZ / fps), 1)
    fs = bins * fps
    settle_s = max(5 * STRIDE_WANDER_TAU_S, 5 * BROADBAND_TAU_S, 5 / (damping_ratio * 2 * math.pi * resonance_freq_hz))
    pad = math.ceil(settle_s * fps)
    n = (n_frames + pad) * bins
    # Stride drive: sinusoid with a slowly wandering frequency.
    a_w = math.exp(-1.0 / (STRIDE_WANDER_TAU_S * fs))
    wander = one_pole_lowpass(loco_rng.standard_normal(n), STRIDE_WANDER_TAU_S * fs) / math.sqrt((1 - a_w) / (1 + a_w))
    phase = (
        loco_rng.uniform(0, 2 * math.pi)
        + 2 * math.pi * np.cumsum(locomotion_freq_hz * (1 + STRIDE_WANDER * wander)) / fs
    )
    loco_drive = np.zeros((n, 2))
    loco_drive[:, 0 if locomotion_axis == "y" else 1] = np.sin(phase)
    broad_drive = one_pole_lowpass(broadband_rng.standard_normal((n, 2)), BROADBAND_TAU_S * fs)
    b, a = oscillator_coefficients(resonance_freq_hz, damping_ratio, fs)
    parts = []
    for drive in (loco_drive, broad_drive):
        pos = sig.lfilter(b, a, drive, axis=0).reshape(n_frames + pad, bins, 2).mean(axis=1)[pad:]
        parts.append(_unit_rms_radius(pos - pos[0]))
    mixed = math.sqrt(locomotion_fraction) * parts[0] + math.sqrt(1 - locomotion_fraction) * parts[1]
    p99 = float(np.percentile(np.hypot(mixed[:, 0], mixed[:, 1]), 99)) if n_frames else 0.0
    if p99 <= 0:
        return np.zeros((n_frames, 2))
    return clamp_radius(mixed * (motion_amplitude_um / p99), max_shift_um)


def walk_trajectory_um(n_frames: int, step_um: float, max_shift_um: float, rng: np.random.Generator) -> np.ndarray:
    """Bounded random walk ``(n_frames, 2)`` µm from the origin, projected onto the ``max_shift_um`` disk."""
    steps = rng.normal(0.0, step_um, (n_frames, 2)) if step_um > 0 else np.zeros((n_frames, 2))
    out = np.zeros((n_frames, 2))
    y = x = 0.0
    for i in range(1, n_frames):
        y += float(steps[i, 0])
        x += float(steps[i, 1])
        r = math.hypot(y, x)
        if r > max_shift_um:
            y, x = y * max_shift_um / r, x * max_shift_um / r
        out[i] = (y, x)
    return out


def shift_crop(canvas: np.ndarray, dy: float, dx: float, margin_px: int, fov_shape: tuple[int, int]) -> np.ndarray:
    """The FOV of ``canvas`` with its content displaced by ``(dy, dx)`` px, bilinearly.

    ``out[r, c] = canvas[margin + r - dy, margin + c - dx]``, interpolated
    between the four neighbouring canvas pixels (float32 arithmetic).
    """
    h, w = fov_shape
    sy, sx = margin_px - dy, margin_px - dx
    iy, ix = math.floor(sy), math.floor(sx)
    ay, ax = np.float32(sy - iy), np.float32(sx - ix)
    ey, ex = int(ay > 0), int(ax > 0)  # an integer shift needs no neighbour row/column
    if iy < 0 or ix < 0 or iy + h + ey > canvas.shape[0] or ix + w + ex > canvas.shape[1]:
        raise ValueError(
            f"shift ({dy:.3f}, {dx:.3f}) px does not fit the {margin_px} px motion margin; "
            "fix: raise BrainMotion.max_shift_um"
        )
    win = canvas[iy : iy + h + ey, ix : ix + w + ex]
    rows = win[:-1] * (np.float32(1) - ay) + win[1:] * ay if ey else win
    return rows[:, :-1] * (np.float32(1) - ax) + rows[:, 1:] * ax if ex else rows.copy()


def shift_crop_block(
    block: np.ndarray, frames: np.ndarray, static: Mapping[str, Any], per_frame: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Per-frame :func:`shift_crop` of a canvas block to the field of view."""
    h, w = static["fov_shape"]
    shifts = per_frame["shifts_px"]
    out = np.empty((len(frames), h, w), dtype=np.float32)
    for i in range(len(frames)):
        out[i] = shift_crop(block[i], float(shifts[i, 0]), float(shifts[i, 1]), static["margin_px"], (h, w))
    return out


__all__ = [
    "BrainMotion",
    "clamp_radius",
    "one_pole_lowpass",
    "oscillator_coefficients",
    "physical_trajectory_um",
    "shift_crop",
    "walk_trajectory_um",
]
