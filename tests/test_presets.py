"""Scope and region presets, build_spec, name lookup, and the full V4 x CA1 chain."""

from __future__ import annotations

import dask
import numpy as np
import pytest

import minisim as ms
from minisim import presets
from minisim.engine import Artifacts, build_movie, geometry_of
from minisim.steps.bleaching import Bleaching
from minisim.steps.registry import CANONICAL_ORDER

N_FRAMES = 10


def raising_get(*args, **kwargs):
    raise AssertionError("simulate() ran a dask computation")


def test_miniscope_v4_numbers():
    scope = presets.miniscope_v4()
    assert scope.pixel_size_um == pytest.approx(1.655, abs=1e-3)
    assert scope.fov_um[0] == pytest.approx(1006.0, abs=1.0)
    assert scope.fov_um[1] == pytest.approx(1006.0, abs=1.0)
    assert scope.optics.na == 0.3 and scope.optics.magnification == 2.9
    assert scope.optics.field_curvature_radius_um == 2500.0
    assert scope.image_sensor.n_px_height == scope.image_sensor.n_px_width == 608
    assert scope.image_sensor.bit_depth == 8
    assert scope.illumination.falloff == 0.7 and scope.vignette.falloff == 0.6
    assert scope.leakage.profile == "gaussian" and scope.leakage.level == 0.08
    assert scope.photons_per_unit == 600.0 and scope.front_working_distance_um == 700.0
    spec = presets.build_spec(scope, presets.ca1(), duration_s=1.0)
    assert spec.acquisition.pixel_size_um == pytest.approx(scope.pixel_size_um)
    assert spec.step("sensor").photons_per_unit == 600.0


def test_generic_scope_and_regions():
    generic = presets.generic_1p()
    assert generic.pixel_size_um == pytest.approx(0.375)
    assert generic.fov_um == pytest.approx((96.0, 96.0))
    assert generic.illumination is None and generic.vignette is None and generic.leakage is None
    ca1, ctx = presets.ca1(), presets.cortex_l23()
    assert (ca1.population.density_per_mm3, ca1.population.soma_radius_um) == (45_000, 5.0)
    assert ca1.population.morphology == "cytosolic" and ca1.population.depth_range_um == (140.0, 160.0)
    assert ca1.neuropil.amplitude == 0.4
    (layer,) = ca1.vasculature.layers
    assert (layer.depth_um, layer.n_roots, layer.root_radius_um, layer.opacity) == (120.0, 3, 14.0, 0.65)
    assert (ctx.population.density_per_mm3, ctx.population.soma_radius_um) == (8_000, 6.0)
    assert ctx.population.depth_range_um == (100.0, 200.0) and ctx.neuropil.amplitude == 0.6
    (layer,) = ctx.vasculature.layers
    assert (layer.depth_um, layer.n_roots, layer.root_radius_um, layer.opacity) == (80.0, 2, 25.0, 0.9)
    assert (layer.branch_prob, layer.tortuosity_deg) == (0.15, 5.0)


def test_build_spec_toggles_and_extras():
    scope, region = presets.miniscope_v4(), presets.ca1()
    full = presets.build_spec(scope, region, duration_s=1.0)
    kinds = [s.kind for s in full.steps]
    assert "brain_motion" not in kinds and "bleaching" not in kinds  # not part of a preset (as in 1.0)
    assert {"neuropil", "vasculature", "illumination_profile", "vignette", "leakage"} <= set(kinds)
    bare = presets.build_spec(
        scope, region, duration_s=1.0, include_neuropil=False, include_vasculature=False, include_scope_fields=False
    )
    assert [s.kind for s in bare.steps] == ["place_neurons", "cell_activity", "optics", "composite", "sensor"]
    custom = presets.build_spec(
        scope,
        region,
        duration_s=2.0,
        fps=10.0,
        seed=7,
        sensor=ms.Sensor(photons_per_unit=50),
        activity=ms.CellActivity(brightness_cv=0.1),
        extra_steps=(ms.BrainMotion(), ms.Vignette(falloff=0.2)),
        save_intermediates=True,
    )
    assert custom.acquisition.n_frames == 20 and custom.seed == 7 and custom.output.save_intermediates
    assert custom.step("sensor").photons_per_unit == 50 and custom.step("cell_activity").brightness_cv == 0.1
    assert custom.step("vignette").falloff == 0.2  # an extra replaces the preset's step of its kind
    assert custom.step("brain_motion") is not None
    two = [
        ms.NeuronPopulation(depth_range_um=(140, 160)),
        ms.NeuronPopulation(soma_radius_um=4, depth_range_um=(150, 170)),
    ]
    assert (
        len(presets.build_spec(scope, region, duration_s=1.0, populations=two).step("place_neurons").populations) == 2
    )


@pytest.mark.parametrize("scope", sorted(presets.SCOPES))
@pytest.mark.parametrize("region", sorted(presets.REGIONS))
def test_every_scope_by_region_builds_by_name(scope, region):
    spec = presets.preset_spec(scope, region, duration_s=1.0, seed=3)
    assert spec.seed == 3 and spec.step("place_neurons").populations[0] == presets.REGIONS[region]().population
    assert spec.acquisition.image_sensor == presets.SCOPES[scope]().image_sensor


def test_preset_names_are_forgiving_and_unknown_names_list_the_known_ones():
    assert presets.scope_named("Miniscope-V4") == presets.miniscope_v4()
    with pytest.raises(ValueError, match=r"unknown scope 'v5'; known scopes: generic_1p, miniscope_v4"):
        presets.preset_spec("v5", "ca1")
    with pytest.raises(ValueError, match=r"unknown region 'cortex'; known regions: ca1, cortex_l23"):
        presets.preset_spec("generic_1p", "cortex")


# --- the full chain: V4 x CA1 with all twelve steps --------------------------------------------


@pytest.fixture(scope="module")
def full_spec() -> ms.Spec:
    spec = presets.preset_spec(
        "miniscope_v4", "ca1", duration_s=N_FRAMES / 20, extra_steps=(ms.BrainMotion(), Bleaching())
    )
    assert tuple(s.kind for s in spec.steps) == CANONICAL_ORDER
    return spec


@pytest.fixture(scope="module")
def full_recording(full_spec):
    """Simulated under a scheduler that raises: building the recording computes nothing movie-sized."""
    with dask.config.set(scheduler=raising_get):
        rec = ms.simulate(full_spec, chunk_frames=1)
        with pytest.raises(AssertionError, match="ran a dask computation"):
            rec.observed[:1].values  # noqa: B018 - the raising scheduler really is active
    return rec


def test_full_v4_ca1_is_lazy_and_has_every_ground_truth(full_recording):
    gt = full_recording.ground_truth
    expected = ("cells_only", "neuropil", "vasculature", "brain_motion")
    expected += ("illumination_profile", "vignette", "leakage", "sensor")
    assert full_recording.stage_order == expected
    assert gt.n_units > 500 and 0 < gt.detectable.sum() < gt.n_units
    assert gt.shifts.shape == (N_FRAMES, 2) and full_recording.margin_px == 11
    for name in ("illumination", "vignette", "leakage", "vasculature_mask"):
        assert getattr(gt, name).shape == (608, 608), name
    assert gt.bleaching.shape == gt.C.shape


def test_full_v4_ca1_is_chunk_invariant(full_spec, full_recording):
    with dask.config.set(scheduler="synchronous"):
        reference = full_recording.observed[:N_FRAMES].values  # chunk_frames=1
    assert reference.dtype == np.uint8 and reference.shape == (N_FRAMES, 608, 608)
    assert reference.std() > 5
    # The cell phase never sees the chunking; rebuild only the frame-phase graph on one set of artifacts.
    artifacts = Artifacts(full_spec, geometry_of(full_spec))
    artifacts.run_all()
    for chunk_frames in (7, 64):
        stages, order = build_movie(full_spec, artifacts, chunk_frames, None)
        with dask.config.set(scheduler="threads"):
            movie = stages[order[-1]][:N_FRAMES].compute()
        np.testing.assert_array_equal(movie, reference, err_msg=f"chunk_frames={chunk_frames}")
