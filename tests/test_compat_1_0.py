"""minisim 1.0.3's public surface, taken from the 1.0.3 wheel itself, resolves on this package.

The wheel is downloaded at test time (``pip download --no-deps minisim==1.0.3``)
into ``.cache/minisim-1.0.3/`` (git-ignored) and its modules are parsed with
:mod:`ast`; nothing is imported from it and no name list is written by hand. For
every public module of 1.0.3:

- every public name resolves at its 1.0 import path;
- every public function and method keeps 1.0's parameter names, positional
  order and literal defaults, and adds no new required parameter;
- every pydantic model field keeps its 1.0 default.

The python examples of the 1.0.3 README (the wheel's long description) run
unchanged. Without network access to PyPI the tests skip with the reason.
"""

from __future__ import annotations

import ast
import email
import importlib
import inspect
import re
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import minisim as ms

VERSION = "1.0.3"
CACHE = Path(__file__).resolve().parents[1] / ".cache" / f"minisim-{VERSION}"
#: Modules of the wheel that are not library API: its own tests and bundled notebooks.
PRIVATE_PACKAGES = ("minisim.test", "minisim.notebooks")
#: The 1.0 step-helper modules and removed-engine placeholders come from the `compat` branch.
COMPAT_MODULES = ("minisim.scene", "minisim.simulate", "minisim.steps", "minisim.footprint")
COMPAT_NAMES = ("finalize", "Scene", "Step", "GroundTruthBuilder", "StepSpec.build")


def _wheel() -> Path:
    found = sorted(CACHE.glob(f"minisim-{VERSION}-*.whl"))
    if found:
        return found[0]
    CACHE.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
    cmd += ["--dest", str(CACHE), f"minisim=={VERSION}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    found = sorted(CACHE.glob(f"minisim-{VERSION}-*.whl"))
    if proc.returncode or not found:
        reason = f"PyPI unreachable, cannot download minisim {VERSION}: {proc.stderr.strip()[-300:]}"
        print(reason)
        pytest.skip(reason)
    return found[0]


def _module_sources() -> dict[str, str]:
    with zipfile.ZipFile(_wheel()) as zf:
        out = {}
        for name in zf.namelist():
            if not name.startswith("minisim/") or not name.endswith(".py"):
                continue
            mod = name[:-3].replace("/", ".").removesuffix(".__init__")
            if mod.startswith(PRIVATE_PACKAGES) or any(p.startswith("_") for p in mod.split(".")):
                continue
            out[mod] = zf.read(name).decode()
        return out


_SOURCES: dict[str, str] | None = None


def sources() -> dict[str, str]:
    global _SOURCES
    if _SOURCES is None:
        _SOURCES = _module_sources()
    return _SOURCES


# --- the expected surface, parsed from 1.0.3 ---------------------------------------


def public_names(tree: ast.Module) -> list[str]:
    """``__all__`` when the module has one, else its public top-level definitions."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return [str(v) for v in ast.literal_eval(node.value)]
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [n for n in names if not n.startswith("_")]


def _decorators(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    out = set()
    for d in node.decorator_list:
        d = d.func if isinstance(d, ast.Call) else d
        out.add(d.attr if isinstance(d, ast.Attribute) else getattr(d, "id", ""))
    return out


_MISSING = object()


def _literal(node: ast.expr | None) -> Any:
    if node is None:
        return _MISSING
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _MISSING  # not a literal (a call, a name): only its presence is checked


def expected_params(fn: ast.FunctionDef | ast.AsyncFunctionDef, *, method: bool) -> list[tuple[str, str, Any]]:
    """``(name, kind, literal default or _MISSING or 'required')`` of a 1.0 def."""
    a = fn.args
    pos = a.posonlyargs + a.args
    defaults = [None] * (len(pos) - len(a.defaults)) + list(a.defaults)
    out = []
    for arg, d in zip(pos, defaults, strict=True):
        out.append((arg.arg, "positional", "required" if d is None else _literal(d)))
    for arg, d in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        out.append((arg.arg, "keyword", "required" if d is None else _literal(d)))
    if method and out and "staticmethod" not in _decorators(fn):
        out = out[1:]  # self / cls
    return out


def surface() -> list[tuple[str, str, str, ast.AST]]:
    """``(module, qualified name, kind, node)`` for every public 1.0.3 object."""
    items = []
    for mod, src in sorted(sources().items()):
        tree = ast.parse(src)
        defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        for name in public_names(tree):
            node = defs.get(name)
            items.append((mod, name, "name", node or tree))
            if isinstance(node, ast.FunctionDef):
                items.append((mod, name, "function", node))
            elif isinstance(node, ast.ClassDef):
                items.append((mod, name, "class", node))
    return items


def _resolve(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _modules() -> list[str]:
    try:
        return sorted(sources())
    except BaseException:  # skip raised at collection: reported per test instead
        return ["<unavailable>"]


# --- checks ------------------------------------------------------------------------


def check_signature(where: str, node: ast.FunctionDef, obj: Any, *, method: bool) -> list[str]:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    params = list(sig.parameters.values())
    if method and params and params[0].name in {"self", "cls"}:
        params = params[1:]
    ours = {p.name: p for p in params}
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
    ours_pos = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    problems = []
    want = expected_params(node, method=method)
    want_pos = [n for n, kind, _ in want if kind == "positional"]
    if ours_pos[: len(want_pos)] != want_pos and not any(p.kind is p.VAR_POSITIONAL for p in params):
        problems.append(f"{where}: positional parameters {ours_pos} do not start with 1.0's {want_pos}")
    for name, _kind, default in want:
        p = ours.get(name)
        if p is None:
            if not var_kw:
                problems.append(f"{where}: no parameter {name!r} (1.0 has it)")
            continue
        if default == "required" or default is _MISSING:
            continue
        if p.default is inspect.Parameter.empty:
            problems.append(f"{where}({name}): required here, 1.0 default {default!r}")
        elif not _same(p.default, default):
            problems.append(f"{where}({name}): default {p.default!r}, 1.0 has {default!r}")
    for p in params:
        new = p.name not in {n for n, _, _ in want} and p.default is inspect.Parameter.empty
        if new and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            problems.append(f"{where}: new required parameter {p.name!r}")
    return problems


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, list | tuple) and isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    try:
        return (bool(a == b) and type(a) is not bool) or a is b
    except Exception:
        return False


def check_model_fields(where: str, node: ast.ClassDef, cls: type) -> list[str]:
    fields = getattr(cls, "model_fields", None)
    if fields is None:
        return []
    problems = []
    for stmt in node.body:
        if not isinstance(stmt, ast.AnnAssign) or not isinstance(stmt.target, ast.Name):
            continue
        name = stmt.target.id
        if name.startswith("_") or "ClassVar" in ast.unparse(stmt.annotation):
            continue
        if name not in fields:
            problems.append(f"{where}.{name}: no such field (1.0 has it)")
            continue
        value = stmt.value
        if isinstance(value, ast.Call) and getattr(value.func, "id", "") == "Field":
            kw = {k.arg: k.value for k in value.keywords}
            value = value.args[0] if value.args else kw.get("default")
        want = _literal(value)
        if value is None or want is _MISSING or want is Ellipsis:
            continue
        f = fields[name]
        have = f.default_factory() if f.default_factory is not None else f.default  # type: ignore[call-arg]
        differs = hasattr(have, "model_dump") or not _same(have, want)
        if differs and not (hasattr(have, "model_dump") and want is None):
            problems.append(f"{where}.{name}: default {have!r}, 1.0 has {want!r}")
    return problems


def check_class(module: str, name: str, node: ast.ClassDef, cls: Any) -> list[str]:
    where = f"{module}.{name}"
    problems = check_model_fields(where, node, cls)
    for stmt in node.body:
        if not isinstance(stmt, ast.FunctionDef) or stmt.name.startswith("_"):
            continue
        decos = _decorators(stmt)
        if decos & {"field_validator", "model_validator", "validator", "root_validator", "setter"}:
            continue
        attr = inspect.getattr_static(cls, stmt.name, _MISSING)
        if attr is _MISSING:
            attr = getattr(cls, stmt.name, _MISSING)
        if attr is _MISSING:
            problems.append(f"{where}.{stmt.name}: missing (1.0 has it)")
            continue
        if "property" in decos or "cached_property" in decos or isinstance(attr, property):
            continue
        fn = attr.__func__ if isinstance(attr, classmethod | staticmethod) else attr
        problems += check_signature(f"{where}.{stmt.name}", stmt, fn, method=True)
    return problems


@pytest.mark.parametrize("module", _modules())
def test_module_surface_matches_1_0(module: str) -> None:
    """Every public 1.0.3 name of ``module`` resolves here with 1.0's signature and defaults."""
    if module == "<unavailable>":
        _wheel()
    problems = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for mod, name, kind, node in surface():
            if mod != module:
                continue
            try:
                obj = _resolve(mod, name)
            except (ImportError, AttributeError) as exc:
                if kind == "name":
                    problems.append(f"{mod}.{name}: does not resolve ({exc})")
                continue
            if kind == "function" and isinstance(node, ast.FunctionDef):
                problems += check_signature(f"{mod}.{name}", node, obj, method=False)
            elif kind == "class" and isinstance(node, ast.ClassDef) and isinstance(obj, type):
                problems += check_class(mod, name, node, obj)
    assert not problems, f"{len(problems)} break(s) of the 1.0.3 surface:\n" + "\n".join(problems)


def test_surface_is_read_from_the_wheel() -> None:
    """The parsed surface is the real one: 1.0.3 exports the names minian imports."""
    names = {(m, n) for m, n, kind, _ in surface() if kind == "name"}
    assert ("minisim", "simulate") in names and ("minisim.metrics", "hungarian_match") in names
    assert len({m for m, _ in names}) >= 15
    assert len(names) > 150


def readme_examples() -> list[str]:
    with zipfile.ZipFile(_wheel()) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        body = email.message_from_bytes(zf.read(meta)).get_payload()
    assert isinstance(body, str)
    return re.findall(r"```python\n(.*?)```", body, re.S)


@pytest.mark.timeout(1200)
def test_1_0_readme_examples_run_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each python block of the 1.0.3 README runs as written and gives what it says."""
    blocks = readme_examples()
    assert blocks, "the 1.0.3 README has python examples"
    monkeypatch.chdir(tmp_path)
    ns: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, "minisim-1.0.3 README", "exec"), ns)
    movie, truth = ns["movie"], ns["truth"]
    assert movie.dims == ("frame", "height", "width") and movie.shape == (200, 256, 256)
    assert truth.n_units > 1000 and truth.C.shape == (truth.n_units, 200)


# --- the breaks minian and the 1.0 users hit, one test each ---------------------------


def test_version_satisfies_minians_pin() -> None:
    import minisim

    major, minor, *_ = (int(p) for p in minisim.__version__.split(".")[:2])
    assert major == 1 and (major, minor) > (1, 0)  # minian 2.0.2: minisim>=1.0.3,<2
    from importlib.metadata import version

    assert version("minisim") == minisim.__version__


def test_spec_and_video_module_paths() -> None:
    import minisim
    from minisim.spec import AnyStep, BrainMotion, ImageSensor, NeuronPopulation, Optics, StepSpec, Tissue
    from minisim.steps.brain_motion import BrainMotion as Ours
    from minisim.video import simulate_video

    assert BrainMotion is Ours and simulate_video is minisim.simulate_video and AnyStep is minisim.AnyStep
    assert issubclass(BrainMotion, StepSpec) and all(
        getattr(minisim, c.__name__) is c for c in (Optics, ImageSensor, Tissue, NeuronPopulation)
    )


def test_match_pairing_threshold_and_empty_stacks() -> None:
    import numpy as np

    from minisim.metrics import hungarian_match

    A = np.zeros((3, 16, 16))
    for i in range(3):
        A[i, 4 * i : 4 * i + 3, 4 * i : 4 * i + 3] = 1.0
    m = hungarian_match(A[::-1], A)
    assert set(m.pairing) == {(0, 2), (1, 1), (2, 0)} and all(type(v) is int for p in m.pairing for v in p)
    assert m.recall(threshold=0.9) == 1.0 and m.precision(threshold=0.9) == 1.0
    assert m.matched_pairs(threshold=0.9) == [(0, 2), (1, 1), (2, 0)]
    with pytest.warns(DeprecationWarning, match="threshold="):
        assert m.recall(thr=0.9) == 1.0
    for est, true in ((np.zeros((0, 16, 16)), A), (A, np.zeros((0, 16, 16))), (np.zeros((2, 16, 16)), A)):
        e = hungarian_match(est, true)  # a pipeline that finds nothing scores zero, it does not crash
        assert e.pairing == () and e.recall() == 0.0 and e.precision() == 0.0 and e.mean_iou == 0.0


def test_activity_score_unpacks_and_shift_keywords() -> None:
    import numpy as np

    from minisim.metrics import activity_similarity, global_shift_from_trajectories, shift_rmse

    rng = np.random.default_rng(0)
    S = rng.random((2, 50))
    corr, scale, pve = activity_similarity(3 * S, S, [(0, 0), (1, 1)])
    assert np.allclose(corr, 1.0) and np.allclose(scale, 1 / 3) and np.allclose(pve, 1.0)
    t = rng.normal(size=(20, 2))
    assert shift_rmse(shifts_est=-t, shifts_true=t, correction=True) == pytest.approx(0.0)
    assert global_shift_from_trajectories(shifts_est=-t + 2.0, shifts_true=t) == (-2, -2)
    assert shift_rmse(est=t, true=t) == 0.0  # our earlier keyword names still work


def test_renamed_method_keywords_and_photons_to_counts() -> None:
    import numpy as np

    from minisim.spec import Acquisition, ImageSensor, Optics, Tissue

    acq, opt, tis = Acquisition(), Optics(), Tissue()
    assert opt.defocus_sigma_um(z_um=30.0, focal_um=10.0) == opt.defocus_sigma_um(depth_um=30.0, focal_um=10.0)
    assert tis.attenuation(z_um=50.0) == tis.attenuation(50.0) and tis.scatter_sigma_um(z_um=20.0) == 1.0
    assert acq.s_to_frame(s=2.0) == acq.s_to_frame(seconds=2.0) == 40.0
    assert np.allclose(acq.cell_optics(z_um=np.array([40.0]), focal_um=40.0), acq.cell_optics(np.array([40.0]), 40.0))
    assert Optics(field_curvature_radius_um=1000.0).focal_curvature_shift_um(r_um=100.0) > 0
    with pytest.raises(TypeError, match="both z_um= and depth_um="):
        tis.attenuation(z_um=1.0, depth_um=1.0)
    sensor = ImageSensor(read_noise_e=0.0, quantum_efficiency=1.0, bit_depth=16)
    counts = sensor.photons_to_counts(np.full(200_000, 5.0), np.random.default_rng(1))
    assert counts.mean() == pytest.approx(5.0, rel=0.01) and counts.var() == pytest.approx(5.0, rel=0.03)
    assert np.all(counts == np.floor(counts)) and counts.min() >= 0
    g = sensor.photons_to_counts(np.full(5, 1e4), np.random.default_rng(1), shot_noise="gaussian")
    lam = 1e4
    assert np.array_equal(g, np.floor(lam + np.sqrt(lam) * np.random.default_rng(1).standard_normal(5)))


def test_recording_1_0_constructor_snapshots_and_fov(tmp_path: Path) -> None:
    import numpy as np

    from minisim.recording import Recording
    from minisim.testing import make_recording

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = make_recording(n_px=48, n_cells=4, motion=True, save_intermediates=True, seed=2)
    gt = rec.ground_truth
    cells = np.asarray(rec.snapshots["cells_only"]).mean(0)
    (r, c), (h, w) = gt.fov_offset, gt.fov_shape
    assert cells.shape != (h, w) and cells[r : r + h, c : c + w].shape == rec.observed_movie.shape[1:]
    as_1_0 = Recording(
        spec=rec.spec,
        observed=rec.observed.values,
        ground_truth=gt,
        snapshots={"cells_only": rec.snapshots["cells_only"]},
    )
    assert np.array_equal(as_1_0.observed_movie.values, rec.observed.values)
    assert list(as_1_0.snapshots) == ["cells_only"] and set(dict(as_1_0)) == {
        "spec",
        "observed",
        "ground_truth",
        "snapshots",
    }


def test_simulate_module_and_video_module_paths():
    import minisim.simulate
    from minisim.simulate import simulate
    from minisim.video import simulate_video

    assert simulate is ms.engine.simulate and simulate_video is ms.simulate_video
    from tests.conftest import small_spec

    rec = ms.simulate(small_spec(duration_s=0.2, n_px=24))  # still callable after importing the submodule
    assert isinstance(rec, ms.Recording) and callable(minisim.simulate)


def test_make_recording_takes_the_notebooks_keywords():
    from minisim.testing import make_recording

    rec = make_recording(n_cells=3, n_px=48, duration_s=0.5, motion=True, save_intermediates=True)
    assert rec.ground_truth.shifts is not None and np.abs(rec.ground_truth.shifts).max() > 0
    assert rec.observed_movie.dims == ("frame", "height", "width")


def test_photons_to_counts_has_poisson_plus_read_noise_statistics():
    sensor = ms.ImageSensor(quantum_efficiency=0.5, read_noise_e=2.0, gain_adu_per_e=1.0, bit_depth=16)
    counts = sensor.photons_to_counts(np.full(200_000, 400.0), np.random.default_rng(1))
    # electrons ~ Poisson(200) + N(0, 2^2); floor shifts the mean by -1/2 and adds 1/12 to the variance.
    assert counts.mean() == pytest.approx(200.0 - 0.5, abs=0.1)
    assert counts.var() == pytest.approx(200.0 + 4.0 + 1 / 12, rel=0.02)
    assert np.all(counts == np.floor(counts)) and counts.dtype == np.float64
    dark = ms.ImageSensor(bit_depth=8).photons_to_counts(np.full(10, 1e6), np.random.default_rng(0))
    assert np.all(dark == 255)  # the ADC saturates


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
