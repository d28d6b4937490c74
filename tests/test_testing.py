"""minisim.testing: the make_recording fixture and the score/Estimate/Report scorecard."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import xarray as xr

import minisim as ms
from minisim.testing import Estimate, Report, grid_positions_um, make_recording, make_spec, score


@pytest.fixture(scope="module")
def still() -> ms.Recording:
    return make_recording(n_px=64, n_cells=4, seed=1)


@pytest.fixture(scope="module")
def moving() -> ms.Recording:
    return make_recording(n_px=64, n_cells=4, seed=2, motion=True)


def perfect(gt: ms.GroundTruth, **changes) -> Estimate:
    fields = {"A": gt.A_observed, "C": gt.C, "S": gt.S, "shifts": None if gt.shifts is None else -gt.shifts}
    return Estimate(**{**fields, **changes})


# ---------------------------------------------------------------- make_recording


def test_defaults_follow_minisim_1_0():
    rec = make_recording()
    gt = rec.ground_truth
    movie = rec.observed_movie
    assert isinstance(movie, xr.DataArray) and movie.dims == ("frame", "height", "width")
    assert movie.shape == (40, 128, 128) and movie.dtype == np.uint8
    assert gt.n_units == 6 and gt.pixel_size_um == pytest.approx(1.0)
    assert np.allclose(gt.depth_um, 50.0)
    assert gt.shifts is None
    kinds = [s.kind for s in rec.spec.steps]
    assert kinds == ["place_neurons", "cell_activity", "optics", "composite", "sensor"]
    assert rec.spec.step("cell_activity").p_quiescent_to_active == 0.05
    assert rec.spec.step("sensor").photons_per_unit == 40


def test_cells_sit_on_a_separated_grid_in_the_central_70_percent():
    pos = np.array(grid_positions_um(9, 100.0, 30.0, seed=4))
    assert pos.shape == (9, 3) and np.allclose(pos[:, 0], 30.0)
    assert np.abs(pos[:, 1:]).max() <= 35.0  # half of 70% of 100 um
    spacing = 70.0 / 3
    d = np.hypot(*(pos[:, None, 1:] - pos[None, :, 1:]).transpose(2, 0, 1))
    assert d[~np.eye(9, dtype=bool)].min() >= (1 - 2 * 0.15) * spacing - 1e-9
    assert grid_positions_um(9, 100.0, 30.0, seed=4) == grid_positions_um(9, 100.0, 30.0, seed=4)
    assert grid_positions_um(9, 100.0, 30.0, seed=5) != grid_positions_um(9, 100.0, 30.0, seed=4)


def test_recording_is_deterministic_and_seeded(still):
    again = make_recording(n_px=64, n_cells=4, seed=1)
    assert np.array_equal(again.observed_movie.values, still.observed_movie.values)
    assert np.array_equal(again.ground_truth.centers_um, still.ground_truth.centers_um)
    other = make_recording(n_px=64, n_cells=4, seed=3)
    assert not np.array_equal(other.ground_truth.centers_um, still.ground_truth.centers_um)


def test_cell_count_pixel_size_and_bad_count():
    rec = make_recording(n_cells=3, n_px=48, pixel_size_um=2.0, duration_s=1.0, fps=10.0)
    assert rec.ground_truth.n_units == 3
    assert rec.ground_truth.pixel_size_um == pytest.approx(2.0)
    assert rec.spec.acquisition.optics.magnification == pytest.approx(4.0)
    assert rec.observed_movie.shape == (10, 48, 48)
    with pytest.raises(ValueError, match="n_cells"):
        make_recording(n_cells=0)


def test_cells_are_bright_unsaturated_and_nearly_all_detectable():
    # Statistical promise over seeds (a cell silent for the whole 2 s is honestly undetectable).
    detectable, saturated = [], []
    for seed in range(5):
        rec = make_recording(n_px=96, seed=seed)
        movie = rec.observed_movie.values
        detectable.append(rec.ground_truth.detectable.mean())
        saturated.append((movie == 255).mean())
        assert movie.max() > 100  # bright enough to see
    assert np.mean(detectable) >= 0.8
    assert max(saturated) < 1e-3


def test_motion_gives_shifts_and_a_field_of_view_movie(moving):
    gt = moving.ground_truth
    assert gt.shifts is not None and gt.shifts.shape == (40, 2)
    assert np.abs(gt.shifts).max() > 1.0
    assert moving.observed_movie.shape == (40, 64, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_spec(n_px=64, motion=True)  # the fixture's own motion does not warn


@pytest.mark.filterwarnings("ignore:brain motion extent:minisim.SpecWarning")
def test_minian_style_motion_via_extra_steps():
    walk = ms.BrainMotion(model="walk", walk_step_um=0.5, max_shift_um=4.0)
    rec = make_recording(n_px=64, n_cells=4, extra_steps=[walk])
    shifts = rec.ground_truth.shifts
    assert shifts is not None and np.hypot(*shifts.T).max() <= 4.0 + 1e-9
    traj = np.column_stack([np.linspace(0, 3, 40), np.linspace(0, -2, 40)])
    rec = make_recording(
        n_px=64,
        n_cells=4,
        pixel_size_um=2.0,
        motion=True,
        extra_steps=[ms.BrainMotion(trajectory_um=traj, max_shift_um=5.0)],
    )
    assert [s.kind for s in rec.spec.steps].count("brain_motion") == 1
    assert np.allclose(rec.ground_truth.shifts, traj / 2.0)


def test_overrides_population_activity_sensor_and_intermediates():
    pop = ms.NeuronPopulation(density_per_mm3=40_000, soma_radius_um=5.0, depth_range_um=(40.0, 60.0))
    rec = make_recording(
        n_px=64,
        population=pop,
        activity=ms.CellActivity(p_quiescent_to_active=0.2),
        sensor=ms.Sensor(photons_per_unit=80),
        save_intermediates=True,
    )
    assert rec.spec.step("place_neurons").populations == [pop]
    assert rec.spec.step("cell_activity").p_quiescent_to_active == 0.2
    assert rec.spec.step("sensor").photons_per_unit == 80
    assert list(rec.snapshots) == ["cells_only", "sensor"]


def test_crowded_grid_warns():
    with pytest.warns(ms.SpecWarning, match="somata may touch"):
        make_spec(n_cells=100, n_px=32)


# ---------------------------------------------------------------- Estimate


def test_estimate_spellings():
    a, c, s = np.ones((1, 4, 4)), np.ones((1, 5)), np.zeros((1, 5))
    long = Estimate(footprints=a, traces=c, activity=s)
    assert long.A is a and long.C is c and long.S is s and long.shifts is None
    short = Estimate(a, c, s, np.zeros((5, 2)))
    assert short.shifts.shape == (5, 2)
    with pytest.raises(TypeError, match="both A= and footprints="):
        Estimate(A=a, footprints=a)
    with pytest.raises(TypeError, match="both C= and traces="):
        Estimate(A=a, C=c, traces=c)
    with pytest.raises(TypeError, match="needs footprints"):
        Estimate(C=c)
    with pytest.raises(dataclasses.FrozenInstanceError):
        short.A = a  # type: ignore[misc]


# ---------------------------------------------------------------- score


def test_perfect_estimate_scores_perfect(moving):
    gt = moving.ground_truth
    report = score(perfect(gt.detectable_subset()), moving)
    assert isinstance(report, Report)
    assert (report.recall, report.precision, report.f1, report.mean_overlap) == (1.0, 1.0, 1.0, 1.0)
    assert report.trace_corr == pytest.approx(1.0)
    assert report.activity_corr == pytest.approx(1.0) and report.activity_variance_explained == pytest.approx(1.0)
    assert report.activity_scale == pytest.approx(1.0)
    assert report.shift_rmse == pytest.approx(0.0, abs=1e-12)
    assert report.n_requested == gt.n_units and report.n_detectable == int(gt.detectable.sum())
    assert report.footprint_shift == (0, 0)


def test_empty_estimate_scores_zero_not_nan(still):
    gt = still.ground_truth
    for A in (np.zeros((0, 64, 64)), []):
        report = score(Estimate(A=A, C=np.zeros((0, 40)), S=np.zeros((0, 40))), gt)
        assert report.n_est == 0 and report.n_matched == 0
        assert (report.recall, report.precision, report.f1, report.mean_overlap) == (0.0, 0.0, 0.0, 0.0)
        assert (report.trace_corr, report.activity_corr) == (0.0, 0.0)
    missing = score(Estimate(A=gt.A_observed), gt)
    assert np.isnan(missing.trace_corr) and np.isnan(missing.activity_corr)
    assert missing.shift_rmse is None  # no motion in this recording


def test_partial_and_junk_estimates_set_the_denominators(still):
    gt = still.ground_truth
    everyone = dataclasses.replace(gt, detectable=np.ones(gt.n_units, bool))
    half = score(Estimate(A=gt.A_observed[:2]), everyone)
    assert half.recall == pytest.approx(2 / gt.n_units) and half.precision == 1.0
    junk = np.zeros((2, 64, 64))
    junk[:, :3, :3] = 1.0
    padded = score(Estimate(A=np.concatenate([gt.A_observed, junk])), everyone)
    assert padded.recall == 1.0 and padded.precision == pytest.approx(gt.n_units / (gt.n_units + 2))
    assert padded.f1 == pytest.approx(2 * padded.precision / (1 + padded.precision))


def test_restrict_to_detectable_and_found_faint_cells(still):
    gt = still.ground_truth
    flags = np.ones(gt.n_units, bool)
    flags[0] = False
    one_faint = dataclasses.replace(gt, detectable=flags)
    report = score(perfect(gt), one_faint, found_undetectable="ignore")
    assert report.n_true == gt.n_units - 1 and report.n_detectable == gt.n_units - 1
    assert report.recall == 1.0 and report.precision == 1.0  # finding the faint cell is no false positive
    # minisim 1.0's rule (the default): matching sees only the detectable cells, so the faint one is a false positive.
    like_1_0 = score(perfect(gt), one_faint)
    assert like_1_0.n_true == gt.n_units - 1 and like_1_0.n_est == gt.n_units and like_1_0.recall == 1.0
    assert like_1_0.precision == pytest.approx((gt.n_units - 1) / gt.n_units)
    with pytest.raises(ValueError, match="found_undetectable"):
        score(perfect(gt), one_faint, found_undetectable="maybe")  # type: ignore[arg-type]
    everyone = score(perfect(gt), one_faint, restrict_to_detectable=False)
    assert everyone.n_true == gt.n_units and everyone.recall == 1.0


def test_shifted_footprints_are_rescued_by_auto(still):
    gt = still.ground_truth
    moved = Estimate(A=np.roll(gt.A_observed, (4, -3), axis=(1, 2)), C=gt.C)
    assert score(moved, gt, footprint_shift=None).recall < 0.5
    rescued = score(moved, gt)
    assert rescued.footprint_shift == (-4, 3) and rescued.recall == 1.0 and rescued.trace_corr == pytest.approx(1.0)
    assert score(moved, gt, footprint_shift=(-4, 3)).recall == 1.0


def test_trajectory_offset_places_footprints_from_a_registered_movie(moving):
    gt = moving.ground_truth
    b = (2, -3)  # the pipeline registered to a template displaced by b
    est = Estimate(A=np.roll(gt.A_observed, b, axis=(1, 2)), shifts=-gt.shifts + np.array(b, float))
    report = score(est, gt)
    assert report.footprint_shift == (-2, 3) and report.recall == 1.0
    assert report.shift_rmse == pytest.approx(0.0, abs=1e-12)  # a template offset is not motion error
    assert score(Estimate(A=gt.A_observed), gt).shift_rmse is None  # no estimate of motion: None, as in 1.0


def test_scaled_activity_and_minian_dataarrays(moving):
    gt = moving.ground_truth
    units = np.arange(gt.n_units)
    A = xr.DataArray(gt.A_observed, dims=("unit_id", "height", "width"), coords={"unit_id": units})
    C = xr.DataArray(gt.C.T, dims=("frame", "unit_id"))
    S = xr.DataArray(4.0 * gt.S, dims=("unit_id", "frame"))
    motion = xr.DataArray(-gt.shifts, dims=("frame", "shift_dim"), coords={"shift_dim": ["height", "width"]})
    report = score(Estimate(A=A, C=C, S=S, shifts=motion), gt, match_metric="cosine")
    assert report.recall == 1.0 and report.trace_corr == pytest.approx(1.0)
    assert report.activity_corr == pytest.approx(1.0) and report.activity_scale == pytest.approx(0.25)
    assert report.shift_rmse == pytest.approx(0.0, abs=1e-12) and report.match_metric == "cosine"


def test_summary_is_readable(moving):
    text = score(perfect(moving.ground_truth.detectable_subset()), moving).summary()
    assert len(text.splitlines()) == 5  # 1.0's layout: cells, population, traces, activity, motion
    assert text.startswith("cells: recall=1.00 precision=1.00 f1=1.00")
    assert "recall denominator" in text and "motion: RMSE=0.00 px (offset-aligned)" in text


def test_report_defaults_are_1_0s():
    fields = {f.name: f for f in dataclasses.fields(Report)}
    assert fields["match_metric"].default == "iou" and fields["footprint_shift"].default == (0, 0)


def test_estimate_spelled_out_attributes(still):
    gt = still.ground_truth
    est = Estimate(footprints=gt.A_observed, traces=gt.C, activity=gt.S)
    assert est.footprints is est.A and est.traces is est.C and est.activity is est.S
    with pytest.raises(TypeError, match="both A= and footprints="):
        Estimate(A=gt.A_observed, footprints=gt.A_observed)


def test_score_aligns_minian_units_by_label_and_refuses_mismatches(moving):
    gt = moving.ground_truth.detectable_subset()
    n = gt.n_units
    units = np.arange(100, 100 + n)
    A = xr.DataArray(gt.A_observed, dims=("unit_id", "height", "width"), coords={"unit_id": units})
    order = np.roll(np.arange(n), 1)  # update_temporal reorders units
    C = xr.DataArray(gt.C[order], dims=("unit_id", "frame"), coords={"unit_id": units[order]})
    S = xr.DataArray(gt.S[order], dims=("unit_id", "frame"), coords={"unit_id": units[order]})
    report = score(Estimate(A=A, C=C, S=S), gt)
    assert report.trace_corr == pytest.approx(1.0) and report.activity_corr == pytest.approx(1.0)
    # Positional pairing of the reordered traces would be wrong: the plain-array score shows it.
    assert score(Estimate(A=A.values, C=C.values), gt).trace_corr < 0.9
    fewer = C.isel(unit_id=slice(1, None))
    with pytest.raises(ValueError, match="unit_id labels that differ"):
        score(Estimate(A=A, C=fewer), gt)


def test_roi_traces_stream_from_the_lazy_observed_movie(moving):
    lazy = moving.observed_movie  # dask-backed DataArray
    A = moving.ground_truth.A_observed
    streamed = ms.footprint_roi_trace(lazy, A)
    assert streamed.shape == (len(A), 40)
    assert np.allclose(streamed, ms.footprint_roi_trace(lazy.values, A))
