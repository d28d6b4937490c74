"""Photobleaching: exact ODE solution, illumination and motion coupling, effect on the movie."""

from __future__ import annotations

import math

import numpy as np
import pydantic
import pytest

import minisim as ms
from minisim.steps.bleaching import bleaching_floor, bleaching_pool, dark_recovery


def _spec(*extra: ms.StepSpec, duration_s: float = 2.0, n_px: int = 48, seed: int = 0) -> ms.Spec:
    return ms.Spec(
        acquisition=ms.Acquisition(
            duration_s=duration_s,
            image_sensor=ms.ImageSensor(n_px_height=n_px, n_px_width=n_px, pixel_pitch_um=8.0),
            focal_depth_in_tissue_um=50.0,
        ),
        seed=seed,
        steps=[
            ms.PlaceNeurons(density_per_mm3=60_000, soma_radius_um=5.0, depth_range_um=(40.0, 60.0)),
            ms.CellActivity(p_quiescent_to_active=0.05),
            ms.CellOptics(),
            ms.Composite(),
            *extra,
        ],
    )


def _reference_loop(emission: np.ndarray, q: float, k: float, intensity: np.ndarray) -> np.ndarray:
    """The per-frame exact step of minisim 1.0, written out as a loop (test oracle)."""
    out = np.empty_like(emission)
    for i in range(emission.shape[0]):
        b = 1.0
        for t in range(emission.shape[1]):
            out[i, t] = b
            lam = k + q * intensity[i, t] * emission[i, t]
            b = k / lam + (b - k / lam) * math.exp(-lam)
    return out


def test_constant_drive_follows_the_analytic_exponential_to_the_floor():
    # lam = 0.05/frame: 2000 frames span several closed-form blocks and ~100 e-folds.
    q, k, intensity, e = 0.01, 1e-3, 0.7, 7.0
    T = 2000
    B = bleaching_pool(np.full((2, T), e), q, k, intensity)
    floor = bleaching_floor(q, intensity, e, 1 / k)
    t = np.arange(T)
    analytic = floor + (1 - floor) * np.exp(-(k + q * intensity * e) * t)
    assert np.max(np.abs(B - analytic)) < 1e-6
    assert floor == pytest.approx(k / (k + q * intensity * e), rel=1e-15)
    assert B[0, -1] == pytest.approx(floor, rel=1e-9)


@pytest.mark.parametrize("q", [1e-6, 0.02, 3.0, 80.0])
def test_block_solution_matches_the_per_frame_recurrence(q):
    rng = np.random.default_rng(1)
    e = rng.gamma(2.0, 3.0, (4, 700))
    intensity = rng.uniform(0.2, 1.0, (4, 700))
    B = bleaching_pool(e, q, 2e-3, intensity)
    assert np.max(np.abs(B - _reference_loop(e, q, 2e-3, intensity))) < 1e-10


def test_floor_and_dark_recovery_formulas():
    assert bleaching_floor(0.0, 1.0, 5.0, 100.0) == 1.0
    assert bleaching_floor(1e-3, 1.0, 5.0, math.inf) == 0.0
    assert bleaching_floor(1e-3, 2.0, 5.0, 100.0) == pytest.approx(0.01 / (0.01 + 1e-2))
    t = np.array([0.0, 10.0, 1e9])
    np.testing.assert_allclose(dark_recovery(0.4, t, 10.0), [0.4, 1 - 0.6 * math.exp(-1), 1.0])
    with pytest.raises(ValueError, match="tau_turn"):
        dark_recovery(0.5, 1.0, 0.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        bleaching_floor(-1.0, 1.0, 1.0, 1.0)


def test_bleaching_dims_late_frames_and_leaves_ground_truth_c_unbleached():
    clean = ms.simulate(_spec())
    bleached = ms.simulate(_spec(ms.Bleaching(bleach_susceptibility=0.5)))
    gt = bleached.ground_truth
    np.testing.assert_array_equal(gt.C, clean.ground_truth.C)
    assert gt.bleaching.shape == gt.C.shape
    # B only falls, except that turnover refills it by at most k_turn (1 - B) per frame once near its floor.
    k_turn = 1.0 / (ms.Bleaching().turnover_tau_s * bleached.spec.acquisition.fps)
    assert np.all(np.diff(gt.bleaching.astype(float), axis=1) <= k_turn * (1 - gt.bleaching[:, :-1]) + 1e-7)
    assert (gt.bleaching[:, -1] < 0.5 * gt.bleaching[:, 0]).all()
    movie = bleached.stage("cells_only").values.astype(float)
    ref = clean.stage("cells_only").values.astype(float)
    q = movie.shape[0] // 4
    # Same cells and activity: the bleached / clean brightness ratio falls from early to late frames.
    early, late = movie[:q].sum() / ref[:q].sum(), movie[-q:].sum() / ref[-q:].sum()
    assert early < 1.0
    assert late < 0.6 * early


def test_step_uses_per_second_rates_and_the_illumination_at_each_cell():
    illum = ms.IlluminationProfile(falloff=0.05, exponent=1.0)
    step = ms.Bleaching(bleach_susceptibility=0.3, turnover_tau_s=5.0, excitation_intensity=0.8)
    rec = ms.simulate(_spec(step, illum, n_px=64))
    gt = rec.ground_truth
    fps = rec.spec.acquisition.fps
    field = gt.illumination
    intensity = 0.8 * ms.sample_field_at(field, gt.centers_um[:, 1], gt.centers_um[:, 2], gt.pixel_size_um)
    expected = _reference_loop(gt.C, 0.3 / fps, 1 / (5.0 * fps), np.repeat(intensity[:, None], gt.C.shape[1], 1))
    np.testing.assert_allclose(gt.bleaching, expected, rtol=0, atol=1e-10)
    assert intensity.min() < 0.7 * intensity.max()  # the dose really varies across the field


@pytest.mark.filterwarnings("ignore::minisim.SpecWarning")
def test_follow_motion_samples_the_illumination_along_the_trajectory():
    n_frames = 40
    trajectory = [(0.0, 12.0 * t / (n_frames - 1)) for t in range(n_frames)]
    motion = ms.BrainMotion(trajectory_um=trajectory, max_shift_um=15.0)
    illum = ms.IlluminationProfile(falloff=0.1, exponent=1.0)
    follow = ms.simulate(_spec(ms.Bleaching(bleach_susceptibility=0.3), illum, motion))
    rest = ms.simulate(_spec(ms.Bleaching(bleach_susceptibility=0.3, follow_motion=False), illum, motion))
    gt = follow.ground_truth
    px = gt.pixel_size_um
    shifts_um = np.asarray(gt.shifts) * px
    y = gt.centers_um[:, 1:2] + shifts_um[None, :, 0]
    x = gt.centers_um[:, 2:3] + shifts_um[None, :, 1]
    intensity = ms.sample_field_at(gt.illumination, y, x, px)
    fps = follow.spec.acquisition.fps
    expected = _reference_loop(gt.C, 0.3 / fps, 1 / (20_000.0 * fps), intensity)
    np.testing.assert_allclose(gt.bleaching, expected, rtol=0, atol=1e-10)
    assert np.max(np.abs(gt.bleaching - rest.ground_truth.bleaching)) > 1e-3


def test_zero_susceptibility_is_exactly_unbleached():
    rec = ms.simulate(_spec(ms.Bleaching(bleach_susceptibility=0.0)))
    np.testing.assert_allclose(rec.ground_truth.bleaching, 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [("bleach_susceptibility", -1e-6, "1/s"), ("turnover_tau_s", 0.0, "s"), ("excitation_intensity", -0.5, ">= 0")],
)
def test_bad_bleaching_input_names_value_unit_and_fix(field, value, needle):
    with pytest.raises(pydantic.ValidationError) as info:
        ms.Bleaching(**{field: value})
    text = str(info.value)
    assert field in text and repr(value) in text and needle in text and "fix" in text
