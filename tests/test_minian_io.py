"""What a minian user writes and reads: 8-bit varr, zarr format 2, the broken xarray/zarr pair, 1.0 stores.

* ``to_minian(varr_dtype="uint8")`` rescales a 16-bit movie onto 0..255 with the
  scale in ``varr``'s attributes (minian's median denoise needs 8-bit), and a
  16-bit export without it warns;
* every zarr group our helpers write is format 2 (what zarr-python 2.18, minian's,
  reads), even from a zarr-python 3 environment;
* with xarray >= 2026.04 beside zarr-python 2, ``save`` and ``load`` still work
  but warn naming the fix, and ``to_minian`` refuses with it;
* a store written by minisim 1.0 (format 2) is refused with the exact command
  that regenerates it, and that command works.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import minisim as ms
from minisim import _zarr_compat as zc
from minisim.export_minian import MinianDtypeWarning
from minisim.store import StoreError
from tests.conftest import small_spec

FIXTURES = Path(__file__).parent / "fixtures"


def _with_bit_depth(spec: ms.Spec, bits: int) -> ms.Spec:
    data = spec.model_dump()
    data["acquisition"]["image_sensor"]["bit_depth"] = bits
    return ms.Spec.model_validate(data)


@pytest.fixture(scope="module")
def rec16() -> ms.Recording:
    spec = _with_bit_depth(small_spec(duration_s=0.6, n_px=32), 16)
    spec = spec.model_copy(update={"steps": [*spec.steps[:-1], ms.Sensor(photons_per_unit=20_000)]})
    return ms.simulate(spec, chunk_frames=4)


def _varr(directory: Path) -> xr.DataArray:
    return xr.open_zarr(directory / "varr.zarr")["varr"]


def test_16_bit_movie_warns_and_uint8_export_rescales_with_the_scale_recorded(tmp_path, rec16):
    counts = rec16.observed.values
    assert counts.dtype == np.uint16 and counts.max() > 255  # really beyond 8 bits
    with pytest.warns(MinianDtypeWarning, match=r"uint16.*denoise.*varr_dtype='uint8'"):
        rec16.to_minian(tmp_path / "raw", progress=False)
    raw = _varr(tmp_path / "raw")
    assert raw.dtype == np.uint16 and np.array_equal(raw.values, counts)
    assert raw.attrs["counts_per_level"] == 1.0 and raw.attrs["source_dtype"] == "uint16"

    with warnings.catch_warnings():
        warnings.simplefilter("error", MinianDtypeWarning)
        rec16.to_minian(tmp_path / "u8", varr_dtype="uint8", progress=False)
    v = _varr(tmp_path / "u8")
    step = v.attrs["counts_per_level"]
    assert v.dtype == np.uint8 and v.values.max() == 255  # the movie's maximum maps to 255
    assert step == pytest.approx(counts.max() / 255.0) and v.attrs["counts_offset"] == 0.0
    back = v.attrs["counts_offset"] + v.values * step
    assert np.abs(back - counts).max() <= step / 2 + 1e-9  # rounded to the nearest level
    # the truth is written unscaled beside it
    true_c = xr.open_zarr(tmp_path / "u8" / "true_C.zarr")["true_C"].values
    np.testing.assert_array_equal(true_c, rec16.ground_truth.C)


def test_uint8_export_takes_a_range_clips_and_refuses_bad_values(tmp_path, rec16):
    counts = rec16.observed.values.astype(np.float64)
    vmin, vmax = 2.0, float(counts.max()) / 2  # the brightest pixels clip
    rec16.to_minian(tmp_path / "r", varr_dtype="uint8", varr_range=(vmin, vmax), progress=False)
    v = _varr(tmp_path / "r")
    expected = np.floor(np.clip((counts - vmin) * 255.0 / (vmax - vmin), 0, 255) + 0.5)
    assert (expected == 255).any() and (expected == 0).any()
    np.testing.assert_array_equal(v.values, expected)
    assert v.attrs["counts_offset"] == vmin and v.attrs["counts_per_level"] == pytest.approx((vmax - vmin) / 255)
    with pytest.raises(ValueError, match="varr_dtype='uint16' is not supported"):
        rec16.to_minian(tmp_path / "x", varr_dtype="uint16", progress=False)
    with pytest.raises(ValueError, match=r"vmax > vmin"):
        rec16.to_minian(tmp_path / "y", varr_dtype="uint8", varr_range=(50.0, 5.0), progress=False)


def test_8_bit_movie_needs_no_rescaling_and_does_not_warn(tmp_path):
    rec = ms.simulate(small_spec(duration_s=0.3, n_px=24))
    with warnings.catch_warnings():
        warnings.simplefilter("error", MinianDtypeWarning)
        rec.to_minian(tmp_path / "a", progress=False)
        rec.to_minian(tmp_path / "b", varr_dtype="uint8", progress=False)
    for d in ("a", "b"):
        v = _varr(tmp_path / d)
        assert v.dtype == np.uint8 and np.array_equal(v.values, rec.observed.values)
        assert v.attrs["counts_per_level"] == 1.0


def test_cli_varr_dtype(tmp_path, rec16, capsys):
    from minisim.cli import main

    store = rec16.save(tmp_path / "rec16.zarr")
    args = ["export", str(store), "--to", "minian", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "mn"), "--varr-dtype", "uint8", "--vmax", "1000"]) == 0
    v = _varr(tmp_path / "mn")
    assert v.dtype == np.uint8 and v.attrs["counts_per_level"] == pytest.approx(1000 / 255)
    assert main(["export", str(store), "--to", "tiff", "--out", str(tmp_path / "m.tif"), "--varr-dtype", "uint8"]) == 2
    assert "--varr-dtype is not an option of the tiff format" in capsys.readouterr().err


def _zarr_formats(root: Path) -> tuple[set[int], list[Path]]:
    """The zarr_format of every array and group metadata file under ``root``, and any zarr-3 metadata."""
    formats = set()
    for meta in [*root.rglob(".zarray"), *root.rglob(".zgroup")]:
        formats.add(json.loads(meta.read_text())["zarr_format"])
    return formats, sorted(root.rglob("zarr.json"))


def test_everything_our_helpers_write_is_zarr_format_2(tmp_path, rec16):
    """Under zarr-python 3 (the main suite) as under 2.18: minian's environment reads all of it."""
    rec16.to_minian(tmp_path / "mn", varr_dtype="uint8", progress=False)
    rec16.save(tmp_path / "rec.zarr")
    for root in (tmp_path / "mn", tmp_path / "rec.zarr"):
        formats, v3 = _zarr_formats(root)
        assert formats == {2} and not v3, (root, formats, v3)
    for name in ("varr", "true_A", "true_C", "true_S", "true_motion"):
        assert (tmp_path / "mn" / f"{name}.zarr" / "observed").exists() is False
        assert json.loads((tmp_path / "mn" / f"{name}.zarr" / name / ".zarray").read_text())["zarr_format"] == 2


@pytest.fixture
def broken_pair(monkeypatch):
    """Pretend xarray 2026.9 sits beside zarr-python 2 (what `pip install minian` resolves)."""
    real_version = importlib.metadata.version
    with monkeypatch.context() as m:  # the detection itself, on that pair's package metadata
        m.setattr(zc, "ZARR3", False)
        m.setattr(importlib.metadata, "version", lambda p: "2026.9.0" if p == "xarray" else real_version(p))
        message = zc.broken_xarray_zarr_pair()
    assert message is not None and "xarray 2026.9.0 needs zarr-python 3" in message
    # zarr-python 3 stays in use for the writes; only what the detection reports is that pair's
    monkeypatch.setattr(zc, "broken_xarray_zarr_pair", lambda: message)


def test_broken_pair_save_and_load_work_but_warn_with_the_fix(tmp_path, broken_pair):
    rec = ms.simulate(small_spec(duration_s=0.3, n_px=24))
    with pytest.warns(zc.BrokenZarrPairWarning, match=r'Recording.save works.*pip install "minisim\[minian\]"'):
        store = rec.save(tmp_path / "r.zarr")
    with pytest.warns(
        zc.BrokenZarrPairWarning, match=r"Recording.load works.*xr.open_zarr.*fix: pip install \"minisim\[minian\]\""
    ):
        back = ms.Recording.load(store)
    np.testing.assert_array_equal(back.observed.values, rec.observed.values)
    with pytest.raises(RuntimeError, match=r"cannot write the minian layout.*minisim\[minian\]"):
        rec.to_minian(tmp_path / "mn", progress=False)


def test_working_pair_does_not_warn(tmp_path):
    assert zc.broken_xarray_zarr_pair() is None  # the suite's own environments have a working pair
    rec = ms.simulate(small_spec(duration_s=0.3, n_px=24))
    with warnings.catch_warnings():
        warnings.simplefilter("error", zc.BrokenZarrPairWarning)
        ms.Recording.load(rec.save(tmp_path / "r.zarr"))


# --- stores written by minisim 1.0 -------------------------------------------------------------


#: Every metadata file (and spec.json) of a store that minisim 1.0.3's ``Recording.save`` wrote for
#: ``testing.make_recording(n_cells=3, n_px=32, duration_s=0.5)``, verbatim (chunk data left out).
STORE_1_0_3 = FIXTURES / "minisim_1_0_3_store.json"


def write_1_0_store(path: Path) -> Path:
    """The store minisim 1.0.3 wrote (format 2): its metadata verbatim, random chunk data of its shapes."""
    files = json.loads(STORE_1_0_3.read_text())
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    rng = np.random.default_rng(0)
    for rel, text in files.items():
        if rel.endswith(".zarray"):
            meta = json.loads(text)
            arr = zc.open_array(str(path), str(Path(rel).parent), mode="r+")
            arr[...] = (rng.random(meta["shape"]) * 10).astype(meta["dtype"])
    return path


def _python_1_0() -> Path | None:
    """An interpreter with minisim 1.0.3 installed (``make scorecard`` builds one), if there is one."""
    given = os.environ.get("MINISIM_1_0_PYTHON")
    path = Path(given) if given else Path(__file__).resolve().parents[1] / ".venv-minian10" / "bin" / "python"
    return path if path.is_file() else None


def test_a_1_0_store_is_refused_with_the_command_that_regenerates_it(tmp_path, capsys):
    from minisim.cli import main

    old = write_1_0_store(tmp_path / "old.zarr")
    with pytest.raises(StoreError) as err:
        ms.Recording.load(old)
    message = str(err.value)
    command = f"minisim simulate {old / 'spec.json'} --out {tmp_path / 'old-regenerated.zarr'}"
    assert "format_version 2" in message and "minisim 1.0" in message and f"`{command}`" in message
    # `minisim info` says the same, not "incomplete, resume"
    assert main(["info", str(old)]) == 0
    out = capsys.readouterr().out
    assert "NOT READABLE" in out and f"regenerate with: {command}" in out and "resume" not in out
    # the command works: the same 1.0 spec, simulated by this version
    assert main([*command.split()[1:], "--no-progress"]) == 0
    new = ms.Recording.load(tmp_path / "old-regenerated.zarr")
    assert new.observed.shape[1:] == (32, 32) and new.ground_truth.n_units == 3


def test_a_store_without_spec_or_of_a_newer_format_says_what_to_do(tmp_path):
    old = write_1_0_store(tmp_path / "old.zarr")
    (old / "spec.json").unlink()
    with pytest.raises(StoreError, match=r"minisim\.simulate\(SPEC\)\.save\("):
        ms.Recording.load(old)
    attrs = json.loads((old / ".zattrs").read_text())
    (old / ".zattrs").write_text(json.dumps({**attrs, "format_version": 99}))
    with pytest.raises(StoreError, match=r"format_version 99.*pip install -U minisim"):
        ms.Recording.load(old)


def test_a_1_0_cache_entry_is_never_served(tmp_path):
    """A 1.0 entry under the very name of this spec's entry is rebuilt, with a warning saying why."""
    from minisim.cache import CacheWarning, cache_path, simulate_cached

    spec = small_spec(duration_s=0.3, n_px=32)
    write_1_0_store(cache_path(spec, tmp_path))
    with pytest.warns(CacheWarning, match=r"format_version 2 \(minisim 1.0's layout\)"):
        rec = simulate_cached(spec, root=tmp_path)
    np.testing.assert_array_equal(rec.observed.values, ms.simulate(spec).observed.values)
    assert rec.ground_truth.n_units == ms.simulate(spec).ground_truth.n_units


@pytest.mark.skipif(_python_1_0() is None, reason="needs an interpreter with minisim 1.0.3 (MINISIM_1_0_PYTHON, or "
                    ".venv-minian10 from `make scorecard`); the fixture test above covers the same layout")  # fmt: skip
def test_a_store_really_written_by_1_0_3_is_refused_and_regenerated(tmp_path):
    from minisim.cli import main

    code = (
        "import sys, importlib.metadata as m; from minisim.testing import make_recording; "
        "make_recording(n_cells=3, n_px=32, duration_s=0.5).save(sys.argv[1]); print(m.version('minisim'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(_python_1_0()), "-W", "ignore", "-c", code, str(tmp_path / "old.zarr")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "1.0.3"
    written = {str(p.relative_to(tmp_path / "old.zarr")) for p in (tmp_path / "old.zarr").rglob(".z*")}
    assert written == {k for k in json.loads(STORE_1_0_3.read_text()) if k != "spec.json"}  # the fixture's layout
    with pytest.raises(StoreError, match="format_version 2") as err:
        ms.Recording.load(tmp_path / "old.zarr")
    command = str(err.value).split("`")[1]
    assert main([*command.split()[1:], "--no-progress"]) == 0
    assert ms.Recording.load(tmp_path / "old-regenerated.zarr").ground_truth.n_units == 3
