"""Emergent physics on small fixed-seed recordings: detectability, vignetting, sensor-frame fields.

Only the cell phase runs in most of these (simulate() is lazy and the
detectable flag is ground truth), so they are fast.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minisim as ms
from minisim.detection import DETECT_SNR_THRESHOLD, detection_snr, photon_field, sample_field_at


def acquisition(n_px: int = 64, pitch_um: float = 16.0, **kw) -> ms.Acquisition:
    """Square sensor at magnification 8 (2 µm pixels for a 16 µm pitch)."""
    duration_s = kw.pop("duration_s", 5.0)
    sensor = ms.ImageSensor(n_px_height=n_px, n_px_width=n_px, pixel_pitch_um=pitch_um)
    return ms.Acquisition(duration_s=duration_s, image_sensor=sensor, **kw)


def layer_spec(depth_um: float, focal_um: float = 50.0, photons_per_unit: float = 100.0) -> ms.Spec:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ms.SpecWarning)  # focusing outside the layer is the point
        return ms.Spec(
            acquisition=acquisition(focal_depth_in_tissue_um=focal_um),
            seed=0,
            steps=[
                ms.PlaceNeurons(
                    density_per_mm3=250_000, soma_radius_um=5.0, depth_range_um=(depth_um - 5, depth_um + 5)
                ),
                ms.CellActivity(),
                ms.CellOptics(),
                ms.Composite(),
                ms.Sensor(photons_per_unit=photons_per_unit),
            ],
        )


def test_detectable_fraction_falls_as_the_layer_moves_deeper_past_a_fixed_focus():
    # Same seed: the same cells (same lateral positions and activity), pushed deeper each time.
    truths = [ms.simulate(layer_spec(depth)).ground_truth for depth in (50.0, 70.0, 90.0, 130.0)]
    assert len({gt.n_units for gt in truths}) == 1
    fractions = np.array([gt.detectable.mean() for gt in truths])
    assert fractions[0] >= 0.7
    assert fractions[-1] <= 0.1
    assert np.all(np.diff(fractions) <= 0), fractions
    assert fractions[0] - fractions[1] >= 0.2  # 20 µm of defocus already costs a lot
    # Each cell's SNR falls monotonically with depth (defocus outgrows scatter, attenuation compounds).
    snr = np.stack([gt.snr for gt in truths])
    assert np.all(np.diff(snr, axis=0) < 0)


def test_steep_vignette_concentrates_detection_in_the_center():
    def inner_outer(vignette: ms.Vignette | None) -> tuple[float, float]:
        steps = [
            ms.PlaceNeurons(density_per_mm3=300_000, soma_radius_um=5.0, depth_range_um=(48.0, 52.0)),
            ms.CellActivity(p_quiescent_to_active=0.05, brightness_cv=0.1),
            ms.CellOptics(),
            ms.Composite(),
            ms.Sensor(photons_per_unit=4.0),
        ]
        spec = ms.Spec(
            acquisition=acquisition(n_px=128, focal_depth_in_tissue_um=50.0),
            seed=0,
            steps=steps + ([vignette] if vignette else []),
        )
        gt = ms.simulate(spec).ground_truth
        r = np.hypot(gt.centers_um[:, 1], gt.centers_um[:, 2]) / np.hypot(127.0, 127.0)  # r / r_max
        inner, outer = r < 0.4, r > 0.7
        assert inner.sum() >= 30 and outer.sum() >= 30
        return gt.detectable[inner].mean(), gt.detectable[outer].mean()

    flat_in, flat_out = inner_outer(None)
    vig_in, vig_out = inner_outer(ms.Vignette(falloff=0.1))
    assert abs(flat_in - flat_out) < 0.15  # without a vignette, detection is uniform
    assert vig_in - vig_out > 0.3  # with a steep one, the edge goes dark
    assert vig_in >= flat_in - 0.1  # and the center barely notices


@pytest.mark.filterwarnings("ignore::minisim.SpecWarning")
def test_sensor_frame_fields_do_not_move_with_the_brain():
    def record(amplitude_um: float) -> ms.Recording:
        spec = ms.Spec(
            acquisition=acquisition(duration_s=1.0),
            seed=0,
            steps=[
                ms.PlaceNeurons(density_per_mm3=100_000, soma_radius_um=5.0, depth_range_um=(20.0, 30.0)),
                ms.CellActivity(),
                ms.CellOptics(),
                ms.Composite(),
                ms.BrainMotion(motion_amplitude_um=amplitude_um, max_shift_um=8.0),
                ms.IlluminationProfile(falloff=0.5),
                ms.Vignette(falloff=0.3, center_offset_um=(10.0, -5.0)),
                ms.Leakage(level=0.3),
                ms.Sensor(photons_per_unit=100.0),
            ],
        )
        return ms.simulate(spec)

    small, large = record(1.0), record(6.0)
    for name in ("illumination", "vignette", "leakage"):
        np.testing.assert_array_equal(getattr(small.ground_truth, name), getattr(large.ground_truth, name))
    assert small.margin_px == large.margin_px
    assert np.abs(large.ground_truth.shifts).max() > 3 * np.abs(small.ground_truth.shifts).max()
    # In the movie: leakage and vignette stages differ by exactly the static leakage field, every frame.
    for rec in (small, large):
        diff = rec.stage("leakage").values - rec.stage("vignette").values
        np.testing.assert_allclose(diff, np.broadcast_to(rec.ground_truth.leakage, diff.shape), atol=1e-6)


@pytest.mark.filterwarnings("ignore::minisim.SpecWarning")
def test_detectable_flag_is_the_snr_rule_at_the_cell_center():
    spec = layer_spec(60.0)
    spec = ms.Spec(
        acquisition=spec.acquisition,
        seed=1,
        steps=[*spec.steps, ms.IlluminationProfile(falloff=0.4), ms.Vignette(falloff=0.5)],
    )
    gt = ms.simulate(spec).ground_truth
    acq = spec.acquisition
    field = photon_field(gt.illumination, gt.vignette)
    gain = gt.optical_brightness * sample_field_at(field, gt.centers_um[:, 1], gt.centers_um[:, 2], acq.pixel_size_um)
    gain = gain * spec.step("sensor").photons_per_unit * acq.image_sensor.quantum_efficiency
    C = gt.C
    snr = detection_snr(C.max(1) - C.min(1), C.min(1), gain, acq.image_sensor.read_noise_e)
    np.testing.assert_allclose(gt.snr, snr)
    np.testing.assert_array_equal(gt.detectable, snr >= DETECT_SNR_THRESHOLD)
    assert 0 < gt.detectable.sum() < gt.n_units
    sub = gt.detectable_subset()
    assert sub.n_units == gt.detectable.sum() and sub.detectable.all()
    np.testing.assert_array_equal(sub.C, gt.C[gt.detectable])
    assert sub.vignette is gt.vignette  # per-effect fields carried unchanged


def test_auto_focus_scan_and_ground_truth_use_the_same_detectability():
    """The scan's per-plane SNR (peak drop x attenuation x NA^2 x fields), evaluated at the chosen plane,
    is the ground-truth SNR, so the flagged cells are the ones the scan counted."""
    spec = ms.Spec(
        acquisition=acquisition(focal_depth_in_tissue_um="auto"),
        seed=2,
        steps=[
            ms.PlaceNeurons(density_per_mm3=150_000, soma_radius_um=5.0, depth_range_um=(30.0, 90.0)),
            ms.CellActivity(),
            ms.CellOptics(),
            ms.Composite(),
            ms.Vignette(falloff=0.3),
            ms.Sensor(photons_per_unit=100.0),
        ],
    )
    gt = ms.simulate(spec).ground_truth
    acq = spec.acquisition
    z, y, x = gt.centers_um.T
    assert 30.0 < gt.focal_depth_um < 90.0
    sigma0 = np.hypot(acq.optics.diffraction_sigma_um, acq.tissue.scatter_sigma_um(z))
    peak_drop = sigma0**2 / (sigma0**2 + (acq.optics.na * (z - gt.focal_depth_um)) ** 2)  # flat field: no sagitta
    gain = (
        peak_drop * acq.tissue.attenuation(z) * acq.optics.na**2 * sample_field_at(gt.vignette, y, x, acq.pixel_size_um)
    )
    gain = gain * 100.0 * acq.image_sensor.quantum_efficiency
    C = gt.C.astype(np.float64)
    snr = detection_snr(C.max(1) - C.min(1), C.min(1), gain, acq.image_sensor.read_noise_e)
    np.testing.assert_allclose(gt.snr, snr, rtol=1e-10)
    assert 0 < gt.detectable.sum() < gt.n_units


def test_auto_focus_scan_sees_each_cell_as_the_truth_does_under_field_curvature(monkeypatch):
    """With field curvature the scan's per-cell SNR at the chosen plane is the ground-truth SNR.

    Off-axis cells focus shallower by the sagitta; scatter and attenuation still act at their
    true depth. A scan that evaluated them at ``depth + sagitta`` dimmed corner cells relative
    to the truth (about 3x at the V4 preset's corners), so it counted other cells than the
    truth flags.
    """
    import minisim.steps.optics as optics_mod

    seen: list[np.ndarray] = []
    real_snr = optics_mod.detection_snr

    def recording_snr(*args, **kwargs):
        out = real_snr(*args, **kwargs)
        seen.append(np.asarray(out))
        return out

    monkeypatch.setattr(optics_mod, "detection_snr", recording_snr)
    rng = np.random.default_rng(5)
    n = 40
    positions = np.column_stack([rng.uniform(40.0, 70.0, n), rng.uniform(-55.0, 55.0, n), rng.uniform(-55.0, 55.0, n)])
    spec = ms.Spec(
        acquisition=acquisition(
            focal_depth_in_tissue_um="auto", optics=ms.Optics(na=0.45, field_curvature_radius_um=200.0)
        ),
        seed=3,
        steps=[
            ms.PlaceNeurons(positions_um=positions.tolist(), soma_radius_um=4.0, irregularity=0.0),
            ms.CellActivity(),
            ms.CellOptics(),
            ms.Composite(),
            ms.Sensor(photons_per_unit=60.0),
        ],
    )
    gt = ms.simulate(spec).ground_truth
    assert gt.n_units == n  # every cell is inside the field of view
    sag = spec.acquisition.optics.focal_curvature_shift_um(np.hypot(positions[:, 1], positions[:, 2]))
    assert sag.max() > 10.0  # the corners really are curved away
    (scan_snr,) = seen
    effective = positions[:, 0] + sag
    planes = np.linspace(effective.min(), effective.max(), optics_mod.N_FOCUS_PLANES)
    row = int(np.argmin(np.abs(planes - gt.focal_depth_um)))
    np.testing.assert_allclose(scan_snr[row], gt.snr, rtol=1e-9)
    np.testing.assert_array_equal(scan_snr[row] >= DETECT_SNR_THRESHOLD, gt.detectable)
