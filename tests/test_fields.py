"""Static sensor-frame fields: illumination profile, vignette and leakage."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

import minisim as ms
from minisim.steps.fields import leakage_field, radial_falloff
from tests.conftest import small_spec


def with_steps(spec: ms.Spec, *extra: object, drop: tuple[str, ...] = ()) -> ms.Spec:
    """``spec`` with ``extra`` steps added and the kinds in ``drop`` removed (re-validated)."""
    steps = [s for s in spec.steps if s.kind not in drop]
    return ms.Spec(acquisition=spec.acquisition, seed=spec.seed, steps=[*steps, *extra])


def test_radial_falloff_is_one_at_center_and_falloff_at_farthest_corner():
    field = radial_falloff((65, 81), 2.0, falloff=0.3, exponent=2.0)
    assert field[32, 40] == pytest.approx(1.0)
    for corner in (field[0, 0], field[0, -1], field[-1, 0], field[-1, -1]):
        assert corner == pytest.approx(0.3, abs=1e-12)
    # Quadratic in r: half way to the corner along the diagonal loses a quarter of (1 - falloff).
    r_max = np.hypot(32 * 2.0, 40 * 2.0)
    y, x = 16, 20  # pixels half way from center to corner
    r = np.hypot((y - 32) * 2.0, (x - 40) * 2.0)
    assert field[y, x] == pytest.approx(1 - 0.7 * (r / r_max) ** 2)


def test_radial_falloff_offset_center_moves_the_peak_and_keeps_the_corner_rule():
    field = radial_falloff((41, 41), 1.0, falloff=0.5, exponent=3.0, center_offset_um=(-10.0, 5.0))
    peak = np.unravel_index(np.argmax(field), field.shape)
    assert peak == (10, 25)
    assert field.min() == pytest.approx(0.5, abs=1e-12)
    assert np.unravel_index(np.argmin(field), field.shape) == (40, 0)  # farthest corner from (-10, +5)


def test_leakage_profiles():
    g = leakage_field((51, 51), 1.0, "gaussian", level=0.2, sigma_um=10.0)
    assert g.max() == pytest.approx(0.2)
    assert g[25, 35] == pytest.approx(0.2 * np.exp(-0.5))
    u = leakage_field((5, 7), 1.0, "uniform", level=0.3, sigma_um=1.0)
    assert np.all(u == 0.3)
    acq = ms.Acquisition(image_sensor=ms.ImageSensor(n_px_height=40, n_px_width=80, pixel_pitch_um=8.0))
    assert ms.Leakage().resolved_sigma_um(acq) == pytest.approx(0.25 * 40.0)


def test_fields_multiply_and_add_the_movie_exactly_and_land_in_ground_truth():
    spec = with_steps(
        small_spec(duration_s=0.5),
        ms.IlluminationProfile(falloff=0.6),
        ms.Vignette(falloff=0.4, exponent=1.5),
        ms.Leakage(level=0.25),
        drop=("sensor",),
    )
    rec = ms.simulate(spec)
    gt = rec.ground_truth
    h, w = gt.fov_shape
    assert gt.illumination.shape == gt.vignette.shape == gt.leakage.shape == (h, w)
    assert gt.vignette.min() == pytest.approx(0.4)
    cells = rec.stage("cells_only").values
    illum = rec.stage("illumination_profile").values
    vig = rec.stage("vignette").values
    leak = rec.stage("leakage").values
    np.testing.assert_array_equal(illum, cells * gt.illumination.astype(np.float32))
    np.testing.assert_array_equal(vig, illum * gt.vignette.astype(np.float32))
    np.testing.assert_array_equal(leak, vig + gt.leakage.astype(np.float32))
    np.testing.assert_array_equal(rec.observed.values, leak)


def test_absent_fields_are_none():
    gt = ms.simulate(small_spec(duration_s=0.2)).ground_truth
    assert gt.illumination is None and gt.vignette is None and gt.leakage is None and gt.shifts is None


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: ms.IlluminationProfile(falloff=1.5), "falloff"),
        (lambda: ms.Vignette(falloff=-0.1), "falloff"),
        (lambda: ms.Vignette(exponent=0), "exponent"),
        (lambda: ms.Leakage(level=-1), "level"),
        (lambda: ms.Leakage(sigma_um=0), "sigma_um"),
        (lambda: ms.Leakage(profile="ring"), "profile"),
    ],
)
def test_bad_field_parameters_are_refused_with_value_and_fix(make, needle):
    with pytest.raises(pydantic.ValidationError) as err:
        make()
    text = str(err.value)
    assert needle in text
    assert "got " in text and "fix:" in text
