"""The compiled sensor kernel (minisim.kernels) against the numpy fallback.

Statistical rule as in test_poisson.py: fixed seeds, p > 1e-3 for every
goodness-of-fit test, moments within 5 standard errors. Engine-level tests
run with both kernels (``MINISIM_SENSOR_KERNEL``).
"""

from __future__ import annotations

import threading
import warnings

import dask
import numpy as np
import pytest
from scipy import stats

import minisim as ms
from minisim import kernels
from minisim.kernels.counter_rng import frame_key, word
from minisim.kernels.tables import ZIG_AREA, ZIG_X, ziggurat_tables
from minisim.steps.sensor import photons_to_counts, sensor_block
from tests.conftest import small_spec
from tests.test_poisson import P_MIN, N, assert_moments, chi2_pvalue

numba_kernels = pytest.importorskip("minisim.kernels._sensor_numba")
KERNELS = ["numba", "numpy"]


def compiled_poisson(lam: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    flat = np.ascontiguousarray(lam, np.float64).ravel()
    out = np.empty_like(flat)
    numba_kernels.poisson_kernel(flat, np.uint64(key[0]), np.uint64(key[1]), out)
    return out.reshape(np.shape(lam))


@pytest.mark.parametrize("lam", [0.1, 2.0, 9.99, 10.0, 37.0, 250.0, 3000.0, 1e4])
def test_compiled_poisson_follows_the_pmf(lam):
    counts = compiled_poisson(np.full(N, lam), frame_key(21, 4, 0, int(lam * 100)))
    assert np.array_equal(counts, np.round(counts)) and counts.min() >= 0
    assert chi2_pvalue(counts, lam) > P_MIN
    assert_moments(counts, lam)


def test_compiled_poisson_mixed_field_is_exact_pixel_by_pixel():
    """Means from 0.05 to 1e4 (a third below 10, some zeros): the randomized PIT is uniform."""
    rng = np.random.default_rng(3)
    lam = np.exp(rng.uniform(np.log(0.05), np.log(1e4), size=(800, 600)))
    lam[rng.random(lam.shape) < 0.05] = 0.0
    counts = compiled_poisson(lam, frame_key(13, 0, 0, 0))
    assert (counts[lam == 0] == 0).all()
    pit = stats.poisson.cdf(counts - 1, lam) + rng.random(lam.shape) * stats.poisson.pmf(counts, lam)
    pos = lam > 0
    assert stats.kstest(pit[pos], "uniform").pvalue > P_MIN
    for part in (lam[pos] < 10, lam[pos] >= 10):
        assert part.mean() > 0.25
        assert stats.kstest(pit[pos][part], "uniform").pvalue > P_MIN


def test_ziggurat_normal_is_standard_normal_into_the_tails():
    out = np.empty(N)
    k = frame_key(9, 9, 1, 0)
    numba_kernels.normal_kernel(np.uint64(k[0]), np.uint64(k[1]), out)
    assert stats.kstest(out, "norm").pvalue > P_MIN
    assert abs(out.mean()) < 5 / np.sqrt(N) and abs(out.var() - 1) < 5 * np.sqrt(2 / N)
    # the base strip's tail (beyond r = 3.44) is drawn by its own branch: its mass is right
    beyond = np.mean(np.abs(out) > ZIG_X[1])
    p = 2 * stats.norm.sf(ZIG_X[1])
    assert abs(beyond - p) < 5 * np.sqrt(p / N)
    assert np.abs(out).max() > 4.0


def test_ziggurat_layers_have_equal_area():
    x, r = ziggurat_tables()
    f = np.exp(-0.5 * x**2)
    areas = x[1:-1] * (f[2:] - f[1:-1])
    np.testing.assert_allclose(areas[:-1], ZIG_AREA, rtol=1e-9)
    assert x[0] * f[1] == pytest.approx(ZIG_AREA)  # the base strip
    assert (np.diff(x[1:]) < 0).all() and (r < 1).all()


def test_counter_words_match_their_definition_and_depend_on_every_key_part():
    """The kernel's words are the documented pure function (checked through a normal deviate's layer bits)."""
    k = frame_key(1, 2, 3, 4)
    assert k != frame_key(1, 2, 3, 5) and k != frame_key(1, 2, 4, 4) and k != frame_key(2, 2, 3, 4)
    w = word(k, 0)
    u = 2.0 * ((w >> 11) * 2.0**-53) - 1.0
    i = w & 0x7F
    out = np.empty(1)
    numba_kernels.normal_kernel(np.uint64(k[0]), np.uint64(k[1]), out)
    if abs(u) < ZIG_X[i + 1] / ZIG_X[i]:  # the fast path: the deviate is u * x[i]
        assert out[0] == u * ZIG_X[i]
    words = np.array([word(k, c) for c in range(4096)], dtype=np.uint64)
    bits = np.unpackbits(words.view(np.uint8)).reshape(-1, 64).mean(axis=0)
    assert np.abs(bits - 0.5).max() < 5 * 0.5 / np.sqrt(4096)


SENSOR = {"quantum_efficiency": 0.6, "read_noise_e": 10.0, "gain_adu_per_e": 2.0, "max_count": 2**16 - 1}
SENSOR |= {"seed": 5, "step_id": 99}


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("shot_noise", ["poisson", "gaussian"])
def test_photon_transfer_in_both_kernels(kernel, shot_noise):
    """var = gain * mean + (gain * read)^2 + gain / 2 + 1/12 (ADC flooring), mean slope gain * QE; 3 %."""
    p = {**SENSOR, "shot_noise": shot_noise, "kernel": kernel}
    g, qe, read = p["gain_adu_per_e"], p["quantum_efficiency"], p["read_noise_e"]
    levels = np.array([100.0, 300.0, 900.0, 2700.0])
    counts = [np.stack([photons_to_counts(np.full((256, 256), x), f, p) for f in (0, 1)]) for x in levels]
    means = np.array([c.mean(dtype=np.float64) for c in counts])
    variances = np.array([c.var(dtype=np.float64) for c in counts])
    slope, intercept = np.polyfit(means, variances, 1)
    assert slope == pytest.approx(g, rel=0.03)
    assert intercept == pytest.approx((g * read) ** 2 + g / 2 + 1 / 12, rel=0.03)
    assert np.polyfit(levels, means, 1)[0] == pytest.approx(g * qe, rel=0.01)


def test_compiled_sensor_counts_are_exactly_poisson_without_read_noise():
    p = {**SENSOR, "read_noise_e": 0.0, "gain_adu_per_e": 1.0, "quantum_efficiency": 1.0}
    p |= {"shot_noise": "poisson", "kernel": "numba"}
    for lam in (2.0, 40.0):
        counts = np.concatenate([photons_to_counts(np.full((500, 500), lam), f, p).ravel() for f in range(2)])
        assert chi2_pvalue(counts.astype(np.float64), lam) > P_MIN


def test_compiled_sensor_clips_keys_on_the_frame_and_refuses_nan():
    p = {**SENSOR, "shot_noise": "poisson", "kernel": "numba", "max_count": 255}
    assert photons_to_counts(np.full((4, 4), 1e6), 0, p).max() == 255
    assert photons_to_counts(np.zeros((4, 4)), 0, {**p, "read_noise_e": 5.0}).min() == 0
    a = photons_to_counts(np.full((8, 8), 50.0), 17, p)
    np.testing.assert_array_equal(a, photons_to_counts(np.full((8, 8), 50.0), 17, p))
    assert not np.array_equal(a, photons_to_counts(np.full((8, 8), 50.0), 18, p))
    with pytest.raises(ValueError, match="NaN photons"):
        photons_to_counts(np.array([[1.0, np.nan]]), 0, p)


def field_spec(**kw) -> ms.Spec:
    """small_spec with the three static fields the sensor folds in."""
    base = small_spec(**kw)
    steps = [*base.steps, ms.IlluminationProfile(falloff=0.6), ms.Vignette(falloff=0.8), ms.Leakage(level=0.2)]
    return ms.Spec(acquisition=base.acquisition, seed=base.seed, steps=steps)


@pytest.fixture(params=KERNELS)
def kernel(request, monkeypatch):
    monkeypatch.setenv(kernels.SENSOR_KERNEL_ENV, request.param)
    return request.param


def test_movie_is_bit_identical_across_chunkings_and_schedulers_in_both_kernels(kernel):
    spec = field_spec()
    with dask.config.set(scheduler="synchronous"):
        reference = ms.simulate(spec, chunk_frames=40).observed.values
    assert reference.std() > 0
    for chunk_frames, scheduler in ((1, "threads"), (7, "synchronous"), (13, "threads")):
        with dask.config.set(scheduler=scheduler):
            movie = ms.simulate(spec, chunk_frames=chunk_frames).observed.values
        np.testing.assert_array_equal(movie, reference)
    with dask.config.set(scheduler="synchronous"):  # a frame range computed alone
        np.testing.assert_array_equal(ms.simulate(spec, chunk_frames=7).observed[11:23].values, reference[11:23])


def test_folding_the_fields_into_the_sensor_is_exact(kernel):
    """The sensor folds illumination, vignette and leakage in; the counts equal the unfolded chain's."""
    rec = ms.simulate(field_spec(), chunk_frames=9)
    with dask.config.set(scheduler="synchronous"):
        observed = rec.observed.values
        leaked = rec.stage("leakage").values
    step = rec.spec.step("sensor")
    static = {
        "photons_per_unit": step.photons_per_unit,
        "quantum_efficiency": rec.spec.acquisition.image_sensor.quantum_efficiency,
        "read_noise_e": rec.spec.acquisition.image_sensor.read_noise_e,
        "gain_adu_per_e": rec.spec.acquisition.image_sensor.gain_adu_per_e,
        "max_count": rec.spec.acquisition.image_sensor.max_count,
        "shot_noise": "poisson",
        "seed": rec.spec.seed,
        "step_id": type(step).step_id(),
        "kernel": kernel,
    }
    unfolded = sensor_block(leaked.astype(np.float32), np.arange(len(leaked)), static, {})
    np.testing.assert_array_equal(observed, unfolded)


def test_the_two_kernels_agree_in_distribution_not_in_bits(monkeypatch):
    spec = field_spec(n_px=96)
    movies = {}
    for name in KERNELS:
        monkeypatch.setenv(kernels.SENSOR_KERNEL_ENV, name)
        with dask.config.set(scheduler="synchronous"):
            movies[name] = ms.simulate(spec).observed.values.astype(np.float64)
        monkeypatch.delenv(kernels.SENSOR_KERNEL_ENV)
    a, b = movies["numba"], movies["numpy"]
    assert not np.array_equal(a, b)
    # per-pixel temporal means agree within their noise (4 sigma of the difference of two means)
    se = np.sqrt((a.var(axis=0) + b.var(axis=0)) / a.shape[0]) + 1e-9
    z = (a.mean(axis=0) - b.mean(axis=0)) / se
    assert abs(z.mean()) < 0.1 and 0.8 < z.std() < 1.2


def test_kernel_choice_is_part_of_the_cache_key(monkeypatch):
    spec = small_spec()
    monkeypatch.setenv(kernels.SENSOR_KERNEL_ENV, "numba")
    compiled = spec.cache_key()
    monkeypatch.setenv(kernels.SENSOR_KERNEL_ENV, "numpy")
    assert spec.cache_key() != compiled
    monkeypatch.setenv(kernels.SENSOR_KERNEL_ENV, "fortran")
    with pytest.raises(ValueError, match=r"MINISIM_SENSOR_KERNEL='fortran'.*numba, numpy"):
        spec.cache_key()


def test_missing_numba_falls_back_to_numpy_with_a_warning(monkeypatch):
    monkeypatch.delenv(kernels.SENSOR_KERNEL_ENV, raising=False)
    monkeypatch.setattr(kernels, "_compiled", None)
    monkeypatch.setattr(kernels, "_unavailable", "ImportError: No module named 'numba'")
    with pytest.warns(RuntimeWarning, match="numba is unavailable.*numpy kernel"):
        assert kernels.sensor_kernel_name() == "numpy"
    monkeypatch.setenv(kernels.SENSOR_KERNEL_ENV, "numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kernels.sensor_kernel_name() == "numpy"


def test_the_compiled_kernel_releases_the_gil():
    """Two threads are inside the kernel at the same time (holding the GIL, their calls could not overlap)."""
    import time

    block = np.full((40, 256, 256), 300.0, np.float32)
    one, zero = np.ones((256, 256), np.float32), np.zeros((256, 256), np.float32)
    params = np.array([0.6, 10.0, 2.0, 65535.0, 0.0])
    keys = np.array([[*frame_key(1, 2, 0, f), *frame_key(1, 2, 1, f)] for f in range(len(block))], np.uint64)
    numba_kernels.sensor_kernel(block[:1], one, one, zero, params, keys[:1], np.empty((1, 256, 256), np.uint16))
    spans: list[tuple[float, float]] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        out = np.empty(block.shape, np.uint16)
        barrier.wait()
        start = time.perf_counter()
        numba_kernels.sensor_kernel(block, one, one, zero, params, keys, out)
        spans.append((start, time.perf_counter()))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (s1, e1), (s2, e2) = spans
    assert s2 < e1 and s1 < e2  # the intervals intersect


def test_compiled_dendrite_walk_draws_the_same_pixels_as_the_interpreted_one():
    from minisim.kernels import dendrites

    patches = {}
    for name, walk in (("compiled", dendrites._compile()), ("python", dendrites._walk_py)):
        patch = np.zeros((90, 90), np.float32)
        rng = np.random.default_rng(4)
        stack, forks = [(45.0, 45.0, a, 30.0, 1.5, 0) for a in np.linspace(0, 6, 5)], 0
        while stack:
            y, x, heading, length, half_width, nf = stack.pop()
            n = int(length)
            noise, fork_u = rng.normal(0, 0.16, n), rng.random(n)
            turn = np.where(rng.random(n) < 0.5, -1.0, 1.0)
            out = np.empty((2, 6))
            k = walk(patch, y, x, heading, length, half_width, nf, 1.5, noise, fork_u, turn, out)
            forks += k
            stack += [(*row[:5], int(row[5])) for row in out[:k]]
        patches[name] = patch
    assert forks > 0 and (patches["python"] > 0).sum() > 300
    assert np.mean(patches["compiled"] != patches["python"]) < 1e-3  # at most a rounding-edge pixel
