"""Neuropil: spatial correlation width, OU drift, population coupling, bleaching fade, the movie it adds."""

from __future__ import annotations

import math

import numpy as np
import pydantic
import pytest

import minisim as ms
from minisim.steps.neuropil import filtered_noise_std, gaussian_kernel_1d, ou_process, spatial_field


def _spec(*extra: ms.StepSpec, n_px: int = 64, duration_s: float = 2.0, pitch_um: float = 8.0) -> ms.Spec:
    return ms.Spec(
        acquisition=ms.Acquisition(
            duration_s=duration_s,
            image_sensor=ms.ImageSensor(n_px_height=n_px, n_px_width=n_px, pixel_pitch_um=pitch_um),
            focal_depth_in_tissue_um=50.0,
        ),
        seed=3,
        steps=[
            ms.PlaceNeurons(density_per_mm3=60_000, soma_radius_um=5.0, depth_range_um=(40.0, 60.0)),
            ms.CellActivity(p_quiescent_to_active=0.05),
            ms.CellOptics(),
            ms.Composite(),
            *extra,
        ],
    )


def _autocorrelation_sigma_px(fields: np.ndarray, max_lag: int) -> float:
    """Gaussian width of the mean normalized autocorrelation along both axes (lags 1..max_lag)."""
    lags = np.arange(1, max_lag + 1)
    curves = []
    for f in fields:
        z = f - f.mean()
        var = np.mean(z * z)
        curves.append([np.mean(z[:, :-d] * z[:, d:]) / var for d in lags])
        curves.append([np.mean(z[:-d] * z[d:]) / var for d in lags])
    r = np.mean(curves, axis=0)
    # R(d) = exp(-d^2 / (2 s^2))  =>  -2 ln R = d^2 / s^2: least squares through the origin.
    y = -2 * np.log(r)
    return float(math.sqrt(np.sum(lags**4) / np.sum(lags**2 * y)))


def test_spatial_autocorrelation_width_matches_sigma_times_sqrt2():
    # White noise filtered by a Gaussian of width s has a Gaussian autocorrelation of width s*sqrt(2):
    # here s = 4 um = 4 px (1 um/px), so the expected width is 5.657 px.
    sigma_um = 4.0
    rec = ms.simulate(_spec(ms.Neuropil(spatial_sigma_um=sigma_um, n_components=6), n_px=160))
    spatial = rec.ground_truth.neuropil_spatial
    assert spatial.shape == (6, 160, 160)
    px = rec.ground_truth.pixel_size_um
    assert px == pytest.approx(1.0)
    measured = _autocorrelation_sigma_px(spatial, max_lag=6) * px
    expected = sigma_um * math.sqrt(2)
    assert measured == pytest.approx(expected, rel=0.2)
    assert spatial.mean() == pytest.approx(1.0, abs=0.05)
    assert spatial.std() / spatial.mean() == pytest.approx(0.25, rel=0.25)


def test_kernel_std_is_the_exact_std_of_filtered_noise():
    w = gaussian_kernel_1d(3.0)
    assert w.sum() == pytest.approx(1.0)
    assert filtered_noise_std(3.0) == pytest.approx(np.sum(np.outer(w, w) ** 2) ** 0.5, rel=1e-12)
    # Continuum limit 1 / (2 sqrt(pi) sigma).
    assert filtered_noise_std(3.0) == pytest.approx(1 / (2 * math.sqrt(math.pi) * 3.0), rel=1e-3)


def test_spatial_field_does_not_depend_on_the_canvas_margin():
    small = spatial_field(1, 7, 0, (40, 40), 0, 3.0, 0.25)
    big = spatial_field(1, 7, 0, (70, 70), 15, 3.0, 0.25)
    np.testing.assert_allclose(big[15:55, 15:55], small, rtol=0, atol=1e-12)


def test_ou_process_is_stationary_with_unit_variance_and_the_right_correlation():
    a = math.exp(-1 / 20)
    x = ou_process(200_000, a, np.random.default_rng(0))
    assert x.std() == pytest.approx(1.0, rel=0.1)
    assert np.corrcoef(x[:-1], x[1:])[0, 1] == pytest.approx(a, abs=0.01)
    # Started from the stationary law: the variance at frame 0 and frame 5 is already 1 (no transient).
    starts = np.array([ou_process(6, a, np.random.default_rng(s)) for s in range(4000)])
    assert starts[:, 0].var() == pytest.approx(1.0, rel=0.1)
    assert starts[:, 5].var() == pytest.approx(1.0, rel=0.1)


def test_full_coupling_makes_the_envelope_the_population_activity():
    rec = ms.simulate(_spec(ms.Neuropil(population_coupling=1.0, population_tau_s=0.2), duration_s=6.0))
    gt = rec.ground_truth
    population = gt.neuropil_population
    assert population.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(gt.neuropil_temporal, np.broadcast_to(population, gt.neuropil_temporal.shape))
    activity = gt.C.sum(axis=0)
    assert np.corrcoef(gt.neuropil_temporal[0], activity)[0, 1] > 0.8
    uncoupled = ms.simulate(_spec(ms.Neuropil(population_coupling=0.0), duration_s=6.0)).ground_truth
    assert not np.allclose(uncoupled.neuropil_temporal[0], uncoupled.neuropil_temporal[1])
    assert abs(np.corrcoef(uncoupled.neuropil_temporal[0], activity)[0, 1]) < 0.8


def test_movie_gets_amplitude_times_mean_of_components():
    step = ms.Neuropil(amplitude=0.8, n_components=3, spatial_sigma_um=10.0)
    rec = ms.simulate(_spec(step))
    gt = rec.ground_truth
    added = rec.stage("neuropil").values.astype(float) - rec.stage("cells_only").values.astype(float)
    expected = 0.8 * np.einsum("kt,khw->thw", gt.neuropil_temporal, gt.neuropil_spatial) / 3
    np.testing.assert_allclose(added, expected, rtol=1e-4, atol=1e-5)


def test_min_max_normalization_restores_1_0_fields():
    """1.0's fields span [0, 1] on the canvas at a shared mean; the same noise, about half the level of ours."""
    ours = ms.simulate(_spec(ms.Neuropil(spatial_sigma_um=10.0))).ground_truth.neuropil_spatial
    rec = ms.simulate(_spec(ms.Neuropil(spatial_sigma_um=10.0, spatial_normalization="min_max")))
    old = rec.ground_truth.neuropil_spatial
    means = old.mean(axis=(1, 2))
    np.testing.assert_allclose(means, means.mean(), rtol=1e-5)  # one common mean
    assert 0.3 < means.mean() < 0.7  # a min/max-scaled smooth field sits near the middle of [0, 1]
    assert float(old.min()) >= 0.0
    for k in range(old.shape[0]):  # an affine map of the same field, so perfectly correlated with ours
        assert np.corrcoef(old[k].ravel(), ours[k].ravel())[0, 1] > 0.999
    added = rec.stage("neuropil").values.astype(float) - rec.stage("cells_only").values.astype(float)
    expected = 0.5 * np.einsum("kt,khw->thw", rec.ground_truth.neuropil_temporal, old) / 3
    np.testing.assert_allclose(added, expected, rtol=1e-4, atol=1e-5)


def test_bleaching_fades_the_neuropil_with_the_population_mean():
    plain = ms.simulate(_spec(ms.Neuropil())).ground_truth
    faded = ms.simulate(_spec(ms.Neuropil(), ms.Bleaching(bleach_susceptibility=0.3))).ground_truth
    np.testing.assert_allclose(
        faded.neuropil_temporal, plain.neuropil_temporal * faded.bleaching.mean(axis=0, dtype=np.float64)
    )
    assert faded.neuropil_temporal[:, -1].mean() < 0.8 * plain.neuropil_temporal[:, -1].mean()


def test_optional_optical_attenuation_scales_like_an_in_focus_cell():
    plain = ms.simulate(_spec(ms.Neuropil()))
    dimmed = ms.simulate(_spec(ms.Neuropil(attenuate_by_optics=True)))
    acq = plain.spec.acquisition
    factor = acq.optics.na**2 * math.exp(-50.0 / acq.tissue.scatter_mfp_um)
    a = plain.stage("neuropil").values - plain.stage("cells_only").values
    b = dimmed.stage("neuropil").values - dimmed.stage("cells_only").values
    np.testing.assert_allclose(b, a * factor, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("spatial_sigma_um", 0.0, "um"),
        ("temporal_tau_s", -1.0, "s"),
        ("population_coupling", 1.5, "<= 1"),
        ("n_components", 0, ">= 1"),
        ("amplitude", 0.0, "> 0"),
    ],
)
def test_bad_neuropil_input_names_value_unit_and_fix(field, value, needle):
    with pytest.raises(pydantic.ValidationError) as info:
        ms.Neuropil(**{field: value})
    text = str(info.value)
    assert field in text and repr(value) in text and needle in text and "fix" in text
