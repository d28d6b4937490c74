"""The exact shot-noise sampler (minisim.poisson) and the sensor's Box-Muller read noise.

Statistical rule: every goodness-of-fit test below uses a fixed seed and
requires p > 1e-3 (chi-square against the exact Poisson pmf with bins pooled
until each expects at least 5 counts, or Kolmogorov-Smirnov). A correct
sampler fails one such test for about one seed in a thousand; each test also
checks the mean and variance within 5 standard errors. The samples (10**6
per lambda) resolve a relative error of about 1e-3 in any bin's probability
near the mode; ``test_the_fit_rejects_a_nearly_right_sampler`` shows that the
same test rejects the normal approximation even at lambda = 250.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import gammaln

from minisim.poisson import PTRS_MIN_LAMBDA, PoissonWorkspace, poisson_frame
from minisim.rng import generator
from minisim.steps.sensor import photons_to_counts, standard_normal_f32

P_MIN = 1e-3
N = 1_000_000


def chi2_pvalue(counts: np.ndarray, lam: float) -> float:
    """Chi-square p-value of integer ``counts`` against Poisson(lam), tails pooled (>= 5 expected a bin)."""
    n = counts.size
    lo, hi = int(stats.poisson.ppf(1e-12, lam)), int(stats.poisson.isf(1e-12, lam)) + 1
    ks = np.arange(lo, hi + 1)
    expected = n * stats.poisson.pmf(ks, lam)
    expected[0] += n * stats.poisson.cdf(lo - 1, lam)
    expected[-1] += n * stats.poisson.sf(hi, lam)
    observed = np.bincount(np.clip(counts.astype(np.int64), lo, hi) - lo, minlength=ks.size).astype(float)
    # pool from both ends inwards until every bin expects at least 5
    edges = [0]
    acc = 0.0
    for i, e in enumerate(expected):
        acc += e
        if acc >= 5:
            edges.append(i + 1)
            acc = 0.0
    edges[-1] = ks.size  # a short last group joins its neighbour
    obs = np.add.reduceat(observed, edges[:-1])
    exp = np.add.reduceat(expected, edges[:-1])
    return float(stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)


def assert_moments(counts: np.ndarray, lam: float) -> None:
    n = counts.size
    mean, var = counts.mean(), counts.var()
    assert abs(mean - lam) < 5 * np.sqrt(lam / n)
    # Var(sample variance) ~ (mu4 - sigma^4) / n with mu4 = lam + 3 lam^2 for the Poisson law
    assert abs(var - lam) < 5 * np.sqrt((lam + 2 * lam**2) / n)


@pytest.mark.parametrize("lam", [10.0, 10.5, 37.0, 250.0, 3000.0, 1e4])
def test_constant_lambda_follows_the_poisson_pmf(lam):
    counts = poisson_frame(np.full((1000, N // 1000), lam), generator(11, 0, 0, int(lam * 10)))
    assert counts.shape == (1000, N // 1000) and counts.dtype == np.float64
    assert np.array_equal(counts, np.round(counts)) and counts.min() >= 0
    assert chi2_pvalue(counts.ravel(), lam) > P_MIN
    assert_moments(counts, lam)


@pytest.mark.parametrize("lam", [0.1, 0.3, 2.0, 9.99])
def test_pixels_below_the_threshold_are_exact(lam):
    assert lam < PTRS_MIN_LAMBDA
    counts = poisson_frame(np.full(N // 4, lam), generator(12, 0, 0, int(lam * 100)))
    assert chi2_pvalue(counts, lam) > P_MIN
    assert_moments(counts, lam)


def test_the_fit_rejects_a_nearly_right_sampler():
    """Power check: rounded normal deviates (right mean and variance) fail the same test."""
    for lam in (10.0, 250.0):
        rng = np.random.default_rng(1)
        approx = np.maximum(np.floor(lam + np.sqrt(lam) * rng.standard_normal(N) + 0.5), 0)
        assert chi2_pvalue(approx, lam) < P_MIN


def test_a_mixed_field_is_exact_pixel_by_pixel():
    """Per-pixel means from 0 to 2000 (a third below 10): the randomized PIT is uniform.

    ``F(k - 1) + W * pmf(k)`` with ``W`` uniform is uniform on [0, 1] exactly when
    each pixel's count is Poisson with its own mean, so a scrambled pixel order,
    a wrong threshold split or a biased branch shows up in the KS test.
    """
    rng = np.random.default_rng(3)
    lam = np.exp(rng.uniform(np.log(0.05), np.log(2000.0), size=(800, 600)))
    lam[rng.random(lam.shape) < 0.05] = 0.0
    counts = poisson_frame(lam, generator(13, 0, 0, 0))
    assert (counts[lam == 0] == 0).all()
    pit = stats.poisson.cdf(counts - 1, lam) + rng.random(lam.shape) * stats.poisson.pmf(counts, lam)
    pit = pit[lam > 0]
    assert stats.kstest(pit, "uniform").pvalue > P_MIN
    for part in (lam[lam > 0] < PTRS_MIN_LAMBDA, lam[lam > 0] >= PTRS_MIN_LAMBDA):
        assert part.mean() > 0.3
        assert stats.kstest(pit[part], "uniform").pvalue > P_MIN
    # the standardized residuals of the bright pixels have unit variance
    bright = lam >= 100
    z = (counts[bright] - lam[bright]) / np.sqrt(lam[bright])
    assert abs(z.mean()) < 5 / np.sqrt(z.size) and abs(z.var() - 1) < 5 * np.sqrt(2 / z.size)


def test_zero_and_large_means():
    assert (poisson_frame(np.zeros((7, 9)), generator(1, 0)) == 0).all()
    huge = poisson_frame(np.full(1000, 1e12), generator(2, 0))  # beyond the PTRS range: numpy's sampler
    assert abs(huge.mean() - 1e12) < 5 * np.sqrt(1e12 / 1000)
    assert poisson_frame(np.empty((0, 3)), generator(3, 0)).shape == (0, 3)


def test_invalid_means_raise():
    for bad in (-1.0, np.nan):
        with pytest.raises(ValueError):
            poisson_frame(np.array([20.0, bad, 300.0]), generator(4, 0))


def test_draws_are_a_function_of_the_generator_state():
    rng = np.random.default_rng(5)
    lam = rng.uniform(0, 500, size=(64, 96))
    a = poisson_frame(lam, generator(7, 3, 0, 11))
    ws = PoissonWorkspace()
    poisson_frame(rng.uniform(0, 50, size=(300, 300)), generator(1, 0), workspace=ws)  # leaves stale buffers
    b = poisson_frame(lam, generator(7, 3, 0, 11), workspace=ws)
    out32 = np.full(lam.shape, -1, np.float32)
    c = poisson_frame(lam, generator(7, 3, 0, 11), out=out32)
    d = poisson_frame(np.asfortranarray(lam), generator(7, 3, 0, 11), out=np.empty(lam.shape))
    for other in (b, c, d):
        np.testing.assert_array_equal(a, other)
    assert c is out32
    assert not np.array_equal(a, poisson_frame(lam, generator(7, 3, 0, 12)))
    before = lam.copy()
    poisson_frame(lam, generator(0, 0))
    np.testing.assert_array_equal(lam, before)


def test_sensor_shot_noise_is_poisson_above_the_threshold():
    """Through photons_to_counts (no read noise, unit gain): Poisson(QE * photons) at lambda = 40."""
    params = {"quantum_efficiency": 0.5, "read_noise_e": 0.0, "gain_adu_per_e": 1.0, "max_count": 2**16 - 1}
    params |= {"seed": 8, "step_id": 3, "shot_noise": "poisson"}
    counts = np.concatenate([photons_to_counts(np.full((500, 500), 80.0), f, params).ravel() for f in range(2)])
    assert chi2_pvalue(counts.astype(np.float64), 40.0) > P_MIN


@pytest.mark.parametrize("n", [N // 2, 12_345])
def test_box_muller_read_noise_is_standard_normal(n):
    out = np.empty(n, np.float32)
    ws = PoissonWorkspace()
    standard_normal_f32(generator(9, 0, 1, n), out, ws)
    assert np.isfinite(out).all()
    assert stats.kstest(out.astype(np.float64), "norm").pvalue > P_MIN
    assert abs(out.mean()) < 5 / np.sqrt(n) and abs(out.var() - 1) < 5 * np.sqrt(2 / n)
    h = (n + 1) // 2
    # the cosine and sine halves are independent: uncorrelated, also in their squares
    m = n - h
    for f in (lambda x: x, np.square):
        r = np.corrcoef(f(out[:m].astype(np.float64)), f(out[h:].astype(np.float64)))[0, 1]
        assert abs(r) < 5 / np.sqrt(m)
    again = np.empty(n, np.float32)
    standard_normal_f32(generator(9, 0, 1, n), again, PoissonWorkspace())
    np.testing.assert_array_equal(out, again)


def test_full_acceptance_test_decides_as_the_paper_with_gammaln():
    """Steps 2-3 of PTRS (Robbins' bounds on log k!, gammaln in the band) equal the paper's test written out."""
    from minisim.poisson import _full_test

    rng = np.random.default_rng(6)
    m = 400_000
    mu = np.concatenate([np.full(m // 4, 10.0), np.exp(rng.uniform(np.log(10.0), np.log(1e6), m - m // 4))])
    b = 0.931 + 2.53 * np.sqrt(mu)
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    u = rng.random(m) - 0.5
    us = 0.5 - np.abs(u)
    v = rng.random(m)
    k = np.floor((2 * a / us + b) * u + mu + 0.43)
    with np.errstate(divide="ignore", invalid="ignore"):
        paper = np.log(v) + np.log(inv_alpha) - np.log(a / us**2 + b) <= -mu + k * np.log(mu) - gammaln(k + 1)
    paper &= (k >= 0) & ~((us < 0.013) & (v > us))
    assert (k == 0).sum() > 10 and 0.3 < paper.mean() < 0.99
    rejected = _full_test(k.copy(), us.copy(), v.copy(), mu.copy(), b.copy(), 2 * a, PoissonWorkspace())
    ours = np.ones(m, bool)
    ours[rejected] = False
    assert (ours != paper).sum() <= 2  # float64 rounding of the two forms of the same inequality
