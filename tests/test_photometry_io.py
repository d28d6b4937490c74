"""Photometry writers: the ALF/ONE layout and dtypes of the contract, the truth, atomic writes, the CLI."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from minisim.cli import main
from minisim.photometry import Faults, Fiber, PhotometrySpec, Task, simulate_session, simulate_to, write_session
from minisim.photometry import alf as alf_mod
from minisim.photometry.one_cache import eid_for

SPEC = PhotometrySpec(
    task=Task(n_trials=30, first_block_trials=20), fibers=(Fiber(), Fiber(region="LC", sensor="GRAB-NE1m"))
)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("phot")
    simulate_to(SPEC, r, sessions=2, progress=False, chunk_rows=3000)
    return r


def _sp(root, day=0):
    return root / alf_mod.session_relpath(SPEC, day)


def test_layout_and_dtypes_follow_the_contract(root):
    sp = _sp(root)
    sig = pd.read_parquet(sp / "alf/photometry/photometry.signal.pqt")
    assert list(sig.columns) == ["G0", "G1", "times", "wavelength", "name", "color", "valid"]
    assert isinstance(sig.index, pd.RangeIndex)
    assert (
        sig.dtypes["G0"] == np.float64
        and sig.dtypes["valid"] == np.dtype(bool)
        and sig.dtypes["wavelength"] == np.float64
    )
    assert sig.iloc[0][["name", "color", "wavelength"]].tolist() == ["None", "None", 0.0]
    assert set(sig.name[1:]) == {"GCaMP", "Isosbestic"} and set(sig.color[1:]) == {"Blue", "Violet"}
    assert (len(sig) - 1) % 2 == 0
    raw = pd.read_parquet(sp / "raw_photometry_data/_neurophotometrics_fpData.raw.pqt")
    assert list(raw.columns) == ["FrameCounter", "SystemTimestamp", "LedState", "ComputerTimestamp", "G0", "G1"]
    assert raw.FrameCounter.dtype == np.int64 and "Timestamp" not in raw
    assert np.array_equal(raw.G0.to_numpy(), sig.G0.to_numpy())
    di = pd.read_parquet(sp / "raw_photometry_data/_neurophotometrics_fpData.digitalInputs.pqt")
    assert pd.api.types.is_string_dtype(di.ChannelName)  # object under pandas 2, str under pandas 3
    assert di.drop(columns="ChannelName").dtypes.to_dict() == {
        "Channel": np.int8, "AlwaysTrue": bool, "SystemTimestamp": np.float64, "ComputerTimestamp": np.float64,
    }  # fmt: skip
    loc = pd.read_parquet(sp / "alf/photometry/photometryROI.locations.pqt")
    assert loc.index.name == "ROI" and loc.brain_region.tolist() == ["VTA", "LC"]
    trials = pd.read_parquet(sp / "alf/task_00/_ibl_trials.table.pqt")
    assert trials.choice.dtype == np.int64 and np.all(np.diff(trials.intervals_0) > 0)
    # the valid flag is the task window +- 2 s
    inside = (sig.times >= trials.intervals_0.iloc[0] - 2) & (sig.times <= trials.intervals_1.iloc[-1] + 2)
    assert np.array_equal(sig.valid, inside)
    desc = yaml.safe_load((sp / "_ibl_experiment.description.yaml").read_text())
    assert desc["devices"]["neurophotometrics"]["fibers"] == {"G0": {"location": "VTA"}, "G1": {"location": "LC"}}
    assert list(desc["tasks"][0]) == ["_iblrig_tasks_biasedChoiceWorld"]


def test_jsonable_sync_states_match_the_ttls(root):
    sp = _sp(root)
    lines = (sp / "raw_task_data_00/_iblrig_taskData.raw.jsonable").read_text().splitlines()
    bpod = [json.loads(line)["behavior_data"] for line in lines]
    assert len(bpod) == 30
    ts = sorted(
        d["States timestamps"][s][0][0] + d["Trial start timestamp"] - d["Bpod start timestamp"]
        for d in bpod
        for s in ("trial_start", "reward", "exit_state")
    )
    ts = np.array([t for t in ts if not np.isnan(t)])
    params = json.loads((sp / "alf/sim/_sim_session.params.json").read_text())["clock"]
    di = pd.read_parquet(sp / "raw_photometry_data/_neurophotometrics_fpData.digitalInputs.pqt")
    back = (di.SystemTimestamp - params["fp_clock_offset_s"]) / (1 + params["fp_clock_drift_ppm"] * 1e-6)
    assert np.allclose(back, ts, atol=1e-9)


def test_truth_beside_the_session(root):
    sim = _sp(root) / "alf/sim"
    truth = pd.read_parquet(sim / "_sim_photometryTruth.table.pqt")
    for kind in ("dff", "stim_on", "movement", "feedback", "bleaching", "motion", "hemodynamics", "expected"):
        assert f"{kind}_G0" in truth and f"{kind}_G1" in truth
    assert {"fault_dropped", "fault_repeated", "fault_early"} <= set(truth.columns)
    assert len(pd.read_parquet(sim / "_sim_trialsTruth.table.pqt")) == 30
    params = json.loads((sim / "_sim_session.params.json").read_text())
    assert PhotometrySpec.model_validate(params["spec"]) == SPEC
    assert params["sensors"]["G1"]["name"] == "GRAB-NE1m"


def test_one_cache_tables(root):
    sessions = pq.read_table(root / "sessions.pqt")
    datasets = pq.read_table(root / "datasets.pqt")
    for t in (sessions, datasets):
        assert "date_created" in json.loads(t.schema.metadata[b"one_metadata"])
    s = sessions.to_pandas()
    assert len(s) == 2 and s.number.dtype == np.uint16
    assert all(uuid.UUID(e).version in (3, 4) for e in s.index)
    assert s.index[0] == eid_for(alf_mod.session_relpath(SPEC, 0))
    d = datasets.to_pandas()
    assert list(d.index.names) == ["eid", "id"] and d.qc.cat.ordered and d.hash.str.len().eq(32).all()
    assert "raw_photometry_data/_neurophotometrics_fpData.raw.pqt" in set(d.rel_path)
    assert not [p.name for p in root.glob("*.pqt") if p.name not in ("sessions.pqt", "datasets.pqt")]


def test_write_is_atomic_and_never_loses_a_session(tmp_path, monkeypatch):
    sess = simulate_session(SPEC)
    path = write_session(sess, tmp_path)
    before = (path / "alf/photometry/photometry.signal.pqt").read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        write_session(sess, tmp_path)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(alf_mod, "truth_frame", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_session(sess, tmp_path, overwrite=True)
    assert (path / "alf/photometry/photometry.signal.pqt").read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["001"]  # no temporary folder left behind


def test_chunk_size_does_not_change_the_files(tmp_path):
    sess = simulate_session(SPEC)
    a = write_session(sess, tmp_path / "a", chunk_rows=999)
    b = write_session(sess, tmp_path / "b", chunk_rows=50000)
    for rel in ("alf/photometry/photometry.signal.pqt", "alf/sim/_sim_photometryTruth.table.pqt"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / rel), pd.read_parquet(b / rel), check_exact=True)


def test_cli_spec_and_simulate(tmp_path, capsys):
    assert main(["photometry", "spec"]) == 0
    spec = PhotometrySpec.model_validate_json(capsys.readouterr().out)
    assert spec == PhotometrySpec()
    f = tmp_path / "spec.json"
    f.write_text(spec.model_copy(update={"faults": Faults(early_rows=(100,))}).model_dump_json())
    out = tmp_path / "root"
    argv = ["photometry", "simulate", str(f), "--out", str(out), "--sessions", "2", "--trials", "12", "--no-progress"]
    assert main(argv) == 0
    assert len(list(out.glob("*/Subjects/*/*/001"))) == 2 and (out / "sessions.pqt").exists()
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    f.write_text('{"fibers": [{"sensor": "GCaMP9"}]}')
    assert main(["photometry", "simulate", str(f), "--out", str(out)]) == 2
    assert "GCaMP9" in capsys.readouterr().err


def test_cli_shows_progress_over_all_sessions(tmp_path, capsys):
    argv = ["photometry", "simulate", "--out", str(tmp_path), "--sessions", "2", "--trials", "12"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "photometry: 2 session(s)" in err and "100%" in err


def test_cli_nwb_without_the_extra_says_how_to_install_and_writes_nothing(tmp_path, capsys):
    import importlib.util

    if importlib.util.find_spec("pynwb") and importlib.util.find_spec("ndx_fiber_photometry"):
        pytest.skip("the photometry-nwb extra is installed here (tests/photometry_consumer/test_nwb.py covers it)")
    argv = ["photometry", "simulate", "--out", str(tmp_path / "r"), "--trials", "12", "--no-progress", "--nwb"]
    assert main(argv) == 2
    assert 'pip install "minisim[photometry-nwb]"' in capsys.readouterr().err
    assert not list((tmp_path / "r").glob("*/Subjects/*/*/001"))
