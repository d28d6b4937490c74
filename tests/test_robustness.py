"""Issue 10's reproductions, each as a regression test: nothing lost, nothing silently wrong."""

from __future__ import annotations

import json
import math
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import dask
import numpy as np
import pytest
from pydantic import ValidationError

import minisim as ms
from minisim import cache as cache_mod
from minisim import store
from minisim._atomic import temp_name
from minisim._memory import MemoryEstimateError, check_memory
from minisim._store_lock import StoreLockedError, destination_lock, lock_path
from minisim.cli import main
from minisim.defaults import default_spec
from minisim.export_minian import MINIAN_TRUTH
from minisim.store import StoreError
from tests.conftest import small_spec

pytestmark = pytest.mark.filterwarnings("ignore::minisim.SpecWarning")


def tiny(**kw) -> ms.Spec:
    return small_spec(duration_s=kw.pop("duration_s", 1.0), n_px=kw.pop("n_px", 32), **kw)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A complete store of the tiny spec (4 frame chunks) and its spec file."""
    root = tmp_path_factory.mktemp("robust")
    spec = tiny()
    (root / "tiny.json").write_text(spec.to_json())
    ms.simulate(spec, chunk_frames=5).save(root / "t1.zarr")
    return root


def copy_store(saved: Path, tmp_path: Path, name: str = "c.zarr") -> Path:
    import shutil

    return Path(shutil.copytree(saved / "t1.zarr", tmp_path / name))


def cli(capsys, *argv: str) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, err


def one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert lines, err
    return err


def tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- 1. concurrent writers


#: A CLI run that stops right after taking the destination lock until its stdin gets a line.
_PAUSED_WRITER = """
import sys
import minisim.store as st
real = st._save_locked
def paused(*a, **k):
    print("locked", flush=True)
    sys.stdin.readline()
    return real(*a, **k)
st._save_locked = paused
from minisim.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_second_writer_is_refused_naming_pid_and_host_and_neither_result_is_touched(saved, tmp_path, capsys):
    dest = copy_store(saved, tmp_path)
    before = tree(dest)
    (tmp_path / "s3.json").write_text(tiny(seed=3).to_json())
    first = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_WRITER, "simulate", str(tmp_path / "s3.json"), "--out", str(dest),
         "--overwrite", "--no-progress", "--chunk-frames", "5"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert first.stdin is not None and first.stdout is not None
    try:
        # never block on a writer that hangs before it reports (select, then read the line it wrote)
        ready, _, _ = select.select([first.stdout], [], [], 120)
        assert ready, "the paused writer did not take the lock within 120 s"
        assert first.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLockedError) as err:  # the Python API
            ms.simulate(tiny(seed=4)).save(dest, overwrite=True)
        assert f"being written by PID {first.pid} on {socket.gethostname()}" in str(err.value)
        err_text = one_line_error(*cli(capsys, "simulate", saved / "tiny.json", "--out", dest, "--no-progress",
                                       "--overwrite"))  # fmt: skip
        assert f"PID {first.pid}" in err_text
        assert tree(dest) == before  # the refused writers changed nothing
        assert not store.partial_path(dest).exists()
        first.stdin.write("go\n")
        first.stdin.flush()
        assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else ""
    finally:
        first.kill()
        first.wait(timeout=30)
    store.verify(dest)  # the first writer's result is complete and is its own
    assert ms.Recording.load(dest).spec == tiny(seed=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.zarr", "s3.json"]


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dest = tmp_path / "s.zarr"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60
    )
    lock_path(dest).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "started": 0}))
    with destination_lock(dest) as held:
        assert json.loads(held.read_text())["pid"] == os.getpid()
    assert not lock_path(dest).exists()


def test_other_hosts_lock_is_stale_only_without_heartbeat(tmp_path):
    dest = tmp_path / "s.zarr"
    lock_path(dest).write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "started": time.time()}))
    with pytest.raises(StoreLockedError, match=r"PID 1 on elsewhere.example"), destination_lock(dest):
        pass
    old = time.time() - 3600
    os.utime(lock_path(dest), (old, old))
    with destination_lock(dest):
        pass


# ---------------------------------------------------------------- 2. deleted / truncated chunks


def test_deleted_chunk_is_named_by_load_info_export_and_resume(saved, tmp_path, capsys):
    dest = copy_store(saved, tmp_path, "d.zarr")
    (dest / "observed" / "0.0.0").unlink()
    with pytest.raises(StoreError, match=r"observed/0\.0\.0' is missing"):
        ms.Recording.load(dest)
    for argv in (["info", dest], ["export", dest, "--to", "tiff", "--out", tmp_path / "x.tif"],
                 ["simulate", saved / "tiny.json", "--out", dest, "--resume", "--no-progress"]):  # fmt: skip
        err = one_line_error(*cli(capsys, *argv))
        assert "observed/0.0.0" in err
    assert not (tmp_path / "x.tif").exists()


def test_truncated_chunk_is_named_and_never_reads_as_data(saved, tmp_path, capsys):
    dest = copy_store(saved, tmp_path, "t.zarr")
    chunk = dest / "observed" / "1.0.0"
    chunk.write_bytes(chunk.read_bytes()[:-7])
    with pytest.raises(StoreError, match="truncated"):
        ms.Recording.load(dest)
    err = one_line_error(*cli(capsys, "verify", dest))
    assert "observed/1.0.0" in err


def test_same_size_corruption_is_caught_by_verify_and_names_the_file_on_read(saved, tmp_path, capsys):
    dest = copy_store(saved, tmp_path, "x.zarr")
    chunk = dest / "observed" / "1.0.0"
    data = chunk.read_bytes()
    chunk.write_bytes(data[:-8] + bytes(8))
    assert cli(capsys, "verify", saved / "t1.zarr")[0] == 0
    assert "SHA-256" in one_line_error(*cli(capsys, "verify", dest))
    rec = ms.Recording.load(dest)  # the cheap check passes: same size
    with pytest.raises(StoreError, match=r"observed/1\.0\.0") as err:
        _ = rec.observed.values
    assert "blosc" not in str(err.value).split("(")[0]


def test_verify_counts_every_file_and_refuses_an_unexpected_one(saved, tmp_path):
    dest = copy_store(saved, tmp_path)
    checked = store.verify(dest)
    assert checked["files"] == len(tree(dest)) - 1  # all but the contents list itself
    (dest / "observed" / "9.0.0").write_bytes(b"x")
    with pytest.raises(StoreError, match="not written by minisim"):
        store.verify(dest)


# ---------------------------------------------------------------- 3. failed exports keep the old file


@pytest.mark.parametrize("to,name", [("tiff", "good.tif"), ("video", "good.avi")])
def test_failed_export_leaves_the_previous_file_intact(saved, tmp_path, capsys, to, name):
    good = tmp_path / name
    assert cli(capsys, "export", saved / "t1.zarr", "--to", to, "--out", good, "--no-progress")[0] == 0
    before = good.read_bytes()
    bad = copy_store(saved, tmp_path, "bad.zarr")
    chunk = bad / "observed" / "2.0.0"
    chunk.write_bytes(chunk.read_bytes()[:-16] + bytes(16))  # same size: passes the cheap check, fails on read
    err = one_line_error(*cli(capsys, "export", bad, "--to", to, "--out", good, "--overwrite", "--no-progress"))
    assert "2.0.0" in err
    assert good.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["bad.zarr", name])


def test_preview_refuses_to_overwrite_and_writes_atomically(saved, tmp_path, capsys):
    out = tmp_path / "p.png"
    out.write_bytes(b"mine")
    assert "--overwrite" in one_line_error(*cli(capsys, "preview", saved / "t1.zarr", "--out", out))
    assert out.read_bytes() == b"mine"
    assert cli(capsys, "preview", saved / "t1.zarr", "--out", out, "--overwrite")[0] == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["p.png"]


def test_minian_export_leaves_no_temporaries_and_cleans_a_killed_ones(saved, tmp_path):
    rec = ms.Recording.load(saved / "t1.zarr")
    out = tmp_path / "mn"
    out.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60
    )
    orphan = tmp_path / f".mn.varr.zarr.{int(dead.stdout)}-0123abcd.tmp.zarr"
    orphan.mkdir()
    rec.to_minian(out, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mn"]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{v}.zarr" for v in ("varr", *MINIAN_TRUTH))


def test_export_temporary_of_a_dead_process_is_removed(saved, tmp_path):
    target = tmp_path / "m.tif"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60
    )
    orphan = target.with_name(f".m.tif.{int(dead.stdout)}-0123abcd.tmp.tif")
    orphan.write_bytes(b"half")
    live = temp_name(target)
    live.write_bytes(b"someone else's, still running")
    ms.Recording.load(saved / "t1.zarr").write_tiff(target, progress=False)
    assert not orphan.exists() and live.exists() and target.is_file()


# ---------------------------------------------------------------- 4. outputs inside a store


def test_outputs_inside_a_store_or_containing_the_input_are_refused(saved, tmp_path, capsys):
    inside = saved / "t1.zarr" / "observed" / "x.zarr"
    err = one_line_error(*cli(capsys, "simulate", saved / "tiny.json", "--out", inside, "--no-progress"))
    assert "inside the minisim store" in err
    with pytest.raises(StoreError, match="inside the minisim store"):
        ms.simulate(tiny()).save(inside)
    for to in ("tiff", "minian"):
        err = one_line_error(*cli(capsys, "export", saved / "t1.zarr", "--to", to, "--out", saved, "--overwrite"))
        assert "contains the recording" in err
    err = one_line_error(*cli(capsys, "export", saved / "t1.zarr", "--to", "tiff",
                              "--out", saved / "t1.zarr" / "x.tif"))  # fmt: skip
    assert "inside the minisim store" in err
    assert not inside.exists() and not (saved / "t1.zarr" / "x.tif").exists()


def test_tiff_export_onto_a_directory_is_a_clean_error(saved, tmp_path, capsys):
    (tmp_path / "dir").mkdir()
    err = one_line_error(*cli(capsys, "export", saved / "t1.zarr", "--to", "tiff", "--out", tmp_path / "dir",
                              "--overwrite"))  # fmt: skip
    assert "is a directory" in err
    assert (tmp_path / "dir").is_dir()


# ---------------------------------------------------------------- 5. resume from any instant


def test_a_set_up_killed_before_the_rename_leaves_nothing_resume_cannot_handle(tmp_path, monkeypatch):
    spec = tiny()
    dest = tmp_path / "r.zarr"
    real = os.replace

    def killed(src, dst):
        if Path(dst) == store.partial_path(dest):
            raise KeyboardInterrupt  # as if killed at the last instant of the set-up
        return real(src, dst)

    monkeypatch.setattr(store.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        ms.simulate(spec, chunk_frames=5).save(dest)
    monkeypatch.setattr(store.os, "replace", real)
    assert not store.partial_path(dest).exists()
    ms.simulate(spec, chunk_frames=5).save(dest, resume=True)
    store.verify(dest)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_write_killed_after_finishing_but_before_the_rename_resumes(saved, tmp_path, monkeypatch):
    spec = tiny()
    dest = tmp_path / "r.zarr"
    monkeypatch.setattr(store, "_rename_into_place", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        ms.simulate(spec, chunk_frames=5).save(dest)
    monkeypatch.undo()
    with pytest.raises(StoreError, match="--resume") as err:
        ms.Recording.load(dest)
    assert "overwrite" not in str(err.value)  # no circle: it says resume, and resume works
    ms.simulate(spec, chunk_frames=5).save(dest, resume=True)
    assert tree(dest) == tree(saved / "t1.zarr")


#: Points of a write at which it is interrupted: the set-up (its manifest, its rename to ``.partial``),
#: a frame chunk, and each step of the finish (consolidation, contents list, manifest removal, rename).
INSTANTS = ["manifest-save", "init-rename", "chunk", "consolidate", "contents", "manifest-unlink", "final-rename"]


@pytest.mark.parametrize("instant", INSTANTS)
def test_an_interrupted_write_at_any_instant_says_resume_and_resume_gives_the_same_bytes(
    instant, saved, tmp_path, monkeypatch, capsys
):
    dest = tmp_path / "r.zarr"
    calls = {"n": 0}

    def interrupt(real, when=lambda *a, **k: True):
        def wrapper(*a, **k):
            if when(*a, **k):
                calls["n"] += 1
                if calls["n"] == 1 + (instant == "chunk"):  # the chunk case lets one chunk finish first
                    raise KeyboardInterrupt
            return real(*a, **k)

        return wrapper

    real_replace, real_unlink = os.replace, Path.unlink
    targets = {
        "manifest-save": (store._Manifest, "save", interrupt(store._Manifest.save)),
        "init-rename": (store.os, "replace", interrupt(real_replace, lambda s, d: Path(d) == store.partial_path(dest))),
        "chunk": (store, "_write_chunk", interrupt(store._write_chunk)),
        "consolidate": (store.zc, "consolidate_metadata", interrupt(store.zc.consolidate_metadata)),
        "contents": (store, "write_contents", interrupt(store.write_contents)),
        "manifest-unlink": (Path, "unlink", interrupt(real_unlink, lambda p, **k: p.name == store.MANIFEST)),
        "final-rename": (store.os, "replace", interrupt(real_replace, lambda s, d: Path(d) == dest)),
    }
    obj, name, patched = targets[instant]
    with dask.config.set(scheduler="synchronous"):
        monkeypatch.setattr(obj, name, patched)
        with pytest.raises(KeyboardInterrupt):
            ms.simulate(tiny(), chunk_frames=5).save(dest)
        monkeypatch.undo()
    assert calls["n"] >= 1
    if store.partial_path(dest).exists():  # load sends the user to --resume, never to --overwrite
        with pytest.raises(StoreError, match="--resume") as err:
            ms.Recording.load(dest)
        assert "overwrite" not in str(err.value)
        assert main(["info", str(dest)]) == 0
        assert "resume with: minisim simulate" in capsys.readouterr().out
    argv = ["simulate", saved / "tiny.json", "--out", dest, "--resume", "--no-progress", "--chunk-frames", "5"]
    assert cli(capsys, *argv)[0] == 0  # the same command as the interrupted one, with --resume
    assert tree(dest) == tree(saved / "t1.zarr")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.zarr"]


def test_resume_on_a_store_whose_spec_was_edited_is_a_clean_error(saved, tmp_path, capsys):
    dest = copy_store(saved, tmp_path)
    spec_file = dest / "spec.json"
    spec_file.write_text(spec_file.read_text().replace('"seed": 0', '"seed": 5'))
    err = one_line_error(*cli(capsys, "simulate", saved / "tiny.json", "--out", dest, "--resume", "--no-progress"))
    assert "edited" in err


# ---------------------------------------------------------------- inputs that passed validation


NON_FINITE = [
    ("acquisition", "duration_s"), ("acquisition", "optics", "magnification"),
    ("acquisition", "image_sensor", "pixel_pitch_um"), ("acquisition", "focal_depth_in_tissue_um"),
    ("steps", 0, "density_per_mm3"), ("steps", 1, "tau_decay_s"), ("steps", 4, "photons_per_unit"),
    ("steps", 0, "depth_range_um", 1), ("steps", 0, "positions_um", 0, 1),
]  # fmt: skip


@pytest.mark.parametrize("where", NON_FINITE, ids=lambda w: ".".join(map(str, w)))
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_values_are_refused_at_validation(where, value):
    data = tiny().model_dump(mode="json")
    data["steps"][0]["positions_um"] = [[50.0, 0.0, 0.0]] if "positions_um" in where else None
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    with pytest.raises(ValidationError, match="finite number"):
        ms.Spec.model_validate(data)
    text = json.dumps(data)  # JSON "Infinity" / "NaN" too
    with pytest.raises(ValidationError, match="finite number"):
        ms.Spec.model_validate_json(text)


def test_center_offset_nan_is_refused():
    with pytest.raises(ValidationError, match="finite number"):
        ms.Spec(steps=[ms.Vignette(center_offset_um=(0.0, math.nan))])


def test_zero_frame_movies_are_refused_clearly(tmp_path):
    rec = ms.simulate(tiny(), until="cell_activity")
    with pytest.raises(StoreError, match="no frames to save"):
        rec.save(tmp_path / "z.zarr")
    with pytest.raises(ValueError, match="no frames to export"):
        rec.write_tiff(tmp_path / "z.tif", progress=False)
    with pytest.raises(ValueError, match="no frames to export"):
        rec.write_video(tmp_path / "z.avi", progress=False, vmax=1.0)
    assert list(tmp_path.iterdir()) == []


def _without_cell_activity(*kept: str) -> dict:
    data = default_spec(duration_s=0.3).model_dump(mode="json")
    data["acquisition"]["image_sensor"].update(n_px_height=32, n_px_width=32)
    data["steps"] = [s for s in data["steps"] if s["kind"] in ("place_neurons", "optics", "composite", "sensor", *kept)]
    return data


def test_dependency_check_covers_optional_inputs(tmp_path):
    with pytest.raises(
        ValidationError, match=r"'bleaching' produces nothing without the step\(s\) \['cell_activity'\]"
    ):
        ms.Spec.model_validate(_without_cell_activity("bleaching", "neuropil"))
    spec = ms.Spec.model_validate(_without_cell_activity("neuropil"))  # neuropil's use of C is optional: it runs
    out = ms.simulate(spec).save(tmp_path / "np.zarr")
    rec = ms.Recording.load(out)
    assert rec.ground_truth.neuropil_spatial is not None and rec.observed.values.max() > 0


def test_a_spec_without_movie_steps_is_refused_by_the_cli_leaving_nothing(tmp_path, capsys):
    data = tiny().model_dump(mode="json")
    data["steps"] = [s for s in data["steps"] if s["kind"] in ("place_neurons", "cell_activity")]
    (tmp_path / "nm.json").write_text(json.dumps(data))
    err = one_line_error(*cli(capsys, "simulate", tmp_path / "nm.json", "--out", tmp_path / "nm.zarr", "--no-progress"))
    assert "no frames" in err or "movie" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nm.json"]


def test_kind_given_as_a_list_is_a_clear_error(capsys, tmp_path):
    data = tiny().model_dump(mode="json")
    data["steps"][-1]["kind"] = ["sensor"]
    with pytest.raises(ValidationError, match="a kind is one string"):
        ms.Spec.model_validate(data)
    (tmp_path / "k.json").write_text(json.dumps(data))
    for argv in (
        ["simulate", tmp_path / "k.json", "--out", tmp_path / "k.zarr"],
        ["graph", "--preset", tmp_path / "k.json"],
    ):
        assert "one string" in one_line_error(*cli(capsys, *argv))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["acquisition"].update(duration_s=5e10),
        lambda d: d["acquisition"]["image_sensor"].update(n_px_height=10**6, n_px_width=10**6),
        lambda d: d["steps"][0].update(density_per_mm3=1e15),
    ],
    ids=["1e12-frames", "1e6-px-fov", "density-1e15"],
)
def test_huge_specs_are_refused_with_the_estimate_and_the_limit(mutate, tmp_path, capsys):
    data = tiny().model_dump(mode="json")
    mutate(data)
    spec = ms.Spec.model_validate(data)
    with pytest.raises(MemoryEstimateError, match=r"needs an estimated .* more than the limit of"):
        ms.simulate(spec)
    (tmp_path / "h.json").write_text(spec.to_json())
    err = one_line_error(*cli(capsys, "simulate", tmp_path / "h.json", "--out", tmp_path / "h.zarr"))
    assert "MINISIM_MEMORY_LIMIT" in err
    assert not list(tmp_path.glob("h.zarr*"))


def test_memory_limit_is_overridable_and_realistic_specs_pass(monkeypatch):
    assert check_memory(default_spec(duration_s=3600))["total"] < 4e9
    monkeypatch.setenv("MINISIM_MEMORY_LIMIT", "1kB")
    with pytest.raises(MemoryEstimateError, match="1 kB"):
        check_memory(tiny())
    monkeypatch.setenv("MINISIM_MEMORY_LIMIT", "none")
    check_memory(tiny(duration_s=5e10))


def test_cli_preview_bad_out_and_dpi_are_clean_errors(saved, capsys):
    assert "image format" in one_line_error(*cli(capsys, "preview", saved / "t1.zarr", "--out", "x.json"))
    assert "--dpi 0" in one_line_error(*cli(capsys, "preview", saved / "t1.zarr", "--dpi", "0"))


def test_spec_duration_zero_is_an_error_not_a_30_s_spec(capsys):
    code = main(["spec", "--duration", "0"])
    out, err = capsys.readouterr()
    assert code == 2 and "duration_s" in err and out == ""
    assert default_spec(duration_s=0.5).acquisition.duration_s == 0.5


def test_run_sweep_refuses_score_keys_that_clobber_its_columns():
    def score(rec):
        return {"error": "mine", "cache_key": "fake", "n": rec.ground_truth.n_units}

    df = ms.run_sweep(tiny(duration_s=0.5), {"seed": [1]}, score, cache=False, progress=False)
    assert df["cache_key"][0] == tiny(duration_s=0.5, seed=1).cache_key()
    assert "run_sweep's own columns" in df["error"][0] and "'cache_key'" in df["error"][0]


# ---------------------------------------------------------------- messages to sharpen


def test_info_refuses_plain_files_and_foreign_directories(saved, tmp_path, capsys):
    (tmp_path / "f.txt").write_text("x")
    (tmp_path / "dir").mkdir()
    for path in (tmp_path / "f.txt", tmp_path / "dir"):
        err = one_line_error(*cli(capsys, "info", path))
        assert "not a minisim recording" in err and "resume" not in err


def test_simulate_of_a_dict_says_what_it_expects():
    with pytest.raises(TypeError, match=r"expects a minisim.Spec, got dict"):
        ms.simulate(tiny().model_dump())


def test_chunk_frames_accepts_numpy_integers_and_refuses_bools(tmp_path):
    rec = ms.simulate(tiny(), chunk_frames=np.int64(5))
    assert rec.observed.data.chunks[0][0] == 5
    with pytest.raises(ValueError, match="positive integer"):
        ms.simulate(tiny(), chunk_frames=True)
    with pytest.raises(StoreError, match="positive integer"):
        rec.save(tmp_path / "b.zarr", chunk_frames=True)
    rec.save(tmp_path / "n.zarr", chunk_frames=np.int64(10))


def test_stages_given_as_one_string(tmp_path):
    rec = ms.simulate(tiny())
    for name in ("cells_only", "composite"):  # a stage name or its step kind, as one string
        out = rec.save(tmp_path / f"{name}.zarr", stages=name)
        assert ms.Recording.load(out).stage_order == ("cells_only",)
    with pytest.raises(StoreError, match="'nonsense'") as err:
        rec.save(tmp_path / "c.zarr", stages="nonsense")
    assert "'n'" not in str(err.value)
    assert not (tmp_path / "c.zarr").exists() and not store.partial_path(tmp_path / "c.zarr").exists()


def test_video_fps_zero_names_the_frame_rate(saved, tmp_path):
    rec = ms.Recording.load(saved / "t1.zarr")
    with pytest.raises(ValueError, match="positive finite frame rate"):
        rec.write_video(tmp_path / "v.avi", fps=0, progress=False)


def test_disk_full_message_gives_a_real_size(saved, tmp_path, monkeypatch):
    import errno

    monkeypatch.setattr(store, "_write_chunk", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(StoreError, match=r"needs up to \d+(\.\d)? kB") as err:
        ms.simulate(tiny(), chunk_frames=5).save(tmp_path / "f.zarr")
    assert "0.00 GB" not in str(err.value)


def test_huge_values_are_not_echoed_whole():
    big = "x" * 10_000_000
    with pytest.raises(ValidationError) as err:
        ms.Acquisition(fps=big)
    assert len(str(err.value)) < 2000
    with pytest.raises(ValidationError) as err:
        ms.Spec(steps=[ms.Sensor(), ms.Composite(), ms.Sensor(), ms.PlaceNeurons()])
    from minisim.cli import explain_validation

    assert len(str(explain_validation(err.value))) < 600


def test_orphaned_cache_partials_of_dead_processes_are_removed(tmp_path):
    spec = tiny(duration_s=0.5)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60
    )
    pid = int(dead.stdout)
    orphan = tmp_path / f".{spec.cache_key()}.{pid}.0123abcd.zarr.partial"
    orphan.mkdir()
    (orphan / "junk").write_text("x")
    live = tmp_path / f".{spec.cache_key()}.{os.getpid()}.0123abcd.zarr.partial"
    live.mkdir()
    ms.simulate_cached(spec, root=tmp_path)
    assert not orphan.exists() and live.exists()
    assert cache_mod.remove_orphans(tmp_path) == []


def test_a_write_probe_left_by_a_killed_process_is_removed(tmp_path):
    """Found by the kill-point fuzzer: a kill between the probe's creation and removal left it in the cache."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60
    )
    orphan = tmp_path / f".write-probe-{int(dead.stdout)}-0123ab"
    orphan.write_bytes(b"")
    live = tmp_path / f".write-probe-{os.getpid()}-0123ab"
    live.write_bytes(b"")
    ms.simulate_cached(tiny(duration_s=0.5), root=tmp_path)
    assert not orphan.exists() and live.exists()


# ---------------------------------------------------------------- found by tests/test_fuzz.py


def test_save_creates_missing_parent_directories_under_the_lock(tmp_path):
    out = ms.simulate(tiny(duration_s=0.25)).save(tmp_path / "new" / "deep" / "o.zarr")
    store.verify(out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["o.zarr"]


def test_orphaned_set_up_directory_of_a_killed_cache_build_is_removed(tmp_path):
    spec = tiny(duration_s=0.25)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60
    )
    orphan = tmp_path / f"..{spec.cache_key()}.{int(dead.stdout)}.0123abcd.zarr.partial.init-1-0123abcd"
    orphan.mkdir()
    ms.simulate_cached(spec, root=tmp_path)
    assert not orphan.exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_memory_limit_applies_to_its_run_only(saved, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MINISIM_MEMORY_LIMIT", raising=False)
    err = one_line_error(*cli(capsys, "simulate", saved / "tiny.json", "--out", tmp_path / "m.zarr",
                              "--memory-limit", "1kB", "--no-progress"))  # fmt: skip
    assert "1 kB" in err
    assert "MINISIM_MEMORY_LIMIT" not in os.environ  # main() in-process leaves the environment as it was
    check_memory(tiny())


def test_graph_outputs_onto_a_directory_or_into_a_store_are_clean_errors(saved, tmp_path, capsys):
    (tmp_path / "dir").mkdir()
    assert "is a directory" in one_line_error(*cli(capsys, "graph", "--out", tmp_path / "dir"))
    err = one_line_error(*cli(capsys, "graph", "--out", saved / "t1.zarr" / "g.md"))
    assert "inside the minisim store" in err
    assert "minisim store" in one_line_error(*cli(capsys, "graph", "--write", "--graphs-dir", saved / "t1.zarr"))
    store.verify(saved / "t1.zarr")
    assert cli(capsys, "graph", "--out", tmp_path / "g.md")[0] == 0
    assert "# Dataflow: default" in (tmp_path / "g.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "g.md"]


def test_a_duration_beyond_exact_frame_indices_is_refused(capsys):
    code = main(["spec", "--duration", "1e308"])
    out, err = capsys.readouterr()
    assert code == 2 and "frames" in err and out == "" and "Traceback" not in err


@pytest.mark.parametrize("instant", ["between-the-renames", "before-the-old-store-is-deleted"])
def test_a_replacing_save_killed_in_its_rename_is_finished_by_resume(instant, saved, tmp_path, monkeypatch, capsys):
    dest = copy_store(saved, tmp_path, "r.zarr")
    (tmp_path / "s3.json").write_text(tiny(seed=3).to_json())
    real_replace, real_rmtree = os.replace, store.shutil.rmtree

    def replace(src, dst):
        if instant == "between-the-renames" and Path(dst) == dest:
            raise KeyboardInterrupt
        return real_replace(src, dst)

    def rmtree(path, *a, **k):
        if instant == "before-the-old-store-is-deleted" and ".replaced-" in str(path):
            raise KeyboardInterrupt
        return real_rmtree(path, *a, **k)

    monkeypatch.setattr(store.os, "replace", replace)
    monkeypatch.setattr(store.shutil, "rmtree", rmtree)
    with pytest.raises(KeyboardInterrupt):
        ms.simulate(tiny(seed=3), chunk_frames=5).save(dest, overwrite=True)
    monkeypatch.undo()
    if not dest.exists():
        with pytest.raises(StoreError, match="--resume") as err:
            ms.Recording.load(dest)
        assert "overwrite" not in str(err.value)
    argv = ["simulate", tmp_path / "s3.json", "--out", dest, "--overwrite", "--resume", "--no-progress",
            "--chunk-frames", "5"]  # fmt: skip
    assert cli(capsys, *argv)[0] == 0
    store.verify(dest)
    assert ms.Recording.load(dest).spec == tiny(seed=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.zarr", "s3.json"]


def test_a_lock_never_exists_without_its_holder_and_leftovers_are_removed(tmp_path, monkeypatch):
    from minisim import _store_lock

    dest = tmp_path / "s.zarr"
    monkeypatch.setattr(_store_lock.os, "link", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt), destination_lock(dest):
        pass
    monkeypatch.undo()
    assert not lock_path(dest).exists()  # killed while taking it: no empty lock naming nobody
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60
    )
    (tmp_path / f".s.zarr.lock.{int(dead.stdout)}-0123abcd.tmp").write_text("{}")
    (tmp_path / "s.zarr.lock.stale-0123abcd").write_text("{}")
    with destination_lock(dest) as held:
        assert json.loads(held.read_text())["pid"] == os.getpid()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["", "."])
def test_info_and_verify_of_the_current_directory_are_clean_errors(path, tmp_path, capsys, monkeypatch):
    """Found by the command-line fuzzer: `minisim info ''` and `preview ''` raised ValueError ('.' has no name)."""
    monkeypatch.chdir(tmp_path)
    for cmd in ("info", "verify", "preview"):
        err = one_line_error(*cli(capsys, cmd, path))
        assert "not a minisim" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_an_absurdly_bright_pixel_saturates_instead_of_crashing_the_sensor(kernel, monkeypatch):
    """Found by the spec fuzzer: an infinite photon count crashed ``Generator.poisson`` ('lam value too large')."""
    monkeypatch.setenv("MINISIM_SENSOR_KERNEL", kernel)
    base = tiny(duration_s=0.2, n_px=16)
    steps = [s for s in base.steps if s.kind != "sensor"]
    spec = base.model_copy(update={"steps": [*steps, ms.Neuropil(amplitude=1e39), ms.Sensor(photons_per_unit=200)]})
    spec = ms.Spec.model_validate(spec.model_dump())
    counts = ms.simulate(spec).observed.values
    assert int(counts.min()) == spec.acquisition.image_sensor.max_count  # every pixel saturated, none wrapped
