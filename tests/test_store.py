"""The zarr store: exact round trip, zarr format 2, atomic overwrite, refusals, resume."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr
import zarr

import minisim as ms
import minisim.store as store
from minisim.footprint import Footprints
from minisim.store import StoreError, load, partial_path, save
from tests.conftest import small_spec

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _sync():
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.fixture(scope="module")
def rec() -> ms.Recording:
    return ms.simulate(small_spec(), chunk_frames=7)


def tree_bytes(path: Path) -> dict[str, bytes]:
    return {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file()}


def assert_same_truth(a: ms.GroundTruth, b: ms.GroundTruth) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if x is None or y is None:
            assert x is None and y is None, f.name
        elif isinstance(x, Footprints):
            assert np.array_equal(x.offsets, y.offsets) and x.canvas_shape == y.canvas_shape, f.name
            assert len(x.patches) == len(y.patches)
            for p, q in zip(x.patches, y.patches, strict=True):
                assert p.dtype == q.dtype and np.array_equal(p, q), f.name
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y, equal_nan=True), f.name
        else:
            assert x == y and type(x) is type(y), f.name


def test_round_trip_is_exact_for_movie_stage_and_every_ground_truth_field(rec, tmp_path):
    out = save(rec, tmp_path / "r.zarr", stages=["composite"])
    back = load(out)
    assert isinstance(back.observed.data, dask.array.Array)  # lazy
    movie = rec.observed.values
    assert back.observed.dtype == movie.dtype and np.array_equal(back.observed.values, movie)
    assert np.array_equal(back.observed["height"].values, np.arange(64))
    assert np.array_equal(back.stage("composite").values, rec.stage("composite").values)
    assert back.spec == rec.spec
    assert_same_truth(rec.ground_truth, back.ground_truth)
    assert np.array_equal(back.ground_truth.A_planted, rec.ground_truth.A_planted)
    assert rec.ground_truth.n_units > 0


def test_store_is_zarr_format_2_readable_by_xarray(rec, tmp_path):
    out = save(rec, tmp_path / "r.zarr")
    assert (out / ".zgroup").is_file() and (out / "observed" / ".zarray").is_file()
    assert (out / "ground_truth" / "C" / ".zarray").is_file()
    assert (out / "ground_truth" / "planted" / "data" / ".zarray").is_file()
    assert not list(out.rglob("zarr.json"))
    meta = json.loads((out / "observed" / ".zarray").read_text())
    assert meta["zarr_format"] == 2 and meta["compressor"]["id"] == "blosc" and meta["chunks"][0] == 7
    c_meta = json.loads((out / "ground_truth" / "C" / ".zarray").read_text())
    assert c_meta["chunks"][1] == 7  # long arrays are chunked by frame
    attrs = json.loads((out / ".zattrs").read_text())
    assert attrs["format_version"] == store.FORMAT_VERSION and attrs["complete"] is True
    assert attrs["spec_cache_key"] == rec.spec.cache_key() and "engine_version" in attrs
    ds = xr.open_zarr(out)
    assert ds["observed"].dims == ("frame", "height", "width") and ds["frame"].dtype.kind == "i"
    assert np.array_equal(ds["observed"].values, rec.observed.values)
    assert not partial_path(out).exists()


def test_movie_and_stages_share_one_computation(tmp_path, monkeypatch):
    """Saving the movie with a stage computes the shared composite once per chunk."""
    import minisim.steps.composite as comp

    calls = []
    real = comp.composite_block

    def counting(block, frames, static, per_frame):
        calls.append(tuple(frames))
        return real(block, frames, static, per_frame)

    monkeypatch.setattr(comp, "composite_block", counting)
    r = ms.simulate(small_spec(), chunk_frames=8)
    save(r, tmp_path / "r.zarr", stages=["composite"])
    assert sorted(calls) == sorted({c for c in calls}) and len(calls) == 5  # 40 frames / 8


def test_existing_store_needs_overwrite_and_is_replaced_atomically(rec, tmp_path, monkeypatch):
    out = save(rec, tmp_path / "r.zarr")
    before = tree_bytes(out)
    other = ms.simulate(small_spec(seed=3), chunk_frames=7)
    with pytest.raises(StoreError, match="overwrite"):
        save(other, out)
    assert tree_bytes(out) == before

    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(store, "_write_chunk", broken)
    with pytest.raises(RuntimeError, match="boom"):
        save(other, out, overwrite=True)
    assert tree_bytes(out) == before  # a failed overwrite leaves the old store whole
    monkeypatch.undo()
    save(other, out, overwrite=True)
    assert np.array_equal(load(out).observed.values, other.observed.values)
    assert not np.array_equal(load(out).observed.values, rec.observed.values)
    assert [p.name for p in tmp_path.iterdir()] == ["r.zarr"]  # no temp or backup left


def test_refuses_user_data_even_with_overwrite(rec, tmp_path):
    mine = tmp_path / "data"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    with pytest.raises(StoreError, match="not a minisim store"):
        save(rec, mine, overwrite=True)
    assert (mine / "notes.txt").read_text() == "precious"
    afile = tmp_path / "file.zarr"
    afile.write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        save(rec, afile, overwrite=True)
    with pytest.raises(StoreError, match="not a directory"):
        save(rec, afile / "sub" / "r.zarr")
    (tmp_path / "empty").mkdir()
    save(rec, tmp_path / "empty")  # an empty directory holds nothing to lose
    assert load(tmp_path / "empty").ground_truth.n_units == rec.ground_truth.n_units


def test_load_refuses_edited_spec_wrong_version_and_incomplete(rec, tmp_path):
    out = save(rec, tmp_path / "r.zarr")
    spec_file = out / "spec.json"
    text = spec_file.read_text()
    spec_file.write_text(json.dumps(json.loads(text), indent=4))  # reformatting is not an edit
    load(out)
    spec_file.write_text(text.replace('"seed": 0', '"seed": 1'))
    with pytest.raises(StoreError, match="edited") as err:
        load(out)
    assert "re-simulate" in str(err.value)
    spec_file.write_text(text)
    attrs_file = out / ".zattrs"
    attrs = json.loads(attrs_file.read_text())
    for key, value, message in [("format_version", 2, "format_version 2"), ("complete", False, "incomplete")]:
        (out / ".zmetadata").unlink(missing_ok=True)
        attrs_file.write_text(json.dumps({**attrs, key: value}))
        with pytest.raises(StoreError, match=message):
            load(out)
    with pytest.raises(StoreError, match="no minisim recording"):
        load(tmp_path / "missing.zarr")


def test_disk_full_is_a_clear_error_and_the_write_resumes(rec, tmp_path, monkeypatch):
    real, count = store._write_chunk, []

    def full(*args):
        count.append(1)
        if len(count) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args)

    monkeypatch.setattr(store, "_write_chunk", full)
    out = tmp_path / "r.zarr"
    with pytest.raises(StoreError, match="disk full") as err:
        save(rec, out)
    assert "resume" in str(err.value)
    assert not out.exists() and partial_path(out).is_dir()
    with pytest.raises(StoreError, match="not finished"):
        load(out)
    info = store.describe(out)
    assert info["complete"] is False and info["chunks_done"] == "2/6"
    monkeypatch.undo()
    written = []
    monkeypatch.setattr(store, "_write_chunk", lambda *a: written.append(1) or real(*a))
    save(rec, out)  # resumes automatically: same spec, same settings
    assert len(written) == 6 - 2  # 40 frames in chunks of 7; two were already done
    assert np.array_equal(load(out).observed.values, rec.observed.values)
    assert not partial_path(out).exists()


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import dask
    import minisim as ms
    import minisim.store as store
    from tests.conftest import small_spec

    real = store._Manifest.mark
    def mark(self, index):
        real(self, index)
        if len(self.done) == 4:
            os.kill(os.getpid(), signal.SIGKILL)
    store._Manifest.mark = mark
    with dask.config.set(scheduler="threads", num_workers=2):
        ms.simulate(small_spec(duration_s=4.0), chunk_frames=3).save(sys.argv[1])
    """
)


def test_resume_after_sigkill_gives_identical_bytes(tmp_path):
    spec = small_spec(duration_s=4.0)
    killed = tmp_path / "killed.zarr"
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(killed)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    assert not killed.exists()
    manifest = store._Manifest.read(partial_path(killed))
    assert manifest is not None and 4 <= len(manifest.done) < 27  # 80 frames / 3
    with pytest.raises(StoreError, match="--resume"):
        load(killed)
    written = []
    real = store._write_chunk
    rec = ms.simulate(spec, chunk_frames=3)
    try:
        store._write_chunk = lambda *a: written.append((int(a[3][0]), a[1])) or real(*a)
        save(rec, killed, resume=True)
    finally:
        store._write_chunk = real
    # Finished chunks were skipped; each other chunk was written once by its movie task and once by its truth task.
    assert len({frame for frame, _ in written}) == 27 - len(manifest.done)
    assert len(written) == len(set(written)) == 2 * (27 - len(manifest.done))
    clean = save(ms.simulate(spec, chunk_frames=3), tmp_path / "clean.zarr")
    a, b = tree_bytes(killed), tree_bytes(clean)
    assert a.keys() == b.keys() and a == b
    assert any(k.startswith("ground_truth/C/") for k in a)
    assert save(rec, killed, resume=True) == killed  # already complete: nothing to do


def test_writing_in_windows_gives_the_same_bytes_and_reports_every_chunk(rec, tmp_path, monkeypatch, capsys):
    """A long write is handed to the scheduler a window of chunks at a time; nothing else changes."""
    whole = save(rec, tmp_path / "whole.zarr", chunk_frames=3)
    marked: list[int] = []
    real_mark = store._Manifest.mark
    monkeypatch.setattr(store, "WRITE_WINDOW_CHUNKS", 4)
    monkeypatch.setattr(store._Manifest, "mark", lambda self, i: marked.append(i) or real_mark(self, i))
    import minisim.progress as progress

    calls: list[int] = []
    real_persist = progress.dask.persist
    monkeypatch.setattr(progress.dask, "persist", lambda part: calls.append(part.numblocks[0]) or real_persist(part))
    windowed = save(rec, tmp_path / "windowed.zarr", chunk_frames=3, progress=True)
    n_chunks = -(-rec.observed.shape[0] // 3)
    assert sorted(marked) == list(range(n_chunks)) and n_chunks > 3 * 4
    assert calls == [4] * (n_chunks // 4) + ([n_chunks % 4] if n_chunks % 4 else [])
    assert f"{rec.observed.shape[0]}/{rec.observed.shape[0]}" in capsys.readouterr().err  # one bar for all windows
    assert tree_bytes(windowed) == tree_bytes(whole)


def test_progress_bar_on_local_and_distributed(rec, tmp_path, capsys):
    save(rec, tmp_path / "a.zarr", progress=True)
    assert "40/40" in capsys.readouterr().err
    from distributed import Client, LocalCluster

    with (
        LocalCluster(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as cluster,
        Client(cluster),
    ):
        out = save(rec, tmp_path / "b.zarr", progress=True)
    assert "40/40" in capsys.readouterr().err
    assert tree_bytes(out) == tree_bytes(tmp_path / "a.zarr")


def test_zarr_array_reads_through_plain_zarr(rec, tmp_path):
    out = save(rec, tmp_path / "r.zarr")
    g = zarr.open_group(str(out), mode="r")  # no zarr_format: zarr-python 2.18 has no such keyword
    assert g["observed"].shape == (40, 64, 64)
    assert json.loads((out / "observed" / ".zarray").read_text())["zarr_format"] == 2
    assert set(json.loads((out / "ground_truth" / ".zattrs").read_text())["absent"]) >= {"shifts"}
    assert os.path.getsize(out / "spec.json") > 0


def test_round_trip_with_every_registered_step(tmp_path):
    """Motion shifts, bleaching, fields and every stage survive save -> load exactly."""
    from minisim.steps.registry import STEP_FOR_KIND

    base = small_spec(duration_s=1.0)
    have = {s.kind for s in base.steps}
    extra = [cls() for kind, cls in STEP_FOR_KIND.items() if kind not in have]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ms.SpecWarning)  # motion extent vs a 64 px field of view
        spec = ms.Spec(acquisition=base.acquisition, seed=0, steps=[*base.steps, *extra])
    rec = ms.simulate(spec, chunk_frames=6)
    back = load(save(rec, tmp_path / "r.zarr", stages=list(rec.stage_order)))
    assert_same_truth(rec.ground_truth, back.ground_truth)
    assert rec.ground_truth.shifts is not None and rec.ground_truth.bleaching is not None
    assert np.array_equal(back.observed.values, rec.observed.values)
    for name in rec.stage_order:
        assert np.array_equal(back.stage(name).values, rec.stage(name).values), name


def test_single_chunk_write_reports_progress(rec, tmp_path, capsys):
    save(rec, tmp_path / "one.zarr", chunk_frames=64, progress=True)
    assert "40/40" in capsys.readouterr().err
