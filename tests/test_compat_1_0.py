"""minisim 1.0.3's public surface on our package: each break a 1.0 user would hit is a test.

The expected surface is read from the 1.0.3 wheel itself (downloaded from PyPI at test
time and parsed with ``ast``, never imported), so nothing here is a hand-kept list of
1.0's names. The 1.0 step helpers and removed eager-engine names are covered by
tests/test_compat_steps.py.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

import minisim as ms

#: 1.0 modules whose public names must resolve at the same path here. The step
#: helpers (minisim.steps.*, minisim.scene) are checked in tests/test_compat_steps.py.
MODULES = ("__init__", "spec", "recording", "metrics", "testing", "presets", "cache", "video", "sweep", "perf")
#: 1.0 names of the removed eager engine (placeholders raising RemovedAPIError, tested
#: in tests/test_compat_steps.py) and its internals, left out of the signature check.
ENGINE_NAMES = {"finalize", "build_context", "Scene", "GroundTruthBuilder", "build"}


@pytest.fixture(scope="session")
def wheel_root(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("minisim-1.0.3")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "minisim==1.0.3", "-d", str(dest)],
        capture_output=True,
        text=True,
    )
    wheels = list(dest.glob("minisim-1.0.3-*.whl"))
    if done.returncode != 0 or not wheels:
        pytest.skip(f"cannot download minisim 1.0.3 from PyPI: {done.stderr.strip()[-300:]}")
    with zipfile.ZipFile(wheels[0]) as zf:
        zf.extractall(dest / "x")
    return dest / "x" / "minisim"


def public_names(tree: ast.Module) -> tuple[list[str], dict[str, ast.AST]]:
    """Names a 1.0 module exports (its ``__all__`` if any, else its public definitions)."""
    defs: dict[str, ast.AST] = {}
    exported: list[str] | None = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
            defs[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == "__all__":
                    exported = [ast.literal_eval(e) for e in node.value.elts]  # type: ignore[attr-defined]
                elif isinstance(target, ast.Name) and not target.id.startswith("_"):
                    defs[target.id] = node
    return (exported if exported is not None else list(defs)), defs


def params_of(fn: ast.FunctionDef) -> list[str]:
    names = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)]
    return [n for n in names if n not in ("self", "cls")]


def surface_breaks(root: Path) -> list[str]:
    import importlib

    breaks = []
    for mod in MODULES:
        name = "minisim" if mod == "__init__" else f"minisim.{mod}"
        ours = importlib.import_module(name)
        exported, defs = public_names(ast.parse((root / f"{mod}.py").read_text()))
        for attr in exported:
            if attr in ENGINE_NAMES:
                continue
            if not hasattr(ours, attr):
                breaks.append(f"{name}.{attr} is missing")
                continue
            node = defs.get(attr)
            members = [node] if isinstance(node, ast.FunctionDef) else []
            if isinstance(node, ast.ClassDef):
                members = [m for m in node.body if isinstance(m, ast.FunctionDef) and not m.name.startswith("_")]
            for fn in members:
                if fn.name in ENGINE_NAMES:
                    continue
                obj = getattr(ours, attr) if fn is node else getattr(getattr(ours, attr), fn.name, None)
                label = f"{name}.{attr}" + ("" if fn is node else f".{fn.name}")
                if obj is None:
                    breaks.append(f"{label} is missing")
                    continue
                try:
                    ours_params = list(inspect.signature(obj).parameters)
                except (TypeError, ValueError):
                    continue
                missing = [p for p in params_of(fn) if p not in ours_params]
                if missing:
                    breaks.append(f"{label} lacks 1.0 parameter(s) {missing}")
    return breaks


def test_every_public_name_and_parameter_of_1_0_resolves_here(wheel_root):
    assert surface_breaks(wheel_root) == []


def test_version_satisfies_minians_pin():
    from packaging.specifiers import SpecifierSet

    assert ms.__version__ in SpecifierSet(">=1.0.3,<2")  # minian 2.0.2's training/test extras


def test_step_and_acquisition_models_import_from_minisim_spec():
    from minisim.spec import (  # the notebook's and minian's own imports
        AnyStep,
        Bleaching,
        BrainMotion,
        IlluminationProfile,
        ImageSensor,
        Leakage,
        Neuropil,
        Optics,
        StepSpec,
        Tissue,
        Vasculature,
        VesselLayer,
        Vignette,
    )

    assert BrainMotion is ms.BrainMotion and Optics is ms.Optics and VesselLayer is ms.VesselLayer
    assert issubclass(Bleaching, StepSpec) and {Neuropil, Vignette, Leakage, IlluminationProfile, Vasculature}
    assert ImageSensor is ms.ImageSensor and Tissue is ms.Tissue and AnyStep is ms.AnyStep


def test_simulate_module_and_video_module_paths():
    import minisim.simulate
    from minisim.simulate import simulate
    from minisim.video import simulate_video

    assert simulate is ms.engine.simulate and simulate_video is ms.simulate_video
    from tests.conftest import small_spec

    rec = ms.simulate(small_spec(duration_s=0.2, n_px=24))  # still callable after importing the submodule
    assert isinstance(rec, ms.Recording) and callable(minisim.simulate)


def footprints(n: int, size: int = 12) -> np.ndarray:
    A = np.zeros((n, size, size))
    for i in range(n):
        A[i, 2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = 1.0
    return A


def test_match_pairing_is_a_tuple_of_index_pairs_and_takes_threshold():
    A = footprints(4)
    m = ms.hungarian_match(A[[2, 0, 3, 1]], A)
    assert set(m.pairing) == {(0, 2), (1, 0), (2, 3), (3, 1)}
    assert all(type(e) is int and type(t) is int for e, t in m.pairing)
    assert m.matched_pairs(threshold=0.5) == list(m.pairing)
    assert m.recall(threshold=0.99) == 1.0 and m.precision(threshold=0.99) == 1.0


@pytest.mark.parametrize(
    ("n_est", "n_true", "zero_est"), [(0, 3, False), (3, 0, False), (0, 0, False), (2, 3, True)], ids=str
)
def test_a_pipeline_that_finds_nothing_scores_zero(n_est, n_true, zero_est):
    est = np.zeros((n_est, 12, 12)) if zero_est else footprints(n_est)
    for metric in ("iou", "cosine", "weighted_jaccard"):
        m = ms.hungarian_match(est, footprints(n_true), metric=metric)
        assert m.pairing == () and m.recall() == 0.0 and m.precision() == 0.0


def test_activity_score_unpacks_as_a_tuple():
    rng = np.random.default_rng(0)
    S = rng.poisson(0.2, (3, 200)).astype(float)
    correlation, scale, variance_explained = ms.activity_similarity(2.0 * S, S)
    np.testing.assert_allclose(correlation, 1.0)
    np.testing.assert_allclose(scale, 0.5)
    np.testing.assert_allclose(variance_explained, 1.0)


def test_shift_metrics_take_1_0_keyword_names():
    true = np.column_stack([np.linspace(0, 3, 50), np.zeros(50)])
    assert ms.shift_rmse(shifts_est=-true, shifts_true=true, correction=True, align=True) == pytest.approx(0.0)
    assert ms.global_shift_from_trajectories(shifts_est=-true + 2.0, shifts_true=true) == (-2, -2)


def test_estimate_accepts_both_spellings_and_refuses_both_at_once():
    from minisim.testing import Estimate

    A, C = footprints(2), np.ones((2, 10))
    e = Estimate(footprints=A, traces=C)
    assert e.footprints is A and e.A is A and e.traces is C and e.C is C and e.activity is None
    with pytest.raises(TypeError, match="both"):
        Estimate(A=A, footprints=A)


def test_make_recording_takes_the_notebooks_keywords():
    from minisim.testing import make_recording

    rec = make_recording(n_cells=3, n_px=48, duration_s=0.5, motion=True, save_intermediates=True)
    assert rec.ground_truth.shifts is not None and np.abs(rec.ground_truth.shifts).max() > 0
    assert rec.observed_movie.dims == ("frame", "height", "width")


def test_renamed_keywords_of_acquisition_helpers():
    acq = ms.Acquisition(optics=ms.Optics(field_curvature_radius_um=1000.0))
    assert acq.optics.defocus_sigma_um(z_um=60.0, focal_um=50.0) == pytest.approx(acq.optics.na * 10.0)
    assert acq.optics.focal_curvature_shift_um(r_um=30.0) == pytest.approx(1000 - np.sqrt(1000**2 - 30**2))
    assert acq.tissue.attenuation(z_um=0.0) == pytest.approx(1.0)
    assert acq.tissue.scatter_sigma_um(z_um=100.0) == pytest.approx(100.0 * acq.tissue.scatter_blur_per_um)
    assert acq.s_to_frame(s=2.0) == pytest.approx(2.0 * acq.fps)
    sigma_px, brightness = acq.cell_optics(z_um=np.array([50.0]), focal_um=50.0)
    assert sigma_px.shape == (1,) and brightness[0] > 0


def test_photons_to_counts_has_poisson_plus_read_noise_statistics():
    sensor = ms.ImageSensor(quantum_efficiency=0.5, read_noise_e=2.0, gain_adu_per_e=1.0, bit_depth=16)
    counts = sensor.photons_to_counts(np.full(200_000, 400.0), np.random.default_rng(1))
    # electrons ~ Poisson(200) + N(0, 2^2); floor shifts the mean by -1/2 and adds 1/12 to the variance.
    assert counts.mean() == pytest.approx(200.0 - 0.5, abs=0.1)
    assert counts.var() == pytest.approx(200.0 + 4.0 + 1 / 12, rel=0.02)
    assert np.all(counts == np.floor(counts)) and counts.dtype == np.float64
    dark = ms.ImageSensor(bit_depth=8).photons_to_counts(np.full(10, 1e6), np.random.default_rng(0))
    assert np.all(dark == 255)  # the ADC saturates


def test_recording_format_warning_and_aliases_at_1_0_paths():
    from minisim.cache import DEFAULT_CACHE_DIR
    from minisim.presets import FocalDepth
    from minisim.recording import RecordingFormatWarning

    assert RecordingFormatWarning is ms.RecordingFormatWarning and issubclass(RecordingFormatWarning, UserWarning)
    assert DEFAULT_CACHE_DIR == "~/.cache/minisim" and FocalDepth is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ms.Acquisition().optics.na > 0


def test_the_broken_xarray_and_zarr2_pair_is_named_with_its_fix(monkeypatch, tmp_path):
    """xarray >= 2026.4 beside zarr-python 2 (what minian's pins resolve to) fails in xarray; we say so first."""
    import importlib.metadata

    from minisim import _zarr_compat as zc
    from minisim.export_minian import to_minian

    real_version = importlib.metadata.version
    monkeypatch.setattr(zc, "ZARR3", False)
    monkeypatch.setattr(importlib.metadata, "version", lambda p: "2026.9.0" if p == "xarray" else real_version(p))
    message = zc.broken_xarray_zarr_pair()
    assert message is not None and "2026.9.0" in message and 'pip install "minisim[minian]"' in message
    from tests.conftest import small_spec

    with pytest.raises(RuntimeError, match=r"minisim\[minian\]"):
        to_minian(ms.simulate(small_spec(duration_s=0.2, n_px=24)), tmp_path / "mn", progress=False)
    assert not (tmp_path / "mn").exists()
    monkeypatch.setattr(importlib.metadata, "version", lambda p: "2026.2.0" if p == "xarray" else real_version(p))
    assert zc.broken_xarray_zarr_pair() is None  # the pair minisim[minian] resolves to
