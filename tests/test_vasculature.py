"""Vasculature: Murray trees, capsule chords, Beer-Lambert shadows in the movie, overlap, no-op, validation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pydantic
import pytest

import minisim as ms
from minisim.steps.vasculature import layer_transmission
from minisim.steps.vessels import (
    Growth,
    beer_lambert_transmission,
    grow_vessel_tree,
    murray_angles,
    murray_children,
    rasterize_vessels,
)

LAYER = ms.VesselLayer(
    depth_um=0.0, n_roots=3, root_radius_um=6.0, min_radius_um=1.5, opacity=0.8, absorption_per_um=0.1
)


def _spec(*extra: ms.StepSpec, n_px: int = 64, duration_s: float = 2.0, focal: float = 0.0) -> ms.Spec:
    return ms.Spec(
        acquisition=ms.Acquisition(
            duration_s=duration_s,
            image_sensor=ms.ImageSensor(n_px_height=n_px, n_px_width=n_px, pixel_pitch_um=8.0),
            focal_depth_in_tissue_um=focal,
        ),
        seed=5,
        steps=[
            ms.PlaceNeurons(density_per_mm3=60_000, soma_radius_um=5.0, depth_range_um=(0.0, 10.0)),
            ms.CellActivity(p_quiescent_to_active=0.05),
            ms.CellOptics(),
            ms.Composite(),
            *extra,
        ],
    )


def test_murray_law_holds_at_every_bifurcation_of_a_grown_tree():
    growth = Growth(20.0, 1.0, 0.4, math.radians(10), math.radians(30), 0.7, 1.5)
    segments = grow_vessel_tree((-300.0, 300.0, -300.0, 300.0), (-300.0, 0.0, math.pi / 2), growth, (0, 1, 0, 0))
    starts: dict[tuple[float, float], list[float]] = {}
    for y0, x0, _, _, r in segments:
        starts.setdefault((y0, x0), []).append(r)
    n_checked = 0
    for _, _, y1, x1, r in segments:
        children = starts.get((y1, x1), [])
        if len(children) == 2:
            assert children[0] ** 3 + children[1] ** 3 == pytest.approx(r**3, rel=1e-12)
            n_checked += 1
    assert n_checked >= 5
    assert segments[:, 4].min() >= 1.0 and segments[:, 4].max() == 20.0


def test_murray_children_and_angles():
    r_main, r_side = murray_children(10.0, 0.7)
    assert r_main**3 + r_side**3 == pytest.approx(1000.0)
    assert r_main == pytest.approx(10 * 0.7 ** (1 / 3))
    # Symmetric split: both children at arccos(2**(-1/3)) ~ 37.5 degrees (Murray 1926b).
    r = 10 * 0.5 ** (1 / 3)
    a1, a2 = murray_angles(10.0, r, r)
    assert math.degrees(a1) == pytest.approx(37.47, abs=0.01) and a1 == pytest.approx(a2)
    main, side = murray_angles(10.0, r_main, r_side)
    assert side > main  # the thinner child leaves at the larger angle


def test_capsule_chord_on_the_spine_is_the_diameter_and_transmission_is_beer_lambert():
    segment = np.array([[0.0, -20.0, 0.0, 20.0, 4.0]])
    path = rasterize_vessels([segment], (21, 41), 1.0)  # pixel centers at integer um, spine on row 10
    assert path[10, 20] == pytest.approx(8.0)
    assert path[13, 20] == pytest.approx(2 * math.sqrt(16 - 9))
    assert path[15, 20] == 0.0
    # Consecutive capsules of one tree take the max (no doubled path at the joint); two trees add.
    halves = np.array([[0.0, -20.0, 0.0, 0.0, 4.0], [0.0, 0.0, 0.0, 20.0, 4.0]])
    np.testing.assert_allclose(rasterize_vessels([halves], (21, 41), 1.0), path)
    np.testing.assert_allclose(rasterize_vessels([segment, segment], (21, 41), 1.0), 2 * path)
    m = beer_lambert_transmission(path, 0.8, 0.1)
    assert m[10, 20] == pytest.approx(1 - 0.8 * (1 - math.exp(-0.8)))
    assert m[0, 0] == 1.0


def test_vessel_shadows_scale_the_movie_by_the_mask():
    neuropil = ms.Neuropil(amplitude=1.0)
    rec = ms.simulate(_spec(neuropil, ms.Vasculature(enabled=True, layers=[LAYER])))
    gt = rec.ground_truth
    before = rec.stage("neuropil").values.astype(float)
    after = rec.stage("vasculature").values.astype(float)
    mask = gt.vasculature_mask
    np.testing.assert_allclose(after, before * mask[None], rtol=1e-6)
    shadow = mask < 0.9
    assert shadow.mean() > 0.02
    # Mean intensity under the shadow falls by the Beer-Lambert factor of the mask there.
    ratio = after[:, shadow].mean() / before[:, shadow].mean()
    weighted = (before[:, shadow] * mask[shadow]).mean() / before[:, shadow].mean()
    assert ratio == pytest.approx(weighted, rel=1e-6)
    assert ratio < 0.85
    # At focus and at the surface the blur is sub-pixel: the darkest pixel is at least a trunk's Beer-Lambert depth.
    trunk = 1 - 0.8 * (1 - math.exp(-0.1 * 2 * 6.0))
    assert mask.min() <= trunk + 0.02
    assert mask.min() >= 0.2**3 - 1e-6  # at most three trees overlap


def test_overlap_fraction_is_one_minus_the_mask_weighted_footprint():
    rec = ms.simulate(_spec(ms.Vasculature(enabled=True, layers=[LAYER]), n_px=96))
    gt = rec.ground_truth
    A = gt.A_observed
    expected = 1 - (A * gt.vasculature_mask).sum(axis=(1, 2)) / A.sum(axis=(1, 2))
    np.testing.assert_allclose(gt.vessel_overlap_fraction, expected, rtol=1e-5, atol=1e-6)
    assert gt.vessel_overlap_fraction.max() > 0.05


def test_deeper_layer_out_of_focus_is_blurred_shallower():
    sharp = layer_transmission(LAYER, 0, 5, 1, (64, 64), (64, 64), 1.0, 0.3)
    blurred = layer_transmission(LAYER, 0, 5, 1, (64, 64), (64, 64), 1.0, 6.0)
    assert blurred.min() > sharp.min() + 0.1
    assert np.abs(np.diff(blurred, axis=1)).max() < 0.5 * np.abs(np.diff(sharp, axis=1)).max()


def test_vessels_in_view_do_not_depend_on_the_canvas_margin():
    small = layer_transmission(LAYER, 0, 9, 1, (48, 48), (48, 48), 1.0, 1.0)
    big = layer_transmission(LAYER, 0, 9, 1, (48, 48), (80, 80), 1.0, 1.0)
    np.testing.assert_allclose(big[16:64, 16:64], small, atol=1e-6)


def test_disabled_or_empty_vasculature_is_a_no_op():
    for step in (ms.Vasculature(), ms.Vasculature(enabled=True)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ms.SpecWarning)
            rec = ms.simulate(_spec(step))
        assert "vasculature" not in rec.stage_order
        assert rec.ground_truth.vasculature_mask is None
        assert rec.ground_truth.vessel_overlap_fraction is None
    with pytest.warns(ms.SpecWarning, match="does nothing"):
        _spec(ms.Vasculature(layers=[LAYER]))


@pytest.mark.filterwarnings("ignore::minisim.SpecWarning")
def test_observed_is_chunk_invariant_with_bleaching_neuropil_vasculature_and_motion():
    spec = _spec(
        ms.Bleaching(bleach_susceptibility=0.2),
        ms.Neuropil(spatial_sigma_um=8.0),
        ms.Vasculature(enabled=True, layers=[LAYER, ms.VesselLayer(depth_um=20.0, root_radius_um=5.0)]),
        ms.BrainMotion(model="walk", walk_step_um=0.5, max_shift_um=4.0),
        ms.Sensor(photons_per_unit=300),
    )
    one = ms.simulate(spec, chunk_frames=1).observed.values
    seven = ms.simulate(spec, chunk_frames=7).observed.values
    assert one.dtype == np.uint8
    np.testing.assert_array_equal(one, seven)


@pytest.mark.parametrize(
    ("kwargs", "needles"),
    [
        ({"min_radius_um": 30.0}, ["min_radius_um = 30.0 um", "root_radius_um", "fix"]),
        ({"opacity": 0.0}, ["opacity", "0.0", "fix"]),
        ({"branch_area_main": 0.4}, ["branch_area_main", "0.4", "> 0.5", "fix"]),
        ({"branch_prob": 1.0}, ["branch_prob", "per step", "fix"]),
        ({"root_radius_um": -2.0}, ["root_radius_um", "um", "fix"]),
    ],
)
def test_bad_vessel_layer_input_names_value_unit_and_fix(kwargs, needles):
    with pytest.raises(pydantic.ValidationError) as info:
        ms.VesselLayer(**kwargs)
    for needle in needles:
        assert needle in str(info.value)
