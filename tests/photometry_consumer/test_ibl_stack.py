"""Simulated sessions through the unmodified IBL photometry stack (ibl-photometry, ONE, ibllib).

Run by ``make test-photometry`` in ``.venv-photometry``. Nothing in the loaders is patched.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import iblphotometry.fpio as fpio  # fpio before neurophotometrics: the other order is a circular import
import numpy as np
import pandas as pd
import pytest
import yaml
from iblphotometry import metrics, neurophotometrics, pipelines

from minisim.photometry import metrics as pm
from minisim.photometry.one_cache import eid_for, session_folders

from .conftest import FAULTS

#: Correlation that iblphotometry's isosbestic_correction_pipeline must reach against the true ΔF/F, per
#: sensor. GRAB-5HT1.0 decays in ~3 s, so overlapping responses build a slow component that the pipeline's
#: 0.01 Hz low-pass bleach correction partly removes (and its ΔF/F mean with it): a lower bar, measured.
MIN_PIPELINE_R = {"VTA": 0.9, "DR-r": 0.85}


def _one(root):
    from one.api import ONE

    return ONE(cache_dir=root, mode="local")


def _session(root: Path, subject: str, day: int = 0) -> Path:
    return [p for p in session_folders(root) if p.parts[-3] == subject][day]


def test_one_finds_every_session(one_root):
    one = _one(one_root)
    eids = {str(e) for e in one.search()}
    assert eids == {eid_for(p.relative_to(one_root)) for p in session_folders(one_root)}
    assert len(eids) == 2 + len(FAULTS)
    assert len(one.search(subject="CLEAN")) == 2
    sp = _session(one_root, "CLEAN")
    assert Path(one.eid2path(eid_for(sp.relative_to(one_root)))) == sp


def test_raw_file_is_version_5_and_validates(one_root):
    sp = _session(one_root, "CLEAN")
    raw = pd.read_parquet(sp / "raw_photometry_data" / "_neurophotometrics_fpData.raw.pqt")
    assert neurophotometrics.infer_neurophotometrics_version_from_data(raw) == "version_5"
    df = neurophotometrics.from_neurophotometrics_df_to_photometry_df(raw.copy(), drop_first=True)
    assert set(df["name"]) == {"GCaMP", "Isosbestic"}
    fpio.validate_photometry_df(pd.read_parquet(sp / "alf" / "photometry" / "photometry.signal.pqt"))


def test_from_session_path_loads_both_bands(one_root):
    sp = _session(one_root, "CLEAN")
    data = fpio.from_session_path(sp, collection="photometry")
    assert set(data) == {"GCaMP", "Isosbestic"}
    assert list(data["GCaMP"].columns) == ["VTA", "DR-r"]
    assert len(data["GCaMP"]) == len(data["Isosbestic"])


@pytest.mark.parametrize("day", [0, 1])
def test_session_loader_through_one(one_root, day):
    one = _one(one_root)
    sp = _session(one_root, "CLEAN", day)
    loader = fpio.PhotometrySessionLoader(eid=eid_for(sp.relative_to(one_root)), one=one)
    loader.load_photometry(restrict_to_session=True)
    ph = loader.photometry
    assert set(ph) == {"GCaMP", "Isosbestic"}
    g, i = ph["GCaMP"], ph["Isosbestic"]
    assert len(g) == len(i) > 1000 and list(g.columns) == ["VTA", "DR-r"]
    trials = pd.read_parquet(sp / "alf" / "task_00" / "_ibl_trials.table.pqt")
    assert g.index[0] >= trials.intervals_0.iloc[0] - 5.0 - 0.05
    assert g.index[-1] <= trials.intervals_1.iloc[-1] + 5.0 + 0.05


def test_bpod_sync_task_rebuilds_our_alf_and_reports_our_drift(one_root, tmp_path, caplog):
    from iblphotometry.tasks import FibrePhotometryBpodSync

    sp = _session(one_root, "CLEAN")
    work = tmp_path / "root"
    shutil.copytree(one_root, work)
    wsp = work / sp.relative_to(one_root)
    shutil.rmtree(wsp / "alf" / "photometry")  # the extractor must make these from the raw files alone
    desc = yaml.safe_load((wsp / "_ibl_experiment.description.yaml").read_text())
    task = FibrePhotometryBpodSync(wsp, one=_one(work), on_error="raise", **desc["devices"]["neurophotometrics"])
    with caplog.at_level(logging.INFO):
        status = task.run()
    assert status == 0
    ours = pd.read_parquet(sp / "alf" / "photometry" / "photometry.signal.pqt")
    theirs = pd.read_parquet(wsp / "alf" / "photometry" / "photometry.signal.pqt")
    np.testing.assert_allclose(theirs["times"], ours["times"], rtol=0, atol=1e-7)
    pd.testing.assert_frame_equal(theirs.drop(columns="times"), ours.drop(columns="times"), check_exact=True)
    pd.testing.assert_frame_equal(
        pd.read_parquet(wsp / "alf" / "photometry" / "photometryROI.locations.pqt"),
        pd.read_parquet(sp / "alf" / "photometry" / "photometryROI.locations.pqt"),
    )
    logged = [r.getMessage() for r in caplog.records if "synced with drift" in r.getMessage()]
    assert len(logged) == 1
    drift = float(logged[0].rsplit(":", 1)[1])
    truth = json.loads((sp / "alf" / "sim" / "_sim_session.params.json").read_text())["clock"]
    assert drift == pytest.approx(truth["reported_drift_ppm"], abs=0.01)
    assert truth["fp_clock_drift_ppm"] == pytest.approx(-drift, abs=0.01)


def _ibl_qc(sp: Path) -> dict:
    """QC as iblnm runs it: raw QC on the raw FP3002 table, coverage and unique samples on the loaded signal."""
    raw = neurophotometrics.from_neurophotometrics_file_to_photometry_df(
        sp / "raw_photometry_data" / "_neurophotometrics_fpData.raw.pqt", drop_first=True
    ).set_index("times")
    data = fpio.from_session_path(sp, collection="photometry")
    trials = pd.read_parquet(sp / "alf" / "task_00" / "_ibl_trials.table.pqt")
    g = data["GCaMP"].iloc[:, 0]
    return {
        "band_inversions": int(metrics.n_band_inversions(raw)),
        "early_samples": int(metrics.n_early_samples(raw)),
        "covers_trials": bool(g.index[0] <= trials.stimOn_times.min() and g.index[-1] >= trials.feedback_times.max()),
        "few_unique": bool(min(metrics.n_unique_samples(data[b].iloc[:, 0]) for b in data) < 0.1),
        "n_trials_ok": len(trials) >= 90 and trials[["stimOn_times", "feedback_times"]].notna().mean().min() >= 0.9,
        "long_enough": g.index[-1] - g.index[0] > 120,
    }


def test_qc_passes_clean_sessions(one_root):
    for day in (0, 1):
        qc = _ibl_qc(_session(one_root, "CLEAN", day))
        assert qc == {"band_inversions": 0, "early_samples": 0, "covers_trials": True, "few_unique": False,
                      "n_trials_ok": True, "long_enough": True}  # fmt: skip


@pytest.mark.parametrize("name", list(FAULTS))
def test_qc_catches_each_injected_fault_as_the_truth_says(one_root, name):
    sp = _session(one_root, name.upper())
    qc = _ibl_qc(sp)
    truth = pm.load_truth(sp)
    expected = pm.expected_qc(truth["params"])
    assert {k: qc[k] for k in expected} == expected
    # the flagged rows in the truth are where the stack sees the defect
    frames = truth["frames"]
    if name in ("dropped", "repeated"):
        row = int(frames.row[frames[f"fault_{name}"]].iloc[0])
        led = frames.LedState.to_numpy()
        assert led[row] == led[row - 1]
    if name == "early":
        row = int(frames.row[frames.fault_early].iloc[0])
        dt = np.diff(pd.read_parquet(sp / "raw_photometry_data" / "_neurophotometrics_fpData.raw.pqt").SystemTimestamp)
        assert np.argmin(dt) + 1 == row


def test_qc_confusion_matrix_against_the_truth(one_root):
    pairs = []
    for sp in session_folders(one_root):
        qc = _ibl_qc(sp)
        flagged = qc["band_inversions"] > 0 or qc["early_samples"] > 0 or not qc["covers_trials"] or qc["few_unique"]
        faults = pm.load_truth(sp)["params"]["faults"]
        injected = bool(faults["dropped_rows"] or faults["repeated_rows"] or faults["early_rows"]
                        or faults["late_start_s"] or faults["quantize_bits"])  # fmt: skip
        pairs.append((injected, flagged))
    cm = pm.qc_confusion(pairs)
    assert cm.loc["clean", "flagged"] == 0 and cm.loc["faulty", "pass"] == 0
    assert cm.loc["clean", "pass"] == 2 and cm.loc["faulty", "flagged"] == len(FAULTS)


def test_isosbestic_correction_pipeline_recovers_the_true_signal(one_root):
    sp = _session(one_root, "CLEAN")
    one = _one(one_root)
    loader = fpio.PhotometrySessionLoader(eid=eid_for(sp.relative_to(one_root)), one=one)
    loader.load_photometry(restrict_to_session=True)
    truth = pm.load_truth(sp)["frames"]
    for region, roi in (("VTA", "G0"), ("DR-r", "G1")):
        out = pipelines.run_pipeline(
            pipelines.isosbestic_correction_pipeline,
            loader.photometry["GCaMP"][region],
            loader.photometry["Isosbestic"][region],
        )
        score = pm.recovery(out, pm.true_dff(truth, roi))
        print(region, score)
        assert score["r"] >= MIN_PIPELINE_R[region], (region, score)
        assert score["rmse_affine_dff"] < 0.015, (region, score)
    assert (
        pm.recovery(
            pipelines.run_pipeline(
                pipelines.isosbestic_correction_pipeline,
                loader.photometry["GCaMP"]["VTA"],
                loader.photometry["Isosbestic"]["VTA"],
            ),
            pm.true_dff(truth, "G0"),
        )["rmse_dff"]
        < 0.01
    )
    trials = pd.read_parquet(sp / "alf" / "task_00" / "_ibl_trials.table.pqt")
    out = pipelines.run_pipeline(
        pipelines.isosbestic_correction_pipeline,
        loader.photometry["GCaMP"]["VTA"],
        loader.photometry["Isosbestic"]["VTA"],
    )
    bias = pm.event_amplitude_bias(out, pm.true_dff(truth, "G0"), trials.feedback_times.to_numpy())
    print("feedback amplitude bias", bias)
    assert bias["r"] > 0.8 and 0.7 < bias["slope"] < 1.3, bias
