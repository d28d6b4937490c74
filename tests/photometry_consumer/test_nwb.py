"""Simulated photometry sessions as NWB (ndx-fiber-photometry), read back with pynwb and checked by nwbinspector.

Run by ``make test-photometry`` in ``.venv-photometry``, which installs the ``photometry-nwb`` extra.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pynwb = pytest.importorskip("pynwb")
pytest.importorskip("ndx_fiber_photometry")
nwbinspector = pytest.importorskip("nwbinspector")

from minisim.cli import main  # noqa: E402
from minisim.photometry import Faults, Fiber, PhotometrySpec, Task, simulate_to  # noqa: E402
from minisim.photometry import metrics as pm  # noqa: E402
from minisim.photometry.alf import session_relpath  # noqa: E402
from minisim.photometry.nwb import nwb_relpath  # noqa: E402

SPEC = PhotometrySpec(
    subject="NWB",
    task=Task(n_trials=30, first_block_trials=20),
    fibers=(Fiber(region="VTA"), Fiber(region="LC", sensor="GRAB-NE1m")),
    faults=Faults(dropped_rows=(1001,), early_rows=(400,)),
)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("nwb_root")
    simulate_to(SPEC, r, sessions=1, progress=False, nwb=True)
    return r


def test_nwb_holds_both_bands_the_fibers_and_the_truth_of_the_alf_session(root):
    sp = root / session_relpath(SPEC, 0)
    signal = pd.read_parquet(sp / "alf/photometry/photometry.signal.pqt")
    truth = pm.load_truth(sp)
    with pynwb.NWBHDF5IO(str(root / nwb_relpath(SPEC, 0)), "r") as io:
        nwb = io.read()
        params = json.loads(nwb.scratch["session_params"].data)
        t0 = params["time_zero_bpod_s"]
        assert t0 == signal.times.iloc[0]
        for band, nm in (("GCaMP", 470.0), ("Isosbestic", 415.0)):
            series = nwb.acquisition[band]
            sel = signal[signal.name == band]
            np.testing.assert_array_equal(series.data[:], sel[["G0", "G1"]].to_numpy())
            np.testing.assert_allclose(series.timestamps[:], sel.times.to_numpy() - t0, rtol=0, atol=1e-9)
            rows = series.fiber_photometry_table_region.to_dataframe()
            assert rows.location.tolist() == ["VTA", "LC"] and (rows.excitation_wavelength_in_nm == nm).all()
            gt = nwb.processing["ground_truth"][f"dff_{int(nm)}nm"]
            tsel = truth["frames"][truth["frames"].LedState == (2 if nm == 470 else 1)]
            np.testing.assert_array_equal(gt.data[:, 1], tsel.dff_G1.to_numpy())
            np.testing.assert_array_equal(gt.timestamps[:], series.timestamps[:])  # the truth on the band's clock
        table = nwb.lab_meta_data["fiber_photometry"].fiber_photometry_table.to_dataframe()
        assert len(table) == 4 and sorted(set(table.excitation_wavelength_in_nm)) == [415.0, 470.0]
        indicators = nwb.lab_meta_data["fiber_photometry"].fiber_photometry_indicators.indicators
        labels = [i.label for i in indicators.values()]
        assert sorted(labels) == ["GCaMP6f", "GRAB-NE1m"]
        faults = nwb.processing["ground_truth"]["faults"].to_dataframe()
        assert sorted(zip(faults.kind, faults.row, strict=True)) == [("dropped", 1001), ("early", 400)]
        assert params["clock"]["fp_clock_drift_ppm"] == SPEC.acquisition.clock_drift_ppm
        trials = nwb.trials.to_dataframe()
        alf_trials = pd.read_parquet(sp / "alf/task_00/_ibl_trials.table.pqt")
        np.testing.assert_allclose(trials.feedback_times + t0, alf_trials.feedback_times, atol=1e-9)
        assert trials.choice.tolist() == alf_trials.choice.tolist()


def test_nwbinspector_finds_no_errors(root):
    messages = list(nwbinspector.inspect_nwbfile(nwbfile_path=str(root / nwb_relpath(SPEC, 0))))
    bad = [m for m in messages if m.importance.name in ("CRITICAL", "ERROR", "PYNWB_VALIDATION")]
    assert not bad, [(m.importance.name, m.check_function_name, m.message) for m in bad]
    violations = [m for m in messages if m.importance.name == "BEST_PRACTICE_VIOLATION"]
    assert not violations, [(m.check_function_name, m.message) for m in violations]


def test_cli_nwb_flag_and_refusal_to_overwrite(tmp_path, capsys):
    argv = ["photometry", "simulate", "--out", str(tmp_path), "--trials", "12", "--no-progress", "--nwb"]
    assert main(argv) == 0
    assert (tmp_path / nwb_relpath(PhotometrySpec(), 0)).stat().st_size > 0
    assert main(argv) == 2 and "--overwrite" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0
