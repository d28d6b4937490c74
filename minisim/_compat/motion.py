"""minisim 1.0's brain-motion helpers (``minisim.steps.motion``) over :mod:`minisim.steps.brain_motion`.

The trajectories are our generators (a damped oscillator driven by a
wandering stride rhythm and red broadband noise, or a bounded walk) in pixel
units; the warp is our exact bilinear shift-and-crop. Deliberate differences
from 1.0 are listed in ``docs/compat_1_0_helpers.md``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minisim.steps.brain_motion import physical_trajectory_um, shift_crop, walk_trajectory_um


def _child(rng: np.random.Generator) -> np.random.Generator:
    return np.random.default_rng(int(rng.integers(0, 2**62)))


def bounded_random_walk(n_frames: int, step_px: float, max_px: float, rng: np.random.Generator) -> np.ndarray:
    """Random walk ``(n_frames, 2)`` px from 0: ``N(0, step_px)`` per axis per frame, kept in a ``max_px`` disk.

    :func:`minisim.steps.brain_motion.walk_trajectory_um` (unit-free, so pixels
    in give pixels out).
    """
    return walk_trajectory_um(int(n_frames), float(step_px), float(max_px), rng)


def physical_brain_motion(
    n_frames: int,
    fps: float,
    *,
    locomotion_freq_hz: float,
    resonance_freq_hz: float,
    damping_ratio: float,
    locomotion_fraction: float,
    locomotion_axis: int,
    amplitude_px: float,
    max_px: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Brain trajectory ``(n_frames, 2)`` px of a damped oscillator driven by locomotion and broadband noise.

    Parameters
    ----------
    n_frames : int
    fps : float
        Frame rate, Hz.
    locomotion_freq_hz, resonance_freq_hz, damping_ratio : float
        Stride frequency, the tissue's resonance and its damping ratio.
    locomotion_fraction : float
        Share of the stride rhythm in the motion, in [0, 1].
    locomotion_axis : int
        0 for y (rows), 1 for x (columns).
    amplitude_px : float
        99th percentile of the displacement radius.
    max_px : float
        Hard clamp of the radius.
    rng : numpy.random.Generator
        Seeds the stride and the broadband drives (one draw each).

    Returns
    -------
    numpy.ndarray
        Frame 0 is at the origin.

    Notes
    -----
    :func:`minisim.steps.brain_motion.physical_trajectory_um`. Unlike 1.0 it
    starts from a settled oscillator (no start-up transient), discretizes the
    oscillator by the bilinear transform, and mixes the two unit-RMS components
    by power (``sqrt(f)``, ``sqrt(1 - f)``) so ``locomotion_fraction`` is the
    stride's share of the motion's power; 1.0 mixed amplitudes (``f``, ``1 - f``).
    """
    if locomotion_axis not in (0, 1):
        raise ValueError(f"locomotion_axis = {locomotion_axis!r} must be 0 (y) or 1 (x)")
    loco_rng, broad_rng = _child(rng), _child(rng)
    return physical_trajectory_um(
        int(n_frames),
        float(fps),
        locomotion_freq_hz=locomotion_freq_hz,
        motion_amplitude_um=amplitude_px,
        max_shift_um=max_px,
        locomotion_axis="y" if locomotion_axis == 0 else "x",
        resonance_freq_hz=resonance_freq_hz,
        damping_ratio=damping_ratio,
        locomotion_fraction=locomotion_fraction,
        loco_rng=loco_rng,
        broadband_rng=broad_rng,
    )


def brain_motion_shifts(spec: Any, acq: Any, n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Per-frame ``(dy, dx)`` px of a ``BrainMotion`` spec: its explicit trajectory, else its model."""
    px = acq.pixel_size_um
    if spec.trajectory_um is not None:
        traj = np.asarray(spec.trajectory_um, dtype=float).reshape(-1, 2)
        if len(traj) != n_frames:
            raise ValueError(
                f"trajectory_um has {len(traj)} rows but the recording has {n_frames} frames; "
                "fix: give one (dy, dx) per frame"
            )
        return traj / px
    if spec.model == "physical":
        return physical_brain_motion(
            n_frames,
            acq.fps,
            locomotion_freq_hz=spec.locomotion_freq_hz,
            resonance_freq_hz=spec.resonance_freq_hz,
            damping_ratio=spec.damping_ratio,
            locomotion_fraction=spec.locomotion_fraction,
            locomotion_axis=0 if spec.locomotion_axis == "y" else 1,
            amplitude_px=spec.motion_amplitude_um / px,
            max_px=spec.max_shift_um / px,
            rng=rng,
        )
    return bounded_random_walk(n_frames, spec.walk_step_um / px, spec.max_shift_um / px, rng)


def shift_and_crop(canvas: np.ndarray, shifts_px: np.ndarray, fov_shape: tuple[int, int]) -> np.ndarray:
    """Each frame of ``canvas`` ``(T, H, W)`` moved by ``shifts_px[t]`` ``(dy, dx)``, then its centered FOV cropped.

    Positive shifts move content down / right; tissue beyond the canvas reads 0.

    Notes
    -----
    :func:`minisim.steps.brain_motion.shift_crop`, exact bilinear weights in
    float32 (1.0 used OpenCV's ``warpAffine``, whose weights are quantized to
    1/32 px). The canvas is zero-padded by the largest shift so any shift fits.
    """
    canvas = np.asarray(canvas)
    shifts = np.asarray(shifts_px, dtype=float).reshape(-1, 2)
    n, h, w = canvas.shape
    fh, fw = int(fov_shape[0]), int(fov_shape[1])
    if len(shifts) != n:
        raise ValueError(f"{len(shifts)} shifts for {n} frames; fix: give one (dy, dx) per frame")
    top, left = (h - fh) // 2, (w - fw) // 2
    reach = math.ceil(float(np.abs(shifts).max())) + 1 if shifts.size else 1
    pad = max(reach - min(top, left), 0)
    grown = np.pad(canvas.astype(np.float32, copy=False), ((0, 0), (pad, pad), (pad, pad)))
    margin = min(top, left) + pad
    # Re-center so the FOV starts ``margin`` pixels in on both axes.
    r0, c0 = top + pad - margin, left + pad - margin
    grown = grown[:, r0 : r0 + fh + 2 * margin, c0 : c0 + fw + 2 * margin]
    out = np.empty((n, fh, fw))
    for f in range(n):
        out[f] = shift_crop(grown[f], float(shifts[f, 0]), float(shifts[f, 1]), margin, (fh, fw))
    return out
