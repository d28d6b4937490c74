"""Core physics, each tested by recovering what was planted within a stated tolerance.

Optics (PSF width, intensity conservation, Beer-Lambert, focus), the sensor's
photon transfer, the calcium kernel, the activity model and cell placement.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import poisson

import minisim as ms
from minisim.rng import generator
from minisim.steps.cell_activity import (
    calcium_kernel,
    convolve_calcium,
    frame_calcium,
    kernel_peak_time_s,
    lognormal_gain,
    markov_gate,
    simulate_cells,
)
from minisim.steps.optics import focus_score
from minisim.steps.place_neurons import expected_count, sample_centers_um
from minisim.steps.sensor import photons_to_counts
from minisim.traces import SEGMENT_FRAMES
from tests.conftest import placement_spec, positioned_spec

LAMBDA_UM = 0.525


def simulate_quiet(spec: ms.Spec, **kwargs) -> ms.Recording:
    """simulate() with SpecWarnings (deliberate defocus) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ms.SpecWarning)
        return ms.simulate(spec, **kwargs)


def build_quiet(build, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ms.SpecWarning)
        return build(*args, **kwargs)


def second_moment_var_px2(patch: np.ndarray) -> float:
    """Mean of the row and column variances of an image taken as a distribution."""
    p = np.asarray(patch, dtype=np.float64)
    total = p.sum()
    out = []
    for axis in (1, 0):
        marginal = p.sum(axis=axis) / total
        idx = np.arange(marginal.size)
        mean = (idx * marginal).sum()
        out.append(((idx - mean) ** 2 * marginal).sum())
    return float(np.mean(out))


def expected_sigma_um(na: float, depth_um: float, focal_um: float, blur_per_um: float = 0.05) -> float:
    """hypot(diffraction 0.21 lambda/NA, scatter b z, defocus NA |z - F|): the planted PSF model."""
    return math.hypot(0.21 * LAMBDA_UM / na, blur_per_um * depth_um, na * abs(depth_um - focal_um))


# -- optics ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("na", [0.3, 0.45, 0.6])
@pytest.mark.parametrize(("depth_um", "focal_um"), [(20.0, 20.0), (100.0, 100.0), (60.0, 45.0), (30.0, 40.0)])
def test_psf_width_against_na_and_depth(na, depth_um, focal_um):
    """Observed minus planted second moment is the PSF variance (variances add under convolution); 1%."""
    spec = build_quiet(positioned_spec, [(depth_um, 0.0, 0.0)], focal_depth_um=focal_um, na=na)
    gt = simulate_quiet(spec, until="optics").ground_truth
    var_px2 = second_moment_var_px2(gt.observed.patches[0]) - second_moment_var_px2(gt.planted.patches[0])
    expected_px = expected_sigma_um(na, depth_um, focal_um) / spec.acquisition.pixel_size_um
    assert math.sqrt(var_px2) == pytest.approx(expected_px, rel=0.01)
    assert gt.observed_sigma_px[0] == pytest.approx(expected_px, rel=1e-9)


def test_psf_widens_with_depth_and_defocus_and_narrows_with_na_in_focus():
    sig = [expected_sigma_um(0.45, z, z) for z in (10, 50, 150)]
    assert sig == sorted(sig)
    positions = [(z, 0.0, x) for z, x in ((40.0, -20.0), (40.0, 20.0))]
    for na_lo, na_hi in ((0.3, 0.6),):
        lo = simulate_quiet(
            positioned_spec(positions, focal_depth_um=40.0, na=na_lo, scatter_blur_per_um=0.0), until="optics"
        )
        hi = simulate_quiet(
            positioned_spec(positions, focal_depth_um=40.0, na=na_hi, scatter_blur_per_um=0.0), until="optics"
        )
        ratio = lo.ground_truth.observed_sigma_px / hi.ground_truth.observed_sigma_px
        np.testing.assert_allclose(ratio, na_hi / na_lo, rtol=1e-9)  # diffraction-limited: sigma ~ 1/NA


def test_field_curvature_moves_focus_of_off_axis_cells():
    radius_um, r_um, depth_um = 500.0, 25.0, 40.0
    spec = positioned_spec(
        [(depth_um, 0.0, 0.0), (depth_um, 0.0, r_um)],
        focal_depth_um=depth_um,
        n_px=80,
    )
    spec = spec.model_copy(
        update={
            "acquisition": spec.acquisition.model_copy(
                update={"optics": ms.Optics(na=0.45, magnification=8.0, field_curvature_radius_um=radius_um)}
            )
        }
    )
    gt = simulate_quiet(spec, until="optics").ground_truth
    sagitta = radius_um - math.sqrt(radius_um**2 - r_um**2)  # ~ r^2 / 2R = 0.63 um
    assert gt.observed_sigma_px[0] == pytest.approx(expected_sigma_um(0.45, depth_um, depth_um), rel=1e-9)
    assert gt.observed_sigma_px[1] == pytest.approx(expected_sigma_um(0.45, depth_um, depth_um - sagitta), rel=1e-9)


@pytest.mark.parametrize("depth_um", [30.0, 90.0])
def test_defocus_conserves_integrated_intensity(depth_um):
    """sum(observed) / observed_gain == sum(planted) for every focal plane, within 1% (float32: ~1e-6)."""
    sums, peaks, bright = [], [], []
    for focal_um in (depth_um - 25.0, depth_um - 5.0, depth_um, depth_um + 12.0):
        spec = build_quiet(
            positioned_spec, [(depth_um, 0.0, 0.0)], focal_depth_um=focal_um, n_px=96, soma_radius_um=0.4
        )
        gt = simulate_quiet(spec, until="optics").ground_truth
        obs, planted = gt.observed.patches[0], gt.planted.patches[0]
        assert planted.sum() == 1.0  # a point-like cell: one pixel
        sums.append(obs.sum(dtype=np.float64) / gt.observed_gain[0] / planted.sum())
        peaks.append(obs.max() / gt.observed_gain[0])
        bright.append(gt.optical_brightness[0])
    np.testing.assert_allclose(sums, 1.0, rtol=0.01)
    # The peak of a blurred point drops as (sigma0 / sigma)^2: the optical_brightness truth.
    np.testing.assert_allclose(np.array(peaks) / peaks[2], np.array(bright) / bright[2], rtol=0.02)


def test_beer_lambert_attenuation_with_depth():
    """Gain and the composited image sum fall as exp(-dz / mfp), 1/mfp = 1/mfp_ex + 1/mfp_em; 0.1%."""
    mfp_um = 1.0 / (1.0 / 600.0 + 1.0 / 100.0)
    depths = (20.0, 60.0, 110.0)
    gains, image_sums = [], []
    for depth_um in depths:
        # One cell, auto focus (no sensor: the median depth, so on the cell), float movie.
        rec = ms.simulate(positioned_spec([(depth_um, 0.0, 0.0)], n_px=96, duration_s=0.5), until="cells_only")
        gt = rec.ground_truth
        assert gt.focal_depth_um == pytest.approx(depth_um)
        gains.append(gt.observed_gain[0])
        movie = rec.observed.values.astype(np.float64)
        image_sums.append(np.mean(movie.sum(axis=(1, 2)) / gt.C[0]))
    for i in (1, 2):
        expected = math.exp(-(depths[i] - depths[0]) / mfp_um)
        assert gains[i] / gains[0] == pytest.approx(expected, rel=1e-9)
        assert image_sums[i] / image_sums[0] == pytest.approx(expected, rel=1e-3)
    assert gains[0] == pytest.approx(0.45**2 * math.exp(-depths[0] / mfp_um))  # NA^2 collection


def test_composite_paints_observed_footprints_times_traces():
    positions = [(30.0, -8.0, -6.0), (34.0, 5.0, 9.0), (50.0, 0.0, 0.0)]
    rec = build_quiet(ms.simulate, positioned_spec(positions, focal_depth_um=30.0, duration_s=0.5), until="cells_only")
    gt = rec.ground_truth
    movie = rec.observed.values.astype(np.float64)
    expected = np.einsum("nhw,nt->thw", gt.A_observed, gt.C)
    np.testing.assert_allclose(movie, expected, rtol=1e-5, atol=1e-6 * expected.max())
    assert not np.allclose(gt.A_observed, gt.A_planted * gt.observed_gain[:, None, None])


def test_in_focus_flag_follows_the_depth_of_field():
    depths = [40.0, 42.0, 43.0, 44.0, 50.0]
    positions = [(z, 0.0, -40.0 + 20.0 * i) for i, z in enumerate(depths)]
    spec = build_quiet(positioned_spec, positions, focal_depth_um=40.0, n_px=112)
    gt = simulate_quiet(spec, until="optics").ground_truth
    dof = spec.acquisition.optics.resolved_depth_of_field_um  # 1.33 * 0.525 / 0.45^2 = 3.45 um
    np.testing.assert_array_equal(gt.in_focus, np.abs(np.array(depths) - 40.0) <= dof)
    assert gt.in_focus.tolist() == [True, True, True, False, False]


# -- auto focus ------------------------------------------------------------------------------------


def _cluster_and_scattered(rng: np.random.Generator) -> list[tuple[float, float, float]]:
    cluster = np.column_stack([rng.uniform(20, 24, 20), rng.uniform(-40, 40, (20, 2))])
    scattered = np.column_stack([rng.uniform(40, 100, 12), rng.uniform(-40, 40, (12, 2))])
    return [tuple(p) for p in np.vstack([cluster, scattered])]


@pytest.mark.parametrize("photons_per_unit", [5.0, 200.0, 5000.0])
def test_auto_focus_lands_on_the_dense_layer(photons_per_unit):
    """A dense layer at 20-24 um wins over the median (~23 um is luck-free here) and over compromise planes."""
    positions = _cluster_and_scattered(np.random.default_rng(1))
    spec = positioned_spec(
        positions, n_px=96, soma_radius_um=4.0, duration_s=5.0, sensor=ms.Sensor(photons_per_unit=photons_per_unit)
    )
    gt = ms.simulate(spec, until="optics").ground_truth
    assert 20.0 <= gt.focal_depth_um <= 24.0
    assert gt.in_focus[:20].mean() > 0.9


def test_auto_focus_prefers_the_bigger_layer_unless_depth_hides_it():
    rng = np.random.default_rng(3)
    shallow = [(30.0, *rng.uniform(-40, 40, 2)) for _ in range(10)]
    deep = [(90.0, *rng.uniform(-40, 40, 2)) for _ in range(18)]

    def focus(mfp_em_um: float, photons_per_unit: float) -> float:
        spec = positioned_spec(
            shallow + deep,
            n_px=96,
            soma_radius_um=4.0,
            duration_s=5.0,
            sensor=ms.Sensor(photons_per_unit=photons_per_unit),
        )
        tissue = ms.Tissue(scatter_mfp_emission_um=mfp_em_um)
        spec = spec.model_copy(update={"acquisition": spec.acquisition.model_copy(update={"tissue": tissue})})
        return ms.simulate(spec, until="optics").ground_truth.focal_depth_um

    assert focus(1e5, 500.0) == pytest.approx(90.0, abs=1.0)  # clear tissue: the bigger, deep layer
    assert focus(8.0, 2.0) == pytest.approx(30.0, abs=1.0)  # murky tissue, dim exposure: deep cells vanish


def test_focus_given_or_without_sensor():
    positions = [(10.0, 0.0, 0.0), (20.0, 10.0, 10.0), (80.0, -10.0, 5.0)]
    assert ms.simulate(positioned_spec(positions), until="optics").ground_truth.focal_depth_um == 20.0  # median
    fixed = build_quiet(positioned_spec, positions, focal_depth_um=55.0, sensor=ms.Sensor())
    assert simulate_quiet(fixed, until="optics").ground_truth.focal_depth_um == 55.0


def test_focus_score_weights_detectable_cells_by_sharpness():
    detected = np.array([[True, True, False], [True, True, True]])
    drop = np.array([[1.0, 1.0, 0.1], [0.2, 0.2, 0.2]])
    signal = np.ones((2, 3))
    assert np.argmax(focus_score(detected, drop, signal)) == 0  # 2 sharp cells beat 3 blurred ones
    assert focus_score(detected, drop, signal)[0] == pytest.approx(2.0, abs=1e-2)


# -- sensor ----------------------------------------------------------------------------------------

SENSOR = {
    "quantum_efficiency": 0.6,
    "read_noise_e": 10.0,
    "gain_adu_per_e": 2.0,
    "max_count": 2**16 - 1,
    "seed": 5,
    "step_id": 99,
}


def _flat_counts(photons: float, shot_noise: str, frames=(0, 1), shape=(256, 256), **params) -> np.ndarray:
    p = {**SENSOR, "shot_noise": shot_noise, **params}
    return np.stack([photons_to_counts(np.full(shape, photons), f, p) for f in frames]).astype(np.float64)


def _photon_transfer(levels, shot_noise: str):
    means, variances = [], []
    for photons in levels:
        counts = _flat_counts(photons, shot_noise)
        means.append(counts.mean())
        variances.append(counts.var())
    return np.array(means), np.array(variances)


@pytest.mark.parametrize("shot_noise", ["poisson", "gaussian"])
def test_photon_transfer_on_a_flat_field(shot_noise):
    """var = gain * mean + (gain * read)^2 (+ ADC rounding); mean = gain * QE * photons; 3%.

    With counts = floor(gain * electrons), mean_counts = gain * QE * photons - 1/2 and the
    variance gains 1/12, so the exact intercept is (gain * read)^2 + gain/2 + 1/12.
    """
    g, qe, read = SENSOR["gain_adu_per_e"], SENSOR["quantum_efficiency"], SENSOR["read_noise_e"]
    levels = np.array([100.0, 300.0, 900.0, 2700.0])
    means, variances = _photon_transfer(levels, shot_noise)
    slope, intercept = np.polyfit(means, variances, 1)
    assert slope == pytest.approx(g, rel=0.03)
    assert intercept == pytest.approx((g * read) ** 2 + g / 2 + 1 / 12, rel=0.03)
    mean_slope = np.polyfit(levels, means, 1)[0]
    assert mean_slope == pytest.approx(g * qe, rel=0.01)


def test_shot_noise_is_exactly_poisson():
    """At 2 photo-electrons per pixel the counts follow the Poisson pmf (the Gaussian model does not)."""
    params = {"quantum_efficiency": 1.0, "read_noise_e": 0.0, "gain_adu_per_e": 1.0}
    counts = _flat_counts(2.0, "poisson", frames=(0,), **params).ravel()
    n = counts.size
    for k in range(7):
        p = poisson.pmf(k, 2.0)
        assert abs(np.mean(counts == k) - p) < 4 * math.sqrt(p * (1 - p) / n)
    gaussian = _flat_counts(2.0, "gaussian", frames=(0,), **params).ravel()
    assert abs(np.mean(gaussian == 0) - poisson.pmf(0, 2.0)) > 0.05
    assert np.array_equal(counts, np.round(counts))


def test_adc_clips_and_bit_depth_sets_the_dtype():
    p = {**SENSOR, "shot_noise": "poisson", "max_count": 255}
    assert photons_to_counts(np.full((4, 4), 1e6), 0, p).max() == 255
    assert photons_to_counts(np.zeros((4, 4)), 0, {**p, "read_noise_e": 5.0}).min() == 0
    assert ms.ImageSensor(bit_depth=12).count_dtype == np.uint16
    assert ms.ImageSensor(bit_depth=8).count_dtype == np.uint8
    assert ms.ImageSensor(bit_depth=12).max_count == 4095


def test_sensor_draws_are_keyed_on_the_absolute_frame():
    p = {**SENSOR, "shot_noise": "poisson"}
    a = photons_to_counts(np.full((8, 8), 50.0), 17, p)
    np.testing.assert_array_equal(a, photons_to_counts(np.full((8, 8), 50.0), 17, p))
    assert not np.array_equal(a, photons_to_counts(np.full((8, 8), 50.0), 18, p))


def test_photon_transfer_through_the_engine():
    """A uniform leakage glow is a flat field: the recorded movie's PTC slope is the configured gain."""
    leakage = pytest.importorskip("minisim.steps.leakage")
    hw = ms.ImageSensor(
        n_px_height=64, n_px_width=64, quantum_efficiency=0.8, read_noise_e=12.0, gain_adu_per_e=1.5, bit_depth=16
    )
    means, variances = [], []
    levels = (100.0, 300.0, 900.0, 2700.0)
    for ppu in levels:
        spec = ms.Spec(
            acquisition=ms.Acquisition(duration_s=1.0, image_sensor=hw),
            steps=[leakage.Leakage(profile="uniform", level=1.0), ms.Sensor(photons_per_unit=ppu)],
        )
        observed = ms.simulate(spec).observed
        assert observed.dtype == np.uint16 and observed.shape == (20, 64, 64)
        movie = observed.values.astype(np.float64)
        means.append(movie.mean())
        variances.append(movie.var())
    slope, intercept = np.polyfit(means, variances, 1)
    assert slope == pytest.approx(1.5, rel=0.03)
    assert intercept == pytest.approx((1.5 * 12.0) ** 2 + 1.5 / 2 + 1 / 12, rel=0.03)  # 82 k samples a level
    assert np.polyfit(levels, means, 1)[0] == pytest.approx(1.5 * 0.8, rel=0.01)


# -- calcium and activity ---------------------------------------------------------------------------


@pytest.mark.parametrize(("tau_rise_s", "tau_decay_s"), [(0.05, 0.5), (0.02, 1.2), (0.1, 0.4)])
def test_calcium_kernel_peak_time_rise_and_decay(tau_rise_s, tau_decay_s):
    """A single spike's transient peaks at t* (one fine bin) with height 1; fitted taus within 2%."""
    rate_hz = 1000.0
    spikes = np.zeros(int(8 * tau_decay_s * rate_hz))
    spikes[0] = 1.0
    trace = convolve_calcium(spikes, tau_rise_s, tau_decay_s, rate_hz)
    t = np.arange(trace.size) / rate_hz
    t_peak = tau_rise_s * tau_decay_s / (tau_decay_s - tau_rise_s) * math.log(tau_decay_s / tau_rise_s)
    assert t[np.argmax(trace)] == pytest.approx(t_peak, abs=1.0 / rate_hz)
    assert kernel_peak_time_s(tau_rise_s, tau_decay_s) == pytest.approx(t_peak)
    assert trace.max() == pytest.approx(1.0, abs=1e-4)
    assert trace[0] == 0.0
    # Decay: the log-linear tail, well after the rise has died out.
    tail = (t > 8 * tau_rise_s) & (t < 4 * tau_decay_s)
    slope, log_amp = np.polyfit(t[tail], np.log(trace[tail]), 1)
    assert -1.0 / slope == pytest.approx(tau_decay_s, rel=0.02)
    # Rise: what the fitted decay exponential leaves over the first few rise times.
    early = (t > 0) & (t < 3 * tau_rise_s)
    residual = np.exp(log_amp + slope * t[early]) - trace[early]
    rise_slope = np.polyfit(t[early], np.log(residual), 1)[0]
    assert -1.0 / rise_slope == pytest.approx(tau_rise_s, rel=0.02)
    # The recursive filter equals the sampled kernel.
    kernel = calcium_kernel(tau_rise_s, tau_decay_s, rate_hz)
    np.testing.assert_allclose(trace[: kernel.size], kernel, atol=1e-12)


def test_lognormal_gain_has_mean_one_and_the_set_cv():
    draws = np.array([lognormal_gain(0.3, generator(0, 1, 0, i)) for i in range(20_000)])
    assert draws.mean() == pytest.approx(1.0, abs=4 * 0.3 / math.sqrt(draws.size))
    assert draws.std() / draws.mean() == pytest.approx(0.3, rel=0.05)
    assert (draws > 0).all()
    assert lognormal_gain(0.0, generator(0, 1)) == 1.0


def test_markov_gate_spends_the_stationary_fraction_active():
    p_qa, p_aq = 0.02, 0.2
    active = markov_gate(200_000, p_qa, p_aq, np.random.default_rng(0))
    assert active.mean() == pytest.approx(p_qa / (p_qa + p_aq), rel=0.08)
    runs = np.diff(np.flatnonzero(np.diff(active.astype(int)) != 0))
    assert runs.mean() == pytest.approx(0.5 * (1 / p_qa + 1 / p_aq), rel=0.1)  # alternating geometric runs


def test_activity_traces_open_at_steady_state():
    """The mean trace in the first frames equals the stationary mean, not a cold start.

    E[C] = f0 + E[spikes per fine bin] * sum_k kernel_k, with
    E[spikes per bin] = (pi_a * r_a + (1 - pi_a) * r_q) / rate.
    """
    act = ms.CellActivity(p_quiescent_to_active=0.05, p_active_to_quiescent=0.3, brightness_cv=0.0)
    fps, n_frames, n_cells = 20.0, 30, 600
    traces = simulate_cells(act, fps, n_frames, n_cells, seed=3)[0].astype(float)
    bins = round(act.spike_sim_hz / fps)
    rate = bins * fps
    pi_a = act.p_quiescent_to_active / (act.p_quiescent_to_active + act.p_active_to_quiescent)
    spikes_per_bin = (pi_a * act.active_rate_hz + (1 - pi_a) * act.quiescent_rate_hz) / rate
    a_d, a_r = math.exp(-1 / (act.tau_decay_s * rate)), math.exp(-1 / (act.tau_rise_s * rate))
    tp = kernel_peak_time_s(act.tau_rise_s, act.tau_decay_s)
    kernel_sum = (1 / (1 - a_d) - 1 / (1 - a_r)) / (math.exp(-tp / act.tau_decay_s) - math.exp(-tp / act.tau_rise_s))
    steady = act.f0 + spikes_per_bin * kernel_sum
    for window in (slice(0, 3), slice(-3, None)):
        values = traces[:, window].mean(axis=1)
        assert values.mean() == pytest.approx(steady, abs=4 * values.std() / math.sqrt(n_cells))
    assert (traces >= act.f0 - 1e-6).all()


def test_frame_averaged_calcium_equals_the_fine_grid_convolution():
    """The per-frame recursion over spikes equals convolving on the fine grid and averaging each frame."""
    bins, fps, tau_rise_s, tau_decay_s = 15, 20.0, 0.05, 0.5
    rate = bins * fps
    rng = np.random.default_rng(4)
    n_cells, n_frames = 3, 400
    fine = (rng.random((n_cells, n_frames * bins)) < 0.02).astype(float)
    fine[1, :bins] = 1.0  # a burst filling the first frame
    cell, pos = np.nonzero(fine)
    reference = np.array([convolve_calcium(f, tau_rise_s, tau_decay_s, rate) for f in fine])
    reference = reference.reshape(n_cells, n_frames, bins).mean(axis=2)
    # In two halves, the second continuing from the first's filter states.
    half = n_frames // 2
    first = pos < half * bins
    zeros = np.zeros(n_cells)
    head, decay, rise = frame_calcium(
        cell[first], pos[first] // bins, pos[first] % bins, (n_cells, half), bins, rate, tau_rise_s, tau_decay_s,
        zeros, zeros,
    )  # fmt: skip
    tail, _, _ = frame_calcium(
        cell[~first], pos[~first] // bins - half, pos[~first] % bins, (n_cells, n_frames - half), bins, rate,
        tau_rise_s, tau_decay_s, decay, rise,
    )  # fmt: skip
    np.testing.assert_allclose(np.concatenate([head, tail], axis=1), reference, rtol=1e-9, atol=1e-12)


def test_activity_is_one_process_across_segments():
    """Segments continue each other: a longer recording extends a shorter one exactly, and the
    spike rate and trace mean just after a segment boundary match those just before it."""
    act = ms.CellActivity(p_quiescent_to_active=0.05, brightness_cv=0.0)
    n_cells = 200
    long_C, long_S, _ = simulate_cells(act, 20.0, SEGMENT_FRAMES + 300, n_cells, seed=5)
    short_C, short_S, _ = simulate_cells(act, 20.0, SEGMENT_FRAMES + 100, n_cells, seed=5)
    np.testing.assert_array_equal(long_C[:, : short_C.shape[1]], short_C)
    np.testing.assert_array_equal(long_S[:, : short_S.shape[1]], short_S)
    before = long_C[:, SEGMENT_FRAMES - 20 : SEGMENT_FRAMES].mean(axis=1)
    after = long_C[:, SEGMENT_FRAMES : SEGMENT_FRAMES + 20].mean(axis=1)
    diff = after - before  # a reset at the boundary would drop every cell towards f0 and shift the mean
    assert abs(diff.mean()) < 4 * diff.std() / math.sqrt(n_cells)
    # A calcium transient that starts before the boundary decays smoothly across it.
    jumps = np.abs(np.diff(long_C, axis=1))
    at_boundary = jumps[:, SEGMENT_FRAMES - 1]
    elsewhere = jumps[:, SEGMENT_FRAMES + 5 : SEGMENT_FRAMES + 200].ravel()
    assert at_boundary.mean() < elsewhere.mean() + 4 * elsewhere.std() / math.sqrt(n_cells)


def test_activity_spikes_and_brightness_truth():
    rec = ms.simulate(positioned_spec([(30.0, 0.0, 0.0), (30.0, 10.0, 10.0)], duration_s=5.0), until="cell_activity")
    gt = rec.ground_truth
    assert gt.S.shape == gt.C.shape == (2, 100)
    assert (gt.S >= 0).all() and np.array_equal(gt.S, np.round(gt.S))
    floor = gt.amplitude_per_cell[:, None] * 1.0  # C = gain * (f0 + calcium) with f0 = 1
    assert (floor - 1e-12 <= gt.C).all()


# -- placement ------------------------------------------------------------------------------------


def test_cell_count_follows_the_documented_formula():
    pop = ms.NeuronPopulation(density_per_mm3=200_000, soma_radius_um=5.0, depth_range_um=(40.0, 40.0))
    assert expected_count(pop, (50.0, 50.0)) == pytest.approx(5.0)  # thickness floored to 2 r = 10 um
    gt = ms.simulate(placement_spec(pop, n_px=50)).ground_truth
    assert gt.n_units == 5


def test_placed_density_matches_density_per_mm3_within_sampling_error():
    """Cells inside the central quarter of a 256 um canvas, pooled over seeds: 3-sigma Poisson bound."""
    density, lo, hi = 40_000.0, 20.0, 120.0
    pop = ms.NeuronPopulation(density_per_mm3=density, depth_range_um=(lo, hi), soma_radius_um=4.0)
    inner, n_seeds = 64.0, 6
    counts = []
    for seed in range(n_seeds):
        centers = sample_centers_um(pop, (256.0, 256.0), generator(seed, 11))
        assert ((centers[:, 0] >= lo) & (centers[:, 0] <= hi)).all()
        assert (np.abs(centers[:, 1:]) <= 128.0).all()
        counts.append(int((np.abs(centers[:, 1:]) < inner).all(axis=1).sum()))
    expected = density * (2 * inner / 1000) ** 2 * ((hi - lo) / 1000) * n_seeds
    assert abs(sum(counts) - expected) < 3 * math.sqrt(expected)
    # And the whole recording's count through the engine.
    spec = placement_spec(pop, n_px=256)
    assert ms.simulate(spec).ground_truth.n_units == round(density * 0.256**2 * 0.1)


def test_min_distance_is_respected_in_3d():
    pop = ms.NeuronPopulation(density_per_mm3=60_000, depth_range_um=(0.0, 40.0), min_distance_um=12.0)
    centers = sample_centers_um(pop, (200.0, 200.0), generator(0, 11))
    assert len(centers) == round(expected_count(pop, (200.0, 200.0)))  # a loose packing reaches the density
    assert pdist(centers).min() >= 12.0
    free = sample_centers_um(pop.model_copy(update={"min_distance_um": 0.0}), (200.0, 200.0), generator(0, 11))
    assert pdist(free).min() < 12.0  # the constraint is doing something


def test_populations_and_explicit_positions():
    positions = [(35.0, -20.0, 10.0), (50.0, 30.0, -25.5)]
    pops = [
        ms.NeuronPopulation(density_per_mm3=50_000, depth_range_um=(10.0, 30.0), soma_radius_um=4.0),
        ms.NeuronPopulation(positions_um=positions, soma_radius_um=6.0),
        ms.NeuronPopulation(density_per_mm3=20_000, depth_range_um=(80.0, 120.0), morphology="cytosolic"),
    ]
    rec = ms.simulate(
        ms.Spec(
            acquisition=ms.Acquisition(
                duration_s=0.05, image_sensor=ms.ImageSensor(n_px_height=128, n_px_width=128, pixel_pitch_um=8.0)
            ),
            steps=[ms.PlaceNeurons(populations=pops)],
        )
    )
    gt = rec.ground_truth
    ids = gt.population_id
    canvas = (128.0, 128.0)
    assert (ids == 0).sum() == round(expected_count(pops[0], canvas))
    assert (ids == 2).sum() == round(expected_count(pops[2], canvas))
    np.testing.assert_array_equal(gt.centers_um[ids == 1], np.array(positions))
    assert (gt.depth_um[ids == 0] <= 30.0).all() and (gt.depth_um[ids == 2] >= 80.0).all()
    # Each population's soma size is its own: compare the planted areas of populations 0 and 1.
    area = np.array([p.sum() for p in gt.planted.patches])
    assert area[ids == 1].min() > area[ids == 0].max()


def test_explicit_positions_land_on_the_right_pixels():
    spec = positioned_spec([(30.0, 10.0, -10.0)], n_px=64, pixel_size_um=0.5, soma_radius_um=1.0)
    gt = ms.simulate(spec, until="place_neurons").ground_truth
    rows, cols = np.nonzero(gt.A_planted[0])
    # optical-center frame: row = (H - 1) / 2 + y / px
    assert rows.mean() == pytest.approx(31.5 + 10.0 / 0.5, abs=0.5)
    assert cols.mean() == pytest.approx(31.5 - 10.0 / 0.5, abs=0.5)


def test_soma_disk_area_and_peak():
    spec = placement_spec(
        n_px=96, positions_um=[(30.0, 0.0, 0.0)], soma_radius_um=8.0, irregularity=0.0, morphology="soma"
    )
    patch = ms.simulate(spec).ground_truth.planted.patches[0]
    assert set(np.unique(patch)) == {0.0, 1.0}
    assert patch.sum() == pytest.approx(math.pi * 8.0**2, rel=0.05)


def test_cytosolic_morphology_grows_dendrites():
    positions = [(30.0, y, x) for y in (-30.0, 30.0) for x in (-30.0, 30.0)]
    spec = placement_spec(n_px=128, positions_um=positions, soma_radius_um=6.0, morphology="cytosolic", seed=4)
    gt = ms.simulate(spec).ground_truth
    soma_area = math.pi * 6.0**2
    for patch in gt.planted.patches:
        assert patch.max() == 1.0  # soma peak stays 1
        assert (patch > 0).sum() > 1.5 * soma_area  # dendrites add area beyond the soma
        dendrite = patch[(patch > 0) & (patch < 1)]
        assert dendrite.size > 0 and dendrite.max() <= 0.55 + 1e-6 and dendrite.min() >= 0.05 - 1e-6
        r, c = np.nonzero(patch > 0)
        assert max(np.ptp(r), np.ptp(c)) > 2 * 6.0 + 10  # reaches well beyond the soma diameter
