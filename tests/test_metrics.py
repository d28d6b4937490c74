"""Metrics on controlled perturbations: identity, known shifts, scale, empty and constant inputs."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from dask.callbacks import Callback

import minisim as ms
from minisim.metrics import SpikeScore, spike_timing
from minisim.metrics.traces import match_events

H = W = 48


def disk(r0: float, c0: float, radius: float, shape=(H, W)) -> np.ndarray:
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    d2 = (rr - r0) ** 2 + (cc - c0) ** 2
    return np.exp(-d2 / (2 * (radius / 2) ** 2)) * (d2 <= radius**2)


@pytest.fixture
def A() -> np.ndarray:  # noqa: N802 - the ground truth's name for footprints
    """Five graded, non-overlapping footprints on an irregular layout."""
    centers = [(8, 9), (10, 30), (24, 18), (33, 38), (39, 8)]
    return np.stack([disk(r, c, 5) for r, c in centers])


# ---------------------------------------------------------------- matching


@pytest.mark.parametrize("metric", ["iou", "cosine", "weighted_jaccard"])
def test_identity_matches_every_unit_with_similarity_one(A, metric):
    m = ms.hungarian_match(A, A, metric=metric)
    assert m.pairing == tuple((i, i) for i in range(5))
    assert m.recall() == m.precision() == m.f1() == 1.0
    assert m.mean_similarity == pytest.approx(1.0)
    assert np.allclose(np.diag(m.similarity_matrix), 1.0)
    assert m.similarity_matrix.shape == (5, 5)


def test_shuffled_estimate_is_paired_back(A):
    order = np.array([3, 0, 4, 1, 2])
    m = ms.hungarian_match(A[order], A)
    assert {(int(e), int(t)) for e, t in m.pairing} == {(i, int(order[i])) for i in range(5)}


def test_disjoint_and_extra_units(A):
    m = ms.hungarian_match(A[:2], A[2:])
    assert len(m.pairing) == 0 and m.recall() == 0.0 and m.precision() == 0.0 and m.mean_similarity == 0.0
    m = ms.hungarian_match(A, A[:3])  # two extra estimates
    assert m.recall() == 1.0 and m.precision() == pytest.approx(3 / 5)
    m = ms.hungarian_match(A[:3], A)  # two missed cells
    assert m.recall() == pytest.approx(3 / 5) and m.precision() == 1.0


def test_empty_inputs_give_zero_not_nan(A):
    empty = np.zeros((0, H, W))
    for m in (ms.hungarian_match(empty, A), ms.hungarian_match(A, empty), ms.hungarian_match(empty, empty)):
        assert m.recall() == 0.0 and m.precision() == 0.0 and m.f1() == 0.0 and m.mean_similarity == 0.0
    assert ms.hungarian_match(empty, A, shift="auto").recall() == 0.0


def test_iou_of_half_overlapping_squares_is_one_third():
    a = np.zeros((1, H, W))
    b = np.zeros((1, H, W))
    a[0, 10:20, 10:20] = 1
    b[0, 10:20, 15:25] = 1  # 50 shared of 150 covered pixels
    m = ms.hungarian_match(a, b, energy_frac=1.0)
    assert m.similarity_matrix[0, 0] == pytest.approx(1 / 3)
    assert len(m.matched_pairs(0.3)) == 1 and len(m.matched_pairs(0.5)) == 0
    assert m.recall(0.3) == 1.0 and m.recall(0.5) == 0.0
    assert m.iou_matrix is m.similarity_matrix and m.mean_iou == m.mean_similarity


def test_energy_mask_ignores_a_faint_halo():
    core = np.zeros((1, H, W))
    core[0, 20:24, 20:24] = 10.0  # 160 of the weight
    halo = core.copy()
    halo[0, 10:34, 10:34] += 0.01  # 576 px carrying ~3.6% of the weight
    assert ms.hungarian_match(halo, core).similarity_matrix[0, 0] == pytest.approx(1.0)
    assert ms.hungarian_match(halo, core, energy_frac=1.0).similarity_matrix[0, 0] == pytest.approx(16 / 576)


def test_cosine_and_weighted_jaccard_are_scale_invariant_and_known():
    a = np.zeros((1, 4, 4))
    b = np.zeros((1, 4, 4))
    a[0, 0, :3] = [1, 1, 0]
    b[0, 0, :3] = [0, 1, 1]
    assert ms.hungarian_match(7 * a, a, metric="cosine").similarity_matrix[0, 0] == pytest.approx(1.0)
    assert ms.hungarian_match(7 * a, a, metric="weighted_jaccard").similarity_matrix[0, 0] == pytest.approx(1.0)
    assert ms.hungarian_match(a, b, metric="cosine").similarity_matrix[0, 0] == pytest.approx(0.5)
    # unit-sum rows [.5, .5, 0] and [0, .5, .5]: sum(min) = .5, sum(max) = 1.5
    assert ms.hungarian_match(a, b, metric="weighted_jaccard").similarity_matrix[0, 0] == pytest.approx(1 / 3)


def test_negative_values_are_clipped(A):
    noisy = A - 0.05  # negative everywhere outside the cells
    assert ms.hungarian_match(noisy, A, metric="cosine").mean_similarity > 0.99


def test_bad_arguments_raise(A):
    with pytest.raises(ValueError, match="metric"):
        ms.hungarian_match(A, A, metric="dice")
    with pytest.raises(ValueError, match="energy_frac"):
        ms.hungarian_match(A, A, energy_frac=0)
    with pytest.raises(ValueError, match="shift"):
        ms.hungarian_match(A, A, shift="guess")
    with pytest.raises(ValueError, match="share a frame"):
        ms.hungarian_match(A, A[:, :40])


def test_known_shift_is_undone_by_explicit_and_auto_shift(A):
    moved = np.roll(A, (3, -2), axis=(1, 2))
    assert ms.hungarian_match(moved, A).recall() == 0.0
    forced = ms.hungarian_match(moved, A, shift=(-3.2, 1.9))  # rounded to (-3, 2)
    assert forced.shift == (-3, 2) and forced.recall() == 1.0 and forced.mean_similarity == pytest.approx(1.0)
    auto = ms.hungarian_match(moved, A, shift="auto")
    assert auto.shift == (-3, 2) and auto.recall() == 1.0


def test_auto_shift_on_a_periodic_grid_and_with_missing_cells():
    centers = [(r, c) for r in (10, 24, 38) for c in (10, 24, 38)]  # periodic: decoys at +-14 px
    truth = np.stack([disk(r, c, 4) for r, c in centers])
    est = np.roll(truth[[0, 1, 2, 4, 5, 7]], (5, 4), axis=(1, 2))
    m = ms.hungarian_match(est, truth, shift="auto")
    assert m.shift == (-5, -4)
    assert m.precision() == 1.0 and m.recall() == pytest.approx(6 / 9)


def test_auto_keeps_no_shift_when_shifting_does_not_help(A):
    m = ms.hungarian_match(A, A, shift="auto")
    assert m.shift == (0, 0) and m.mean_similarity == pytest.approx(1.0)


def test_xarray_and_dask_inputs_match_numpy(A):
    ref = ms.hungarian_match(A, A[::-1], metric="weighted_jaccard").similarity_matrix
    xa = xr.DataArray(np.moveaxis(A, 0, -1), dims=("height", "width", "unit_id"))  # unit last: put first
    dk = da.from_array(A[::-1], chunks=(2, H, W))
    got = ms.hungarian_match(xa, dk, metric="weighted_jaccard").similarity_matrix
    assert np.allclose(got, ref)


# ---------------------------------------------------------------- traces


def traces(n=4, t=200, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(size=(n, t)), axis=1)


def test_trace_pearson_identity_anticorrelation_and_constant():
    C = traces()
    assert np.allclose(ms.trace_pearson(C, C, np.c_[np.arange(4), np.arange(4)]), 1.0)
    assert np.allclose(ms.trace_pearson(-3 * C + 5, C), -1.0)
    C2 = C.copy()
    C2[1] = 0.1
    r = ms.trace_pearson(C2, C)
    assert np.isnan(r[1]) and np.allclose(r[[0, 2, 3]], 1.0)
    assert ms.trace_pearson(C, C, np.zeros((0, 2), int)).shape == (0,)


def test_trace_pearson_follows_the_pairing_and_a_match(A):
    C = traces(n=5)
    order = np.array([3, 0, 4, 1, 2])
    m = ms.hungarian_match(A[order], A)
    assert np.allclose(ms.trace_pearson(C[order], C, m), 1.0)
    with pytest.raises(ValueError, match="out of range"):
        ms.trace_pearson(C, C, [[0, 7]])
    with pytest.raises(ValueError, match="same frames"):
        ms.trace_pearson(C[:, :100], C)


def test_streamed_dask_traces_match_numpy_even_with_a_large_offset():
    C = traces(t=1000) + 1e6  # naive sums of squares would cancel catastrophically
    est = C + np.random.default_rng(1).normal(size=C.shape)
    ref = np.array([np.corrcoef(e, t)[0, 1] for e, t in zip(est, C, strict=True)])
    got = ms.trace_pearson(da.from_array(est, chunks=(4, 37)), xr.DataArray(C, dims=("unit_id", "frame")))
    assert np.allclose(got, ref, atol=1e-10)
    xt = xr.DataArray(C.T, dims=("frame", "unit_id"))  # minian's (frame, unit) order is accepted
    assert np.allclose(ms.trace_pearson(est, xt), ref, atol=1e-10)


def test_activity_similarity_is_scale_invariant():
    S = np.abs(traces())
    score = ms.activity_similarity(5.0 * S + 2.0, S)
    assert isinstance(score, ms.ActivityScore)
    assert np.allclose(score.correlation, 1.0)
    assert np.allclose(score.variance_explained, 1.0)
    assert np.allclose(score.scale, 0.2)  # truth = 0.2 * estimate + beta


def test_activity_similarity_known_variance_explained_and_edge_cases():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(1, 20000))
    b = a + rng.normal(size=a.shape)  # r**2 = 1/2
    s = ms.activity_similarity(a, b)
    assert s.variance_explained[0] == pytest.approx(0.5, abs=0.02)
    assert s.scale[0] == pytest.approx(1.0, abs=0.03)
    anti = ms.activity_similarity(-a, a)
    assert anti.correlation[0] == pytest.approx(-1.0) and anti.scale[0] == 0.0 and anti.variance_explained[0] == 0.0
    flat_est = ms.activity_similarity(np.zeros_like(a), a)
    assert (flat_est.correlation[0], flat_est.scale[0], flat_est.variance_explained[0]) == (0.0, 0.0, 0.0)
    flat_true = ms.activity_similarity(a, np.ones_like(a))
    assert flat_true.correlation[0] == 0.0 and np.isnan(flat_true.variance_explained[0])


def test_spike_timing_exact_tolerance_and_extra_events():
    true = np.zeros((1, 50))
    true[0, [5, 20, 35]] = [1, 3, 1]  # three events (3 spikes in frame 20 count once)
    assert spike_timing(true, true).f1[0] == 1.0
    late = np.roll(true, 1, axis=1)
    assert spike_timing(late, true, tolerance_frames=1).recall[0] == 1.0
    assert spike_timing(late, true, tolerance_frames=0).recall[0] == 0.0
    extra = true.copy()
    extra[0, [10, 45]] = 0.5
    s = spike_timing(extra, true)
    assert s.recall[0] == 1.0 and s.precision[0] == pytest.approx(3 / 5)
    assert spike_timing(extra, true, threshold=0.6).precision[0] == 1.0
    empty = spike_timing(np.zeros_like(true), true)
    assert (empty.precision[0], empty.recall[0], empty.f1[0]) == (0.0, 0.0, 0.0)
    silent = spike_timing(np.zeros_like(true), np.zeros_like(true))
    assert np.isnan(silent.f1[0]) and silent.pooled() == (0.0, 0.0, 0.0)


def test_spike_matching_is_optimal_not_nearest_first():
    # Nearest-first would pair 2-2 and strand 1 and 3; the optimum pairs 1-2 and 2-3.
    assert match_events(np.array([1, 2]), np.array([2, 3]), 1) == 2
    assert match_events(np.array([0, 10]), np.array([4]), 2) == 0


def test_spike_timing_streams_over_chunk_boundaries():
    rng = np.random.default_rng(5)
    true = (rng.random((3, 400)) < 0.05).astype(float)
    est = np.roll(true, 1, axis=1)  # events cross every chunk edge
    ref = spike_timing(est, true, tolerance_frames=1)
    got = spike_timing(da.from_array(est, chunks=(3, 16)), da.from_array(true, chunks=(3, 16)), tolerance_frames=1)
    assert isinstance(got, SpikeScore)
    assert np.array_equal(got.n_matched, ref.n_matched) and np.allclose(got.f1, ref.f1)


# ---------------------------------------------------------------- motion


def walk(n=60, seed=0) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).normal(0, 0.5, (n, 2)), axis=0)


def test_shift_rmse_identity_offset_and_sign():
    s = walk()
    assert ms.shift_rmse(s, s) == 0.0
    assert ms.shift_rmse(s + np.array([1.0, 2.0]), s) == pytest.approx(np.sqrt(5 / 2))
    assert ms.shift_rmse(s + np.array([1.0, 2.0]), s, align=True) == pytest.approx(0.0, abs=1e-12)
    correction = -s + np.array([3.0, -1.0])  # what a registration pipeline reports, template offset included
    assert ms.shift_rmse(correction, s, correction=True, align=True) == pytest.approx(0.0, abs=1e-12)
    assert ms.shift_rmse(-s, s) == pytest.approx(2 * np.sqrt(np.mean(s**2)))
    assert np.isnan(ms.shift_rmse(np.zeros((0, 2)), np.zeros((0, 2))))
    with pytest.raises(ValueError, match="same frames"):
        ms.shift_rmse(s[:10], s)
    with pytest.raises(ValueError, match=r"\(frame, 2\)"):
        ms.shift_rmse(s[:, :1], s[:, :1])


def test_shift_rmse_accepts_minian_dataarrays_dask_and_ground_truth():
    s = walk()
    minian = xr.DataArray(-s[:, ::-1].T, dims=("shift_dim", "frame"), coords={"shift_dim": ["width", "height"]})
    assert ms.shift_rmse(minian, s, correction=True) == pytest.approx(0.0, abs=1e-12)
    assert ms.shift_rmse(da.from_array(s, chunks=(7, 2)), s) == 0.0
    gt = ms.GroundTruth(fov_shape=(8, 8), fov_offset=(0, 0), pixel_size_um=1.0, planted=None, shifts=s)  # type: ignore[arg-type]
    assert ms.shift_rmse(-s, gt, correction=True) == 0.0
    with pytest.raises(ValueError, match="no motion"):
        ms.shift_rmse(s, ms.GroundTruth(fov_shape=(8, 8), fov_offset=(0, 0), pixel_size_um=1.0, planted=None))  # type: ignore[arg-type]


def test_global_shift_from_trajectories_realigns_footprints(A):
    s = walk()
    assert ms.global_shift_from_trajectories(-s + np.array([6.0, 4.0]), s) == (-6, -4)  # overshooting correction
    assert ms.global_shift_from_trajectories(s + np.array([2.2, -2.8]), s, correction=False) == (2, -3)
    # A pipeline correcting by c = -s + b leaves the tissue (and its footprints) displaced by b.
    b = (3, 2)
    c = -s + np.array(b, float)
    est_A = np.roll(A, b, axis=(1, 2))
    m = ms.hungarian_match(est_A, A, shift=ms.global_shift_from_trajectories(c, s))
    assert m.recall() == 1.0 and m.mean_similarity == pytest.approx(1.0)


# ---------------------------------------------------------------- fields and ROI traces


def test_field_pearson_invariances_and_constant():
    f = np.random.default_rng(0).random((30, 40))
    assert ms.field_pearson(f, f) == pytest.approx(1.0)
    assert ms.field_pearson(2 * f + 3, f) == pytest.approx(1.0)
    assert ms.field_pearson(-f, f) == pytest.approx(-1.0)
    assert np.isnan(ms.field_pearson(np.full_like(f, 0.3), f))
    assert ms.field_pearson(da.from_array(f, chunks=(7, 40)), xr.DataArray(f)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shapes"):
        ms.field_pearson(f, f.T)


def test_footprint_mask_threshold():
    a = np.array([[0.0, 0.17, 0.19, 1.0]])
    assert ms.footprint_mask(a).tolist() == [[False, False, True, True]]
    assert ms.footprint_mask(a, rel=0.5).tolist() == [[False, False, False, True]]
    assert not ms.footprint_mask(np.zeros((3, 3))).any()
    with pytest.raises(ValueError, match="rel"):
        ms.footprint_mask(a, rel=1.5)


def roi_movie(A: np.ndarray, n_frames: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A movie whose every ROI pixel carries its cell's trace exactly; background elsewhere."""
    masks = ms.footprint_mask(A)
    C = np.abs(traces(n=len(A), t=n_frames, seed=2)) + 1.0
    movie = np.full((n_frames, H, W), 7.0)
    for mask, c in zip(masks, C, strict=True):
        movie[:, mask] = c[:, None]
    return movie, C


def test_footprint_roi_trace_recovers_planted_traces(A):
    movie, C = roi_movie(A)
    assert np.allclose(ms.footprint_roi_trace(movie, A), C)
    assert np.allclose(ms.footprint_roi_trace(movie, A[2]), C[2])
    assert np.isnan(ms.footprint_roi_trace(movie, np.zeros((H, W)))).all()
    assert np.allclose(ms.footprint_roi_trace(xr.DataArray(movie, dims=("frame", "height", "width")), A), C)


class _LargestResult(Callback):
    """Records the size of every task result the dask scheduler produces."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def _posttask(self, key, result, dsk, state, worker_id):
        self.largest = max(self.largest, getattr(result, "nbytes", 0))


def test_footprint_roi_trace_streams_a_dask_movie_chunk_by_chunk(A):
    movie, C = roi_movie(A, n_frames=96)
    lazy = da.from_array(movie, chunks=(8, H, W))
    with dask.config.set(scheduler="threads"), _LargestResult() as seen:
        got = ms.footprint_roi_trace(lazy, A)
    assert np.allclose(got, C)
    assert 0 < seen.largest <= 8 * H * W * 8  # never more than one frame chunk at once, never the whole movie
    with _LargestResult() as seen:
        got = ms.trace_pearson(da.from_array(C, chunks=(5, 8)), C)
    assert np.allclose(got, 1.0) and seen.largest <= 5 * 8 * 8 * 4
