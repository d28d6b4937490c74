"""Brain motion: trajectories, the shift-and-crop, the margin, and Spec-time refusals."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pydantic
import pytest
import scipy.signal as sig

import minisim as ms
from minisim.rng import generator
from minisim.steps.brain_motion import physical_trajectory_um, shift_crop, walk_trajectory_um


def motion_spec(
    motion: ms.BrainMotion, *, n_px: int = 48, duration_s: float = 1.0, sensor: bool = True, **kw
) -> ms.Spec:
    """A dense, static-textured field (cells at baseline, 1 µm pixels) with the given motion."""
    bit_depth = kw.pop("bit_depth", 12)
    steps = [
        ms.PlaceNeurons(
            density_per_mm3=kw.pop("density_per_mm3", 3e6), soma_radius_um=3.0, depth_range_um=(15.0, 25.0)
        ),
        ms.CellActivity(p_quiescent_to_active=1e-6, quiescent_rate_hz=0.0, brightness_cv=0.5),
        ms.CellOptics(),
        ms.Composite(),
        motion,
    ]
    if sensor:
        steps.append(ms.Sensor(photons_per_unit=2000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ms.SpecWarning)  # motion is large next to a tiny test FOV
        return ms.Spec(
            acquisition=ms.Acquisition(
                duration_s=duration_s,
                image_sensor=ms.ImageSensor(n_px_height=n_px, n_px_width=n_px, pixel_pitch_um=8.0, bit_depth=bit_depth),
                focal_depth_in_tissue_um=20.0,
            ),
            seed=kw.pop("seed", 0),
            steps=steps,
        )


def physical(n_frames: int = 4000, fps: float = 20.0, **kw) -> np.ndarray:
    params = dict(
        locomotion_freq_hz=7.0,
        motion_amplitude_um=10.0,
        max_shift_um=15.0,
        locomotion_axis="y",
        resonance_freq_hz=6.0,
        damping_ratio=0.5,
        locomotion_fraction=0.25,
    )
    params.update(kw)
    return physical_trajectory_um(
        n_frames, fps, loco_rng=generator(0, 1, 0, 0), broadband_rng=generator(0, 1, 1, 0), **params
    )


# --- trajectories ---------------------------------------------------------------------------------


def test_physical_trajectory_amplitude_is_the_99th_percentile_radius_and_starts_at_rest():
    traj = physical()
    r = np.hypot(traj[:, 0], traj[:, 1])
    assert np.percentile(r, 99) == pytest.approx(10.0, rel=1e-9)
    assert np.median(r) < 6.0
    assert r.max() <= 15.0 + 1e-12
    np.testing.assert_array_equal(traj[0], [0.0, 0.0])


def test_physical_trajectory_is_clamped_to_max_shift():
    traj = physical(motion_amplitude_um=10.0, max_shift_um=10.5)
    r = np.hypot(traj[:, 0], traj[:, 1])
    assert r.max() == pytest.approx(10.5)
    assert (r >= 10.5 - 1e-9).sum() > 0


@pytest.mark.parametrize("axis", ["y", "x"])
def test_locomotion_spectrum_peaks_near_stride_frequency_on_its_axis(axis):
    traj = physical(locomotion_fraction=1.0, locomotion_axis=axis)
    f, p = sig.welch(traj, fs=20.0, axis=0, nperseg=512)
    on, off = (0, 1) if axis == "y" else (1, 0)
    assert abs(f[np.argmax(p[:, on])] - 7.0) <= 0.5
    k = np.argmin(abs(f - 7.0))
    assert p[k, on] > 20 * p[k, off]


def test_walk_is_bounded_and_steps_have_the_requested_size():
    traj = walk_trajectory_um(20_000, 0.3, 4.0, generator(0, 1, 2, 0))
    r = np.hypot(traj[:, 0], traj[:, 1])
    assert r.max() <= 4.0 + 1e-12
    assert r.max() > 3.9  # it does reach the wall
    inner = r[:-1] < 3.0  # steps that cannot hit the wall
    steps = np.diff(traj, axis=0)[inner]
    assert np.std(steps) == pytest.approx(0.3, rel=0.05)
    np.testing.assert_array_equal(traj[0], [0.0, 0.0])


# --- shift and crop --------------------------------------------------------------------------------


def test_shift_crop_integer_shift_is_a_slice_and_linear_ramp_is_exact():
    rng = np.random.default_rng(0)
    canvas = rng.random((30, 34)).astype(np.float32)
    out = shift_crop(canvas, 2.0, -3.0, 5, (20, 24))
    np.testing.assert_array_equal(out, canvas[3:23, 8:32])
    yy, xx = np.mgrid[0:30, 0:34].astype(np.float32)
    ramp = 2 * yy + 0.5 * xx
    moved = shift_crop(ramp, 0.25, -1.75, 5, (20, 24))
    expect = 2 * (yy[5:25, 5:29] - 0.25) + 0.5 * (xx[5:25, 5:29] + 1.75)
    np.testing.assert_allclose(moved, expect, atol=1e-4)


def test_shift_crop_refuses_a_shift_beyond_the_margin():
    with pytest.raises(ValueError, match="motion margin"):
        shift_crop(np.zeros((30, 30), np.float32), 6.0, 0.0, 5, (20, 20))


@pytest.mark.filterwarnings("ignore::minisim.SpecWarning")
def test_positive_shift_moves_content_down_and_right_by_the_ground_truth():
    traj = [(0.0, 0.0), (3.0, 0.0), (0.0, -2.5), (1.25, 2.75)]
    spec = ms.Spec(
        acquisition=ms.Acquisition(
            duration_s=0.2, image_sensor=ms.ImageSensor(n_px_height=40, n_px_width=40, pixel_pitch_um=8.0)
        ),
        steps=[
            ms.PlaceNeurons(positions_um=[(10.0, -3.0, 4.0)], soma_radius_um=3.0, irregularity=0.0),
            ms.CellActivity(),
            ms.Composite(),
            ms.BrainMotion(trajectory_um=traj, max_shift_um=4.0),
        ],
    )
    rec = ms.simulate(spec)
    np.testing.assert_allclose(rec.ground_truth.shifts, np.asarray(traj) / 1.0)
    movie = rec.observed.values
    yy, xx = np.mgrid[0:40, 0:40]
    centroid = np.array([[(f * yy).sum() / f.sum(), (f * xx).sum() / f.sum()] for f in movie])
    np.testing.assert_allclose(centroid - centroid[0], np.asarray(traj), atol=1e-3)


def test_margin_is_sized_from_max_shift_or_the_trajectory():
    assert ms.BrainMotion(max_shift_um=15.0).margin_px(1.655) == 11  # ceil(9.06) + 1
    assert ms.BrainMotion(model="walk", max_shift_um=4.0).margin_px(1.0) == 5
    assert ms.BrainMotion(trajectory_um=[(0.0, 0.0), (2.5, -1.0)], max_shift_um=15.0).margin_px(1.0) == 4
    spec = motion_spec(ms.BrainMotion(motion_amplitude_um=3.0, max_shift_um=4.5), duration_s=0.1)
    rec = ms.simulate(spec)
    assert rec.margin_px == 6
    assert rec.stage("cells_only").shape[1:] == (48 + 12, 48 + 12)
    assert rec.observed.shape[1:] == (48, 48)


def test_phase_correlation_recovers_ground_truth_shifts_on_a_textured_recording():
    spec = motion_spec(ms.BrainMotion(motion_amplitude_um=3.0, max_shift_um=4.5), n_px=96, duration_s=2.0)
    rec = ms.simulate(spec)
    movie = rec.observed.values.astype(np.float32)
    gt = rec.ground_truth.shifts
    assert np.abs(gt).max() > 1.5  # real, sub-pixel-rich motion
    window = cv2.createHanningWindow(movie.shape[1:][::-1], cv2.CV_32F)
    # cv2.phaseCorrelate windows its inputs in place: hand it copies.
    est = np.array([cv2.phaseCorrelate(movie[0].copy(), f.copy(), window)[0][::-1] for f in movie])
    rms = np.sqrt(np.mean(np.sum((est - (gt - gt[0])) ** 2, axis=1)))
    assert rms < 0.3


def test_motion_is_chunk_invariant():
    spec = motion_spec(ms.BrainMotion(model="walk", walk_step_um=1.0, max_shift_um=4.0), duration_s=1.0)
    ref = ms.simulate(spec, chunk_frames=64).observed.values
    for chunk in (1, 7):
        np.testing.assert_array_equal(ms.simulate(spec, chunk_frames=chunk).observed.values, ref)


# --- Spec-time refusals and warnings ---------------------------------------------------------------


def test_trajectory_of_wrong_length_is_refused_at_spec_construction():
    with pytest.raises(pydantic.ValidationError, match=r"trajectory_um has 3 rows but the acquisition has 20 frames"):
        motion_spec(ms.BrainMotion(trajectory_um=[(0.0, 0.0)] * 3), duration_s=1.0)


def test_trajectory_beyond_max_shift_is_refused_with_the_needed_value():
    with pytest.raises(pydantic.ValidationError) as err:
        ms.BrainMotion(trajectory_um=[(0.0, 0.0), (12.0, 16.0)], max_shift_um=15.0)
    text = str(err.value)
    assert "20 um" in text and "max_shift_um" in text and "fix:" in text


def test_amplitude_above_max_shift_is_refused_for_the_physical_model():
    with pytest.raises(pydantic.ValidationError, match=r"motion_amplitude_um = 20\.0 um exceeds max_shift_um = 15\.0"):
        ms.BrainMotion(motion_amplitude_um=20.0)
    ms.BrainMotion(model="walk", motion_amplitude_um=20.0)  # the walk ignores the amplitude


def test_trajectory_accepts_arrays_and_rejects_bad_shapes():
    step = ms.BrainMotion(trajectory_um=np.zeros((5, 2)))
    assert len(step.trajectory_um) == 5
    with pytest.raises(pydantic.ValidationError, match=r"\(n_frames, 2\)"):
        ms.BrainMotion(trajectory_um=np.zeros((5, 3)))
    with pytest.raises(pydantic.ValidationError, match="NaN"):
        ms.BrainMotion(trajectory_um=[(0.0, float("nan"))])


def test_motion_larger_than_five_percent_of_the_fov_warns():
    acq = ms.Acquisition(duration_s=0.5, image_sensor=ms.ImageSensor(n_px_height=64, n_px_width=64, pixel_pitch_um=8.0))
    steps = [ms.PlaceNeurons(depth_range_um=(0, 20)), ms.CellActivity(), ms.Composite()]
    with pytest.warns(ms.SpecWarning, match="brain motion extent"):
        ms.Spec(acquisition=acq, steps=[*steps, ms.BrainMotion(motion_amplitude_um=5.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ms.SpecWarning)
        ms.Spec(acquisition=acq, steps=[*steps, ms.BrainMotion(motion_amplitude_um=3.0, max_shift_um=3.0)])


def test_explicit_trajectory_survives_a_json_round_trip():
    traj = np.column_stack([np.linspace(0, 2, 20), np.linspace(0, -1.5, 20)])
    spec = motion_spec(ms.BrainMotion(trajectory_um=traj, max_shift_um=3.0), duration_s=1.0)
    again = ms.Spec.from_json(spec.to_json())
    assert again == spec and again.cache_key() == spec.cache_key()
    np.testing.assert_array_equal(np.asarray(again.step("brain_motion").trajectory_um), traj)
