"""The recording cache: location, hits, concurrent builders, damaged entries, unwritable roots."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import minisim as ms
import minisim.cache as cache_mod
from minisim.cache import DIGEST_FILE, CacheDirError, CacheWarning
from tests.conftest import small_spec

ROOT = Path(__file__).resolve().parents[1]


def tiny(seed: int = 0) -> ms.Spec:
    return small_spec(duration_s=0.5, n_px=32, seed=seed)


@pytest.fixture
def counted(monkeypatch):
    """Count the simulations simulate_cached runs in this process."""
    calls: list[str] = []
    real = cache_mod.simulate

    def spy(spec, **kwargs):
        calls.append(spec.cache_key())
        return real(spec, **kwargs)

    monkeypatch.setattr(cache_mod, "simulate", spy)
    return calls


def test_cache_dir_and_path(tmp_path, monkeypatch):
    monkeypatch.setenv("MINISIM_CACHE", str(tmp_path / "c"))
    assert ms.cache_dir() == tmp_path / "c" and not (tmp_path / "c").exists()
    spec = tiny()
    assert ms.cache_path(spec) == tmp_path / "c" / f"{spec.cache_key()}.zarr"
    assert ms.cache_path(spec, root=tmp_path) == tmp_path / f"{spec.cache_key()}.zarr"
    swept = next(ms.sweep(spec, {"seed": [spec.seed]}))
    assert ms.cache_path(swept, tmp_path) == ms.cache_path(spec, tmp_path)  # the sweep tag is not in the key
    monkeypatch.delenv("MINISIM_CACHE")
    assert ms.cache_dir().name == "minisim"


def test_miss_then_hit_returns_the_same_recording(tmp_path, counted, monkeypatch):
    monkeypatch.setenv("MINISIM_CACHE", str(tmp_path))
    spec = tiny()
    first = ms.simulate_cached(spec)
    second = ms.simulate_cached(spec)
    assert counted == [spec.cache_key()]  # simulated once
    expected = ms.simulate(spec).observed.values
    np.testing.assert_array_equal(first.observed.values, expected)
    np.testing.assert_array_equal(second.observed.values, expected)
    np.testing.assert_array_equal(second.ground_truth.C, ms.simulate(spec).ground_truth.C)
    assert second.spec.cache_key() == spec.cache_key()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [f"{spec.cache_key()}.zarr"]


def _chunk_files(entry: Path) -> list[Path]:
    return sorted(p for p in (entry / "observed").iterdir() if p.name[0].isdigit())


@pytest.mark.parametrize("damage", ["truncate", "flip_byte", "edit_spec", "delete", "no_digest"])
def test_damaged_entry_is_detected_and_rebuilt(tmp_path, counted, damage):
    spec = tiny()
    entry = ms.cache_path(spec, tmp_path)
    ms.simulate_cached(spec, root=tmp_path)
    chunk = _chunk_files(entry)[0]
    if damage == "truncate":
        chunk.write_bytes(chunk.read_bytes()[:-5])
    elif damage == "flip_byte":
        data = bytearray(chunk.read_bytes())
        data[len(data) // 2] ^= 0xFF
        chunk.write_bytes(bytes(data))
    elif damage == "edit_spec":
        text = (entry / "spec.json").read_text()
        (entry / "spec.json").write_text(text.replace('"seed": 0', '"seed": 1'))
    elif damage == "delete":
        chunk.unlink()
    else:
        (entry / DIGEST_FILE).unlink()
    with pytest.warns(CacheWarning, match="damaged"):
        rec = ms.simulate_cached(spec, root=tmp_path)
    assert len(counted) == 2
    np.testing.assert_array_equal(rec.observed.values, ms.simulate(spec).observed.values)
    ms.simulate_cached(spec, root=tmp_path)  # the rebuilt entry is a clean hit
    assert len(counted) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_unwritable_cache_dir_names_dir_and_env_var(tmp_path, counted, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CacheDirError) as err:
        ms.simulate_cached(tiny(), root=blocker / "cache")
    assert str(blocker / "cache") in str(err.value) and "MINISIM_CACHE" in str(err.value)
    monkeypatch.setenv("MINISIM_CACHE", str(blocker / "env"))
    with pytest.raises(CacheDirError, match="MINISIM_CACHE"):
        ms.simulate_cached(tiny())
    assert counted == []  # failed before simulating anything


WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import minisim.cache as cache
    from tests.conftest import small_spec

    root, log, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    real = cache.simulate
    def slow(spec, **kw):
        with log.open("a") as fh:
            fh.write("simulate\\n")
        time.sleep(0.5)  # widen the race window
        return real(spec, **kw)
    cache.simulate = slow
    spec = small_spec(duration_s=0.5, n_px=32, seed=7)
    while not go.exists():
        time.sleep(0.01)
    rec = cache.simulate_cached(spec, root=root)
    print(int(rec.observed.values.astype("int64").sum()))
    """
)


def test_two_processes_build_one_entry_without_corruption(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(root=str(ROOT)))
    log, go, root = tmp_path / "log.txt", tmp_path / "go", tmp_path / "cache"
    procs = [
        subprocess.Popen([sys.executable, str(script), str(root), str(log), str(go)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    go.write_text("")
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert log.read_text().splitlines() == ["simulate"]  # one builder; the other waited and loaded it
    spec = small_spec(duration_s=0.5, n_px=32, seed=7)
    total = int(ms.simulate(spec).observed.values.astype("int64").sum())
    assert [int(o.strip()) for o in outs] == [total, total]
    assert cache_mod._problem(ms.cache_path(spec, root), spec.cache_key(), True) is None
    assert not [p for p in root.iterdir() if p.name.startswith(".")]
