"""The Spec contract: 1.0 fields and defaults, validation messages, ordering, JSON, cache key."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from pydantic import ValidationError

import minisim as ms
import minisim.spec as spec_module
from minisim.steps.registry import CANONICAL_ORDER, STEP_FOR_KIND, STEPS
from tests.conftest import small_spec


def error_text(fn, *args, **kwargs) -> str:
    with pytest.raises(ValidationError) as info:
        fn(*args, **kwargs)
    return str(info.value)


def assert_mentions(text: str, *fragments: str) -> None:
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} missing from:\n{text}"


# -- minisim 1.0 field names, units and defaults (peer doc §1.2-1.9) ----------------------------

DEFAULTS = {
    ms.Optics: {
        "na": 0.45,
        "magnification": 8.0,
        "emission_nm": 525.0,
        "depth_of_field_um": "auto",
        "field_curvature_radius_um": None,
    },
    ms.ImageSensor: {
        "n_px_height": 256,
        "n_px_width": 256,
        "pixel_pitch_um": 3.0,
        "quantum_efficiency": 0.7,
        "read_noise_e": 2.0,
        "gain_adu_per_e": 1.0,
        "bit_depth": 8,
    },
    ms.Tissue: {"scatter_mfp_excitation_um": 600.0, "scatter_mfp_emission_um": 100.0, "scatter_blur_per_um": 0.05},
    ms.Acquisition: {
        "fps": 20.0,
        "duration_s": 150.0,
        "focal_depth_in_tissue_um": "auto",
        "front_working_distance_um": None,
    },
    ms.Output: {"save_intermediates": False, "store_dtype": "float32"},
    ms.NeuronPopulation: {
        "density_per_mm3": 25_000.0,
        "soma_radius_um": 7.0,
        "irregularity": 0.3,
        "morphology": "soma",
        "dendrite_length_um": 24.0,
        "dendrite_width_um": 3.0,
        "depth_range_um": (0.0, 200.0),
        "min_distance_um": 0.0,
        "positions_um": None,
    },
    ms.PlaceNeurons: {"kind": "place_neurons", "populations": None, "density_per_mm3": 25_000.0},
    ms.CellActivity: {
        "kind": "cell_activity",
        "spike_sim_hz": 300.0,
        "p_quiescent_to_active": 0.005,
        "p_active_to_quiescent": 0.3,
        "active_rate_hz": 150.0,
        "quiescent_rate_hz": 0.6,
        "tau_rise_s": 0.05,
        "tau_decay_s": 0.5,
        "brightness_cv": 0.3,
        "f0": 1.0,
        "trace_noise": 0.0,
    },
    ms.CellOptics: {"kind": "optics"},
    ms.Composite: {"kind": "composite"},
    ms.Sensor: {"kind": "sensor", "photons_per_unit": 100.0},
}


@pytest.mark.parametrize("model", list(DEFAULTS), ids=lambda m: m.__name__)
def test_fields_and_defaults_match_minisim_1_0(model):
    instance = model()
    for name, default in DEFAULTS[model].items():
        assert getattr(instance, name) == default, name


def test_spec_defaults_and_required_steps():
    spec = ms.Spec(steps=[])
    assert spec.seed == 42
    assert spec.acquisition == ms.Acquisition()
    assert_mentions(error_text(ms.Spec), "steps", "fix")


def test_derived_quantities_match_the_documented_formulas():
    acq = ms.Acquisition()
    assert acq.pixel_size_um == pytest.approx(3.0 / 8.0)
    assert acq.n_frames == 3000
    assert acq.fov_um == pytest.approx((96.0, 96.0))
    assert acq.um_to_index(0.0, 0.0) == pytest.approx((127.5, 127.5))
    # minisim 1.0 public helpers, unused inside the package but kept.
    assert acq.um_to_px(np.array([0.75, 3.0])) == pytest.approx([2.0, 8.0])
    assert acq.s_to_frame(1.5) == pytest.approx(30.0)
    assert acq.optics.resolved_depth_of_field_um == pytest.approx(1.33 * 0.525 / 0.45**2)  # ~3.4 um
    assert acq.optics.diffraction_sigma_um == pytest.approx(0.21 * 0.525 / 0.45)
    assert acq.tissue.scatter_mfp_um == pytest.approx(1 / (1 / 600 + 1 / 100))  # ~85.7 um
    assert ms.Optics(field_curvature_radius_um=1000.0).focal_curvature_shift_um(30.0) == pytest.approx(
        1000 - (1000**2 - 30**2) ** 0.5
    )


# -- frozen, extra=forbid, hashable ---------------------------------------------------------------


def test_models_are_frozen_and_hashable():
    spec = small_spec()
    with pytest.raises(ValidationError):
        spec.seed = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        spec.acquisition.optics.na = 0.3  # type: ignore[misc]
    positioned = ms.Spec(steps=[ms.PlaceNeurons(positions_um=[(10.0, 0.0, 0.0)])])
    assert {spec, small_spec(), positioned} == {spec, positioned}
    assert hash(spec) == hash(small_spec())


def test_mistyped_field_is_rejected_with_a_suggestion():
    text = error_text(ms.Optics, nna=0.5)
    assert_mentions(text, "nna", "did you mean 'na'", "fix")
    text = error_text(ms.Spec.model_validate, {"steps": [{"kind": "sensor", "photons_per_units": 5}]})
    assert_mentions(text, "photons_per_units", "did you mean 'photons_per_unit'")


# -- steps: canonical order, one per kind, known kinds, dependencies --------------------------------


def test_registry_is_the_single_source_of_order_and_kinds():
    assert tuple(STEP_FOR_KIND) == CANONICAL_ORDER
    assert [STEP_FOR_KIND[k] for k in CANONICAL_ORDER] == list(STEPS)
    # The design's canonical chain, restricted to the kinds registered so far.
    chain = [
        *("place_neurons", "cell_activity", "bleaching", "optics", "composite", "neuropil", "vasculature"),
        *("brain_motion", "illumination_profile", "vignette", "leakage", "sensor"),
    ]
    assert list(CANONICAL_ORDER) == [k for k in chain if k in CANONICAL_ORDER]
    assert not hasattr(ms, "StepSpec") and not hasattr(ms, "order_steps")


def test_steps_are_sorted_canonically_and_order_does_not_change_identity():
    spec = small_spec()
    shuffled = spec.model_copy(update={"steps": list(reversed(spec.steps))})
    rebuilt = ms.Spec(acquisition=spec.acquisition, seed=spec.seed, steps=list(reversed(spec.steps)))
    assert [s.kind for s in rebuilt.steps] == ["place_neurons", "cell_activity", "optics", "composite", "sensor"]
    assert rebuilt == spec
    assert rebuilt.cache_key() == spec.cache_key()
    assert ms.Spec.model_validate(shuffled.model_dump()) == spec


def test_duplicated_kind_is_rejected_naming_the_kind_and_fix():
    text = error_text(ms.Spec, steps=[ms.Sensor(), ms.PlaceNeurons(), ms.Sensor(photons_per_unit=5)])
    assert_mentions(text, "steps", "'sensor'", "more than once", "fix")


def test_unknown_kind_lists_every_valid_kind():
    text = error_text(ms.Spec.model_validate, {"steps": [{"kind": "place_neurons"}, {"kind": "bogus"}]})
    assert_mentions(text, "steps.1.kind", "'bogus'", "fix", *CANONICAL_ORDER)
    assert_mentions(error_text(ms.Spec.model_validate, {"steps": [{"kind": "sensr"}]}), "did you mean 'sensor'")
    assert_mentions(error_text(ms.Spec.model_validate, {"steps": [{"kynd": "sensor"}]}), "no 'kind'", "place_neurons")


def test_declared_dependencies_are_checked():
    text = error_text(ms.Spec, steps=[ms.Composite()])
    assert_mentions(text, "composite", "planted_footprints", "fix", "place_neurons")
    text = error_text(ms.Spec, steps=[ms.CellActivity(), ms.Sensor()])
    assert_mentions(text, "cell_activity", "centers_um", "place_neurons")
    # Partial pipelines whose needs are met are first-class.
    assert [s.kind for s in ms.Spec(steps=[ms.Composite(), ms.PlaceNeurons()]).steps] == ["place_neurons", "composite"]
    assert ms.Spec(steps=[ms.Sensor()]).steps[0].kind == "sensor"


# -- bad input: field, value and fix ---------------------------------------------------------------


def test_negative_na_names_field_value_and_fix():
    text = error_text(ms.Optics, na=-0.1)
    assert_mentions(text, "na", "-0.1", "> 0", "fix")
    nested = error_text(ms.Spec.model_validate, {"acquisition": {"optics": {"na": -0.1}}, "steps": []})
    assert_mentions(nested, "acquisition.optics.na", "-0.1", "fix")


def test_soma_larger_than_fov_names_field_value_and_fix():
    acq = ms.Acquisition(image_sensor=ms.ImageSensor(n_px_height=16, n_px_width=16, pixel_pitch_um=3.0))  # 6 um FOV
    text = error_text(ms.Spec, acquisition=acq, steps=[ms.PlaceNeurons(soma_radius_um=5.0)])
    assert_mentions(text, "steps.0.place_neurons.soma_radius_um", "5.0", "6.0 um field of view", "fix")
    # The biggest soma over all populations counts.
    pops = [ms.NeuronPopulation(soma_radius_um=1.0), ms.NeuronPopulation(soma_radius_um=4.0)]
    assert_mentions(error_text(ms.Spec, acquisition=acq, steps=[ms.PlaceNeurons(populations=pops)]), "4.0")
    ms.Spec(acquisition=acq, steps=[ms.PlaceNeurons(soma_radius_um=3.0)])  # exactly fits


@pytest.mark.parametrize(("rise", "decay"), [(0.5, 0.5), (1.0, 0.5)])
def test_rise_not_faster_than_decay_is_rejected(rise, decay):
    text = error_text(ms.CellActivity, tau_rise_s=rise, tau_decay_s=decay)
    assert_mentions(text, "tau_rise_s", f"{rise}", f"{decay}", "fix")
    via_spec = error_text(
        ms.Spec.model_validate,
        {"steps": [{"kind": "place_neurons"}, {"kind": "cell_activity", "tau_rise_s": rise, "tau_decay_s": decay}]},
    )
    assert_mentions(via_spec, "steps.1.cell_activity.tau_rise_s", "fix")


def test_decay_shorter_than_a_frame_is_rejected():
    text = error_text(
        ms.Spec, acquisition=ms.Acquisition(fps=5.0), steps=[ms.PlaceNeurons(), ms.CellActivity(tau_decay_s=0.1)]
    )
    assert_mentions(text, "tau_decay_s", "0.1", "fps = 5.0", "fix")


@pytest.mark.parametrize(
    ("model", "field", "value", "want"),
    [
        (ms.Optics, "na", "wide", "a number"),
        (ms.ImageSensor, "bit_depth", "eight", "an integer"),
        (ms.Acquisition, "focal_depth_in_tissue_um", "deep", "a number or 'auto'"),
        (ms.PlaceNeurons, "morphology", "spiny", "'soma' or 'cytosolic'"),
        (ms.Output, "save_intermediates", "maybe", "boolean"),
    ],
)
def test_wrong_type_names_field_value_and_fix(model, field, value, want):
    text = error_text(model, **{field: value})
    assert_mentions(text, field, repr(value), want, "fix")


def test_other_range_errors_name_field_value_and_fix():
    assert_mentions(error_text(ms.Spec, seed=-1, steps=[]), "seed", "-1", "fix")
    assert_mentions(error_text(ms.Acquisition, focal_depth_in_tissue_um=-3.0), "focal_depth_in_tissue_um", "-3", "fix")
    assert_mentions(error_text(ms.ImageSensor, quantum_efficiency=1.5), "quantum_efficiency", "1.5", "<= 1", "fix")
    assert_mentions(error_text(ms.Acquisition, duration_s=0.01), "duration_s", "0.01", "fix")
    assert_mentions(error_text(ms.NeuronPopulation, depth_range_um=(50.0, 10.0)), "depth_range_um", "fix")
    assert_mentions(error_text(ms.PlaceNeurons, positions_um=[(-1.0, 0.0, 0.0)]), "positions_um", "-1.0", "fix")
    text = error_text(ms.PlaceNeurons, soma_radius_um=3.0, populations=[ms.NeuronPopulation()])
    assert_mentions(text, "soma_radius_um", "populations", "fix")


# -- warnings ------------------------------------------------------------------------------------


def _warnings_of(build):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build()
    return [w for w in caught if issubclass(w.category, ms.SpecWarning)]


def test_focal_depth_outside_the_cells_warns_but_builds():
    caught = _warnings_of(lambda: small_spec(focal_depth_in_tissue_um=150.0))
    assert len(caught) == 1
    assert_mentions(str(caught[0].message), "focal_depth_in_tissue_um", "150", "40", "60")
    assert not _warnings_of(lambda: small_spec(focal_depth_in_tissue_um=50.0))
    assert not _warnings_of(lambda: small_spec(focal_depth_in_tissue_um="auto"))


def test_focus_warning_considers_every_population_and_explicit_positions():
    acq = ms.Acquisition(focal_depth_in_tissue_um=100.0)
    shallow, deep = ms.NeuronPopulation(depth_range_um=(0, 20)), ms.NeuronPopulation(depth_range_um=(90, 110))
    assert not _warnings_of(lambda: ms.Spec(acquisition=acq, steps=[ms.PlaceNeurons(populations=[shallow, deep])]))
    assert _warnings_of(lambda: ms.Spec(acquisition=acq, steps=[ms.PlaceNeurons(populations=[shallow])]))
    assert _warnings_of(lambda: ms.Spec(acquisition=acq, steps=[ms.PlaceNeurons(positions_um=[(30.0, 0.0, 0.0)])]))
    assert not _warnings_of(lambda: ms.Spec(acquisition=acq, steps=[ms.PlaceNeurons(positions_um=[(100.0, 0.0, 0.0)])]))


def test_explicit_positions_outside_the_fov_warn():
    acq = ms.Acquisition(image_sensor=ms.ImageSensor(n_px_height=64, n_px_width=64, pixel_pitch_um=8.0))  # 64 um
    inside = ms.PlaceNeurons(positions_um=[(30.0, 20.0, -20.0)], soma_radius_um=5.0)
    assert not _warnings_of(lambda: ms.Spec(acquisition=acq, steps=[inside]))
    outside = ms.PlaceNeurons(positions_um=[(30.0, 0.0, 0.0), (30.0, 0.0, 45.0)], soma_radius_um=5.0)
    caught = _warnings_of(lambda: ms.Spec(acquisition=acq, steps=[outside]))
    assert len(caught) == 1 and "45.0" in str(caught[0].message) and "dropped" in str(caught[0].message)
    with pytest.warns(ms.SpecWarning):
        short = ms.Spec(acquisition=acq.model_copy(update={"duration_s": 0.05}), steps=[outside])
    rec = ms.simulate(short)
    assert rec.ground_truth.n_units == 1  # as warned


# -- JSON ------------------------------------------------------------------------------------------


def _rich_spec() -> ms.Spec:
    return ms.Spec(
        acquisition=ms.Acquisition(
            duration_s=3.0,
            focal_depth_in_tissue_um=42.5,
            optics=ms.Optics(na=0.5, field_curvature_radius_um=2000.0, depth_of_field_um=10.0),
        ),
        seed=7,
        steps=[
            ms.Sensor(shot_noise="gaussian"),
            ms.PlaceNeurons(
                populations=[
                    ms.NeuronPopulation(morphology="cytosolic", depth_range_um=(30, 50), min_distance_um=8.0),
                    ms.NeuronPopulation(positions_um=[(42.0, 1.5, -2.25)]),
                ]
            ),
            ms.CellActivity(tau_rise_s=0.1),
            ms.CellOptics(),
            ms.Composite(),
        ],
        output=ms.Output(save_intermediates=True),
    )


def test_json_round_trip_string_file_and_model_validate_json(tmp_path):
    spec = _rich_spec()
    text = spec.to_json()
    assert json.loads(text)["steps"][0]["kind"] == "place_neurons"
    assert ms.Spec.from_json(text) == spec
    assert ms.Spec.model_validate_json(text) == spec
    path = tmp_path / "spec.json"
    spec.to_json(path)
    assert ms.Spec.from_json(path) == spec
    assert ms.Spec.from_json(str(path)) == spec
    assert ms.Spec.from_json(path).cache_key() == spec.cache_key()


def test_malformed_json_file_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"steps": [{"kind": "sensor"},')
    text = error_text(ms.Spec.from_json, path)
    assert_mentions(text, str(path), "not valid JSON", "fix")
    bad_field = tmp_path / "bad_field.json"
    bad_field.write_text(json.dumps({"acquisition": {"optics": {"na": -1}}, "steps": []}))
    assert_mentions(error_text(ms.Spec.from_json, bad_field), str(bad_field), "acquisition.optics.na", "-1", "fix")
    with pytest.raises(FileNotFoundError, match=r"missing\.json"):
        ms.Spec.from_json(tmp_path / "missing.json")


# -- cache key -------------------------------------------------------------------------------------


def test_cache_key_is_identical_in_fresh_processes(fresh_process_results):
    # Two interpreters with different str-hash salts (see conftest.fresh_process_results).
    assert [r["cache_key"] for r in fresh_process_results] == [small_spec().cache_key()] * 2
    assert len(small_spec().cache_key()) == 16


def test_cache_key_tracks_content_and_engine_version(monkeypatch):
    base = small_spec().cache_key()
    assert small_spec(seed=1).cache_key() != base
    assert small_spec(duration_s=3.0).cache_key() != base
    monkeypatch.setattr(spec_module, "ENGINE_VERSION", spec_module.ENGINE_VERSION + "+bump")
    assert small_spec().cache_key() != base
