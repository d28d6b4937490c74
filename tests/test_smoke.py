"""End-to-end smoke test: a tiny recording with every core step, and its ground truth's shapes."""

import numpy as np

import minisim as ms
from tests.conftest import small_spec


def test_simulate_small_recording_has_cells_and_counts():
    rec = ms.simulate(small_spec())
    movie = rec.observed.values
    assert movie.dtype == np.uint8
    assert movie.shape == (40, 64, 64)
    assert rec.ground_truth.n_units > 0
    assert movie.max() > movie.min()


def test_ground_truth_is_consistent_with_the_movie():
    rec = ms.simulate(small_spec())
    gt = rec.ground_truth
    n, t = gt.n_units, rec.observed.shape[0]
    assert gt.fov_shape == (64, 64)
    assert gt.A_planted.shape == gt.A_observed.shape == (n, 64, 64)
    assert gt.C.shape == gt.S.shape == (n, t)
    assert gt.centers_um.shape == (n, 3) and gt.depth_um.shape == (n,)
    for per_unit in (gt.amplitude_per_cell, gt.in_focus, gt.detectable, gt.observed_sigma_px, gt.observed_gain):
        assert len(per_unit) == n
    assert 40.0 <= gt.focal_depth_um <= 60.0
    assert gt.detectable.any()
    # Cells are where the light is: the brightest pixels of the mean frame lie inside footprints.
    mean_frame = rec.observed.values.mean(axis=0)
    covered = gt.A_observed.sum(axis=0) > 0.05 * gt.A_observed.max()
    assert mean_frame[covered].mean() > 2 * mean_frame[~covered].mean()
