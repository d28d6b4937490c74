"""The command line: simulate / spec / info, and short errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minisim as ms
from minisim.cli import main
from minisim.store import load, partial_path
from tests.conftest import small_spec

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--no-progress", "--scheduler", "synchronous"]


@pytest.fixture
def spec_file(tmp_path) -> Path:
    path = tmp_path / "spec.json"
    small_spec(duration_s=1.0).to_json(path)
    return path


def test_spec_prints_a_valid_default_spec(capsys):
    assert main(["spec"]) == 0
    spec = ms.Spec.model_validate_json(capsys.readouterr().out)
    assert spec.step("sensor") is not None and spec.acquisition.n_frames > 0


def test_simulate_writes_the_recording_and_says_where(spec_file, tmp_path, capsys):
    out = tmp_path / "rec.zarr"
    assert main(["simulate", str(spec_file), "--out", str(out), "--chunk-frames", "6", *FAST]) == 0
    text = capsys.readouterr().out
    for word in ("frames        20", "detectable", "size on disk", str(out / "observed"), str(out / "ground_truth")):
        assert word in text
    rec = load(out)
    expected = ms.simulate(small_spec(duration_s=1.0))
    assert np.array_equal(rec.observed.values, expected.observed.values)
    assert f"{rec.ground_truth.n_units} placed in view" in text
    assert main(["simulate", str(spec_file), "--out", str(out), "--resume", *FAST]) == 0
    assert "already complete" in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "complete" in info and "(20, 64, 64) uint8" in info


def test_overrides_are_applied_and_stored(spec_file, tmp_path):
    out = tmp_path / "rec.zarr"
    args = ["simulate", str(spec_file), "--out", str(out), "--duration", "0.5", "--seed", "7", "--gaussian-shot-noise"]
    assert main([*args, "--stages", "composite", *FAST]) == 0
    rec = load(out)
    assert rec.observed.shape[0] == 10 and rec.spec.seed == 7
    assert rec.spec.step("sensor").shot_noise == "gaussian"
    assert rec.stage("composite").shape[0] == 10


def _bad(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content)
    return path


@pytest.mark.parametrize(
    ("make_args", "needle"),
    [
        (lambda t, s: [str(_bad(t, "bad.json", '{"steps": [}'))], "not valid JSON"),
        (lambda t, s: [str(t / "missing.json")], "cannot read spec file"),
        (
            lambda t, s: [str(_bad(t, "na.json", s.read_text().replace('"na": 0.45', '"na": -0.5')))],
            "acquisition.optics.na",
        ),
        (lambda t, s: [str(_bad(t, "kind.json", s.read_text().replace('"composite"', '"compost"')))], "compost"),
        (lambda t, s: [str(s), "--duration", "-1"], "duration_s"),
        (lambda t, s: [str(s), "--chunk-frames", "0"], "--chunk-frames"),
        (lambda t, s: [str(s), "--scheduler", "nonsense"], "--scheduler"),
        (lambda t, s: [str(s), "--stages", "nope"], "--stages"),
        (lambda t, s: ["--scope", "hubble"], "hubble"),
    ],
)
def test_bad_input_is_a_short_message_exit_2_and_writes_nothing(make_args, needle, spec_file, tmp_path, capsys):
    out = tmp_path / "out.zarr"
    code = main(["simulate", "--out", str(out), *FAST, *make_args(tmp_path, spec_file)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert needle in err and "Traceback" not in err and len(err.splitlines()) <= 8
    assert not out.exists() and not partial_path(out).exists()


def test_out_refuses_user_data_and_existing_stores(spec_file, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("x")
    assert main(["simulate", str(spec_file), "--out", str(mine), "--overwrite", *FAST]) == 2
    assert "not a minisim store" in capsys.readouterr().err and (mine / "keep.txt").read_text() == "x"
    under_file = tmp_path / "mine" / "keep.txt" / "rec.zarr"
    assert main(["simulate", str(spec_file), "--out", str(under_file), *FAST]) == 2
    assert "not a directory" in capsys.readouterr().err
    out = tmp_path / "rec.zarr"
    assert main(["simulate", str(spec_file), "--out", str(out), *FAST]) == 0
    assert main(["simulate", str(spec_file), "--out", str(out), "--seed", "3", *FAST]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert load(out).spec.seed == 0
    assert main(["simulate", str(spec_file), "--out", str(out), "--seed", "3", "--overwrite", *FAST]) == 0
    assert load(out).spec.seed == 3


def test_info_of_missing_store_is_exit_2(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nothing.zarr")]) == 2
    assert "no minisim recording" in capsys.readouterr().err


def test_scheduler_address_runs_on_a_distributed_cluster(spec_file, tmp_path):
    from distributed import LocalCluster

    local = tmp_path / "local.zarr"
    assert main(["simulate", str(spec_file), "--out", str(local), *FAST]) == 0
    with LocalCluster(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as cluster:
        out = tmp_path / "dist.zarr"
        assert main(["simulate", str(spec_file), "--out", str(out), "--scheduler", cluster.scheduler_address]) == 0
    assert np.array_equal(load(out).observed.values, load(local).observed.values)


def test_unreachable_scheduler_is_exit_2(spec_file, tmp_path, capsys):
    code = main(["simulate", str(spec_file), "--out", str(tmp_path / "o.zarr"), "--scheduler", "tcp://127.0.0.1:1"])
    assert code == 2 and "cannot connect" in capsys.readouterr().err


def test_real_subprocess_simulate_and_error(spec_file, tmp_path):
    out = tmp_path / "sub.zarr"
    cmd = [sys.executable, "-m", "minisim.cli", "simulate", str(spec_file), "--out", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ground truth" in done.stdout and "writing sub.zarr" in done.stderr  # progress bar on stderr
    assert json.loads((out / "spec.json").read_text())["seed"] == 0
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    failed = subprocess.run([*cmd[:4], str(bad), "--out", str(tmp_path / "x.zarr")], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert failed.returncode == 2 and "Traceback" not in failed.stderr and "not valid JSON" in failed.stderr
    assert not (tmp_path / "x.zarr").exists()


def test_spec_into_a_closed_pipe_is_quiet():
    # `minisim spec | head -1`: the reader leaves early; no BrokenPipeError traceback.
    import subprocess
    import sys

    proc = subprocess.run(
        f"{sys.executable} -m minisim.cli spec | head -1", shell=True, capture_output=True, text=True, check=False
    )
    assert proc.stdout.startswith("{")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
