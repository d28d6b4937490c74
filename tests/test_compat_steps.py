"""minisim 1.0's public ``minisim.steps`` / ``minisim.footprint`` / ``minisim.scene`` helpers.

Each 1.0 helper must resolve at its 1.0 path with 1.0's parameter names, give
physically right values, and each eager-engine name must raise
:class:`RemovedAPIError` naming its replacement. ``test_matches_real_1_0_3``
compares deterministic helpers against the real 1.0.3 wheel from PyPI.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from minisim._base import RemovedAPIError

#: 1.0.3's parameter names of each public helper, keyed by (1.0 module path, name); read off the wheel.
SIGNATURES_1_0 = {
    ("minisim.steps.cell", "neuron_footprint"): (
        "shape", "center_px", "radius_px", "irregularity", "rng", "morphology", "dendrite_length_px",
        "dendrite_width_px",
    ),
    ("minisim.steps.cell", "sample_neurons"): ("spec", "fov_h_um", "fov_w_um", "rng"),
    ("minisim.steps.cell", "calcium_kernel"): ("tau_rise_s", "tau_decay_s", "fps"),
    ("minisim.steps.cell", "kernel_timing"): ("tau_rise_s", "tau_decay_s"),
    ("minisim.steps.cell", "tau_from_kernel_timing"): ("t_peak_s", "fwhm_s"),
    ("minisim.steps.cell", "spike_activity_params"): ("activity",),
    ("minisim.steps.cell", "resolve_focal_plane"): (
        "cells", "focal_depth_in_tissue_um", "optics", "acq", "sensor_spec", "photon_field",
    ),
    ("minisim.steps.tissue", "smooth_spatial_field"): ("shape", "sigma_px", "rng"),
    ("minisim.steps.tissue", "ou_process"): ("n", "tau_frames", "rng"),
    ("minisim.steps.tissue", "population_envelope"): ("traces", "tau_frames"),
    ("minisim.steps.tissue", "neuropil_envelope"): ("n_frames", "tau_frames", "rng"),
    ("minisim.steps.tissue", "neuropil_components"): ("spec", "acq", "cells", "shape", "n_frames", "rng"),
    ("minisim.steps.tissue", "bleaching_pool"): ("emission", "q", "tau_turn_frames", "intensity", "b0"),
    ("minisim.steps.tissue", "bleaching_floor"): ("q", "intensity", "emission", "tau_turn"),
    ("minisim.steps.tissue", "dark_recovery"): ("b0", "t", "tau_turn"),
    ("minisim.steps.tissue", "murray_children"): ("r_parent", "area_fraction"),
    ("minisim.steps.tissue", "grow_vessel_tree"): ("bounds_um", "root_um", "heading_rad", "growth", "rng"),
    ("minisim.steps.tissue", "rasterize_vessels"): ("segments_um", "shape_px", "pixel_size_um"),
    ("minisim.steps.tissue", "vessels_to_mask"): ("path_length_um", "opacity", "absorption_per_um"),
    ("minisim.steps.tissue", "vasculature_mask_field"): ("spec", "acq", "shape", "focal_um", "rng"),
    ("minisim.steps.tissue", "vasculature_focal"): ("scene", "acq"),
    ("minisim.steps.motion", "bounded_random_walk"): ("n_frames", "step_px", "max_px", "rng"),
    ("minisim.steps.motion", "physical_brain_motion"): (
        "n_frames", "fps", "locomotion_freq_hz", "resonance_freq_hz", "damping_ratio", "locomotion_fraction",
        "locomotion_axis", "amplitude_px", "max_px", "rng",
    ),
    ("minisim.steps.motion", "brain_motion_shifts"): ("spec", "acq", "n_frames", "rng"),
    ("minisim.steps.motion", "shift_and_crop"): ("canvas", "shifts_px", "fov_shape"),
    ("minisim.steps.sensor", "radius_grid"): ("shape", "center_px"),
    ("minisim.steps.sensor", "falloff_center_px"): ("shape", "acq", "center_offset_um"),
    ("minisim.steps.sensor", "radial_falloff"): ("shape", "center_px", "falloff", "exponent"),
    ("minisim.steps.sensor", "combined_falloff_field"): ("acq", "illumination_spec", "vignette_spec"),
    ("minisim.steps.sensor", "leakage_field"): ("spec", "acq", "shape"),
    ("minisim.footprint", "degrade_footprint"): ("planted", "sigma_px", "gain"),
    ("minisim.footprint", "stack_dense"): ("footprints", "canvas_shape", "dtype"),
}  # fmt: skip

#: 1.0's classes and constants, by 1.0 module.
CLASSES_1_0 = {
    "minisim.footprint": ("Footprint", "FootprintStack", "PATCH_DTYPE", "RENDER_DTYPE"),
    "minisim.scene": ("Cell", "Scene", "GroundTruthBuilder", "MOVIE_DIMS"),
    "minisim.steps.base": ("Step", "PipelineContext"),
    "minisim.steps.tissue": ("VesselGrowth",),
}

#: Each eager-engine placeholder: (1.0 module, name) -> a word its replacement message must contain.
PLACEHOLDERS = {
    ("minisim.scene", "Scene"): "rec.stage",
    ("minisim.scene", "GroundTruthBuilder"): "rec.ground_truth",
    ("minisim.steps.base", "Step"): "simulate",
    ("minisim.steps.base", "PipelineContext"): "simulate",
    ("minisim.steps.cell", "PlaceNeuronsStep"): "PlaceNeurons",
    ("minisim.steps.cell", "CellActivityStep"): "CellActivity",
    ("minisim.steps.cell", "CellOpticsStep"): "CellOptics",
    ("minisim.steps.tissue", "CompositeStep"): "Composite",
    ("minisim.steps.tissue", "NeuropilStep"): "neuropil_components",
    ("minisim.steps.tissue", "BleachingStep"): "bleaching_pool",
    ("minisim.steps.tissue", "VasculatureStep"): "Vasculature",
    ("minisim.steps.motion", "BrainMotionStep"): "BrainMotion",
    ("minisim.steps.sensor", "IlluminationProfileStep"): "IlluminationProfile",
    ("minisim.steps.sensor", "VignetteStep"): "radial_falloff",
    ("minisim.steps.sensor", "LeakageStep"): "leakage_field",
    ("minisim.steps.sensor", "SensorStep"): "photons_to_counts",
}


@pytest.mark.parametrize(("module", "name"), sorted(SIGNATURES_1_0))
def test_helper_resolves_at_1_0_path_with_1_0_parameters(module: str, name: str) -> None:
    fn = getattr(importlib.import_module(module), name)
    assert tuple(inspect.signature(fn).parameters) == SIGNATURES_1_0[(module, name)]
    if module.startswith("minisim.steps.") and name != "stack_dense":
        # 1.0 also re-exported every step helper from the package itself.
        assert getattr(importlib.import_module("minisim.steps"), name) is fn


@pytest.mark.parametrize("module", sorted(CLASSES_1_0))
def test_classes_resolve_at_1_0_path(module: str) -> None:
    mod = importlib.import_module(module)
    for name in CLASSES_1_0[module]:
        assert getattr(mod, name) is not None, f"{module}.{name}"


@pytest.mark.parametrize(("module", "name"), sorted(PLACEHOLDERS))
def test_placeholder_raises_naming_replacement(module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    assert cls.__module__ == module
    with pytest.raises(RemovedAPIError, match="instead:") as info:
        cls(None, None, None) if name.endswith("Step") or name == "Step" else cls()
    assert PLACEHOLDERS[(module, name)] in str(info.value)
    assert f"{module}.{name}" in str(info.value)


def test_other_placeholders_raise_naming_replacement() -> None:
    import minisim
    from minisim import Vignette
    from minisim.scene import Scene
    from minisim.steps import vasculature_focal

    cases = [
        (lambda: minisim.finalize(None, None), "simulate(spec)"),
        (lambda: Scene.zeros(None), "rec.stage"),
        (lambda: Scene.ones(None), "rec.stage"),
        (lambda: Vignette().build(None, np.random.default_rng(0)), "Spec(steps="),
        (lambda: vasculature_focal(None, None), "focal_depth_um"),
    ]
    for call, word in cases:
        with pytest.raises(RemovedAPIError, match="instead:") as info:
            call()
        assert word in str(info.value)
    assert issubclass(RemovedAPIError, NotImplementedError)


def test_calcium_kernel_shape_and_timing() -> None:
    from minisim.steps import calcium_kernel, kernel_timing, tau_from_kernel_timing

    fps, tr, td = 100.0, 0.05, 0.4
    k = calcium_kernel(tau_rise_s=tr, tau_decay_s=td, fps=fps)
    assert k[0] == 0.0 and k.max() == pytest.approx(1.0)
    assert len(k) >= 5 * td * fps  # sampled out to 5 decay constants
    t_peak, fwhm = kernel_timing(tr, td)
    # analytic peak of exp(-t/td) - exp(-t/tr)
    assert t_peak == pytest.approx(tr * td / (td - tr) * math.log(td / tr), rel=1e-9)
    assert abs(np.argmax(k) / fps - t_peak) <= 1.0 / fps
    above = np.flatnonzero(k >= 0.5)
    assert abs((above[-1] - above[0]) / fps - fwhm) <= 2.0 / fps
    assert tau_from_kernel_timing(t_peak, fwhm) == pytest.approx((tr, td), rel=1e-6)
    with pytest.raises(ValueError, match="tau_rise_s"):
        calcium_kernel(0.5, 0.4, fps)


def test_footprints_radius_and_blur_conservation() -> None:
    from minisim.footprint import Footprint, FootprintStack, degrade_footprint
    from minisim.steps import neuron_footprint

    mask = neuron_footprint((41, 41), (20.0, 20.0), 6.0, 0.0, np.random.default_rng(0))
    rows, cols = np.nonzero(mask)
    assert np.hypot(rows - 20, cols - 20).max() == pytest.approx(6.0, abs=0.5)  # stated radius, px
    assert mask.sum() == pytest.approx(math.pi * 36, rel=0.05)  # disk area
    planted = Footprint.from_dense(mask.astype(np.float32))
    blurred = degrade_footprint(planted, sigma_px=2.0, gain=0.5)
    # a normalized Gaussian kernel conserves the integral; the gain scales it
    assert blurred.to_dense().sum() == pytest.approx(0.5 * mask.sum(), rel=1e-3)
    stack = FootprintStack.from_footprints([planted, blurred], (41, 41))
    assert len(stack) == 2 and stack.to_dense().shape == (2, 41, 41)


def test_field_and_vessel_helpers() -> None:
    from minisim.steps import murray_children, radial_falloff, radius_grid, vessels_to_mask

    r = radius_grid((5, 7), (2.0, 3.0))
    assert r[2, 3] == 0.0 and r[0, 0] == pytest.approx(math.hypot(2, 3))
    f = radial_falloff((9, 11), (4.0, 5.0), 0.3, 2.0)
    assert f[4, 5] == pytest.approx(1.0) and f.min() < 1.0 and f.max() <= 1.0
    a, b = murray_children(4.0, 0.62)
    assert a**3 + b**3 == pytest.approx(4.0**3, rel=1e-9)  # Murray's cube law
    t = vessels_to_mask(np.array([0.0, 1e4]), 0.8, 0.1)
    assert t == pytest.approx([1.0, 0.2])  # Beer-Lambert: clear at L=0, 1 - opacity when opaque


def test_random_walk_stays_bounded_and_is_seeded() -> None:
    from minisim.steps import bounded_random_walk

    walk = bounded_random_walk(500, 1.0, 3.0, np.random.default_rng(1))
    assert walk.shape == (500, 2)
    assert np.hypot(walk[:, 0], walk[:, 1]).max() <= 3.0 + 1e-9
    np.testing.assert_array_equal(walk, bounded_random_walk(500, 1.0, 3.0, np.random.default_rng(1)))


# --- against the real minisim 1.0.3 -------------------------------------------------------------

_PROBE = """
import json, numpy as np, minisim
from minisim.steps import (calcium_kernel, kernel_timing, tau_from_kernel_timing, radius_grid, radial_falloff,
    murray_children, vessels_to_mask, spike_activity_params, dark_recovery, bleaching_floor, bleaching_pool)
out = {
    "calcium_kernel": calcium_kernel(0.05, 0.4, 20.0).tolist(),
    "kernel_timing": list(kernel_timing(0.05, 0.4)),
    "tau_from_kernel_timing": list(tau_from_kernel_timing(0.2, 0.8)),
    "radius_grid": radius_grid((5, 7), (2.0, 3.5)).tolist(),
    "radial_falloff": radial_falloff((9, 11), (4.0, 5.0), 0.3, 2.0).tolist(),
    "murray_children": list(murray_children(4.0, 0.62)),
    "vessels_to_mask": vessels_to_mask(np.array([0.0, 5.0, 20.0]), 0.8, 0.1).tolist(),
    "spike_activity_params": list(spike_activity_params(0.5)),
    "dark_recovery": np.asarray(dark_recovery(0.6, np.array([0.0, 1.0, 10.0]), 5.0)).tolist(),
    "bleaching_floor": float(bleaching_floor(0.01, 1.0, 2.0, 100.0)),
    "bleaching_pool": bleaching_pool(np.linspace(0, 3, 50), 0.01, 30.0, 1.0).tolist(),
    "_file": minisim.__file__,
}
print(json.dumps(out))
"""


@pytest.fixture(scope="session")
def minisim_1_0_3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """minisim 1.0.3 (and numpydantic, its one dependency not in our env) in a temp dir, from PyPI."""
    target = tmp_path_factory.mktemp("minisim103")
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
    proc = subprocess.run([*cmd, "minisim==1.0.3", "numpydantic"], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        reason = f"minisim 1.0.3 not installable from PyPI: {proc.stderr.strip()[-300:]}"
        print(reason)
        pytest.skip(reason)
    return target


def _probe(pythonpath: Path | None, cwd: Path) -> dict[str, Any]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    else:
        env.pop("PYTHONPATH", None)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, cwd=cwd, check=True, timeout=300
    )
    return json.loads(out.stdout)


def test_matches_real_1_0_3(minisim_1_0_3: Path, tmp_path: Path) -> None:
    theirs = _probe(minisim_1_0_3, tmp_path)
    ours = _probe(None, tmp_path)
    # each side ran its own package
    assert Path(theirs.pop("_file")).is_relative_to(minisim_1_0_3)
    assert not Path(ours.pop("_file")).is_relative_to(minisim_1_0_3)
    assert set(ours) == set(theirs)
    for name, value in theirs.items():
        # deterministic closed forms and a 1-D root find: equal to 1e-9 relative
        np.testing.assert_allclose(ours[name], value, rtol=1e-9, atol=1e-12, err_msg=name)
