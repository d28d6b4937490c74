"""Write a simulated session in the ONE/ALF layout the IBL photometry stack reads, truth in ``alf/sim/``.

Frame tables are streamed chunk by chunk into parquet row groups, so an
hour-long multi-fiber session is written in bounded memory. A session is
written into a temporary folder beside its destination and renamed into place
only when every file is complete; an existing session is replaced only with
``overwrite=True``, and only after the new one is complete.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd

from minisim.photometry.engine import PhotometrySession
from minisim.photometry.task import states_timestamps

RAW_COLS = ("FrameCounter", "SystemTimestamp", "LedState", "ComputerTimestamp")
#: LedState → (name, color, wavelength) as the IBL decoder maps them.
BANDS = {0: ("None", "None", 0.0), 1: ("Isosbestic", "Violet", 415.0), 2: ("GCaMP", "Blue", 470.0)}
TRUTH_KINDS = (
    "dff",
    "stim_on",
    "movement",
    "feedback",
    "spontaneous",
    "bleaching",
    "motion",
    "hemodynamics",
    "expected",
)


def session_date(spec: Any, session: int) -> datetime.date:
    return datetime.date.fromisoformat(spec.start_date) + datetime.timedelta(days=session)


def session_relpath(spec: Any, session: int) -> Path:
    """``<lab>/Subjects/<subject>/<YYYY-MM-DD>/001`` for session ``session`` (one per day)."""
    return Path(spec.lab, "Subjects", spec.subject, session_date(spec, session).isoformat(), "001")


def _sorted_rois(names: tuple[str, ...]) -> list[str]:
    return sorted(names)  # the IBL converter sorts ROI columns by name (string order)


def raw_frame(block: dict[str, np.ndarray], rois: list[str]) -> pd.DataFrame:
    """The FP3002 version-5 raw table of one chunk."""
    df = pd.DataFrame({c: block[c] for c in RAW_COLS})
    df["FrameCounter"] = df["FrameCounter"].astype(np.int64)
    df["LedState"] = df["LedState"].astype(np.int64)
    for r in rois:
        df[r] = block[r].astype(np.float64)
    return df


def alf_frame(block: dict[str, np.ndarray], rois: list[str], valid_bounds: tuple[float, float]) -> pd.DataFrame:
    """``photometry.signal`` of one chunk, in the column order and dtypes of the IBL extractor's output."""
    df = pd.DataFrame({r: block[r].astype(np.float64) for r in rois})
    led = block["LedState"]
    df["times"] = block["times"]
    df["wavelength"] = np.array([BANDS[int(s)][2] for s in led], dtype=np.float64)
    df["name"] = np.array([BANDS[int(s)][0] for s in led], dtype=object)
    df["color"] = np.array([BANDS[int(s)][1] for s in led], dtype=object)
    df["valid"] = (block["times"] >= valid_bounds[0]) & (block["times"] <= valid_bounds[1])
    return df


def truth_frame(block: dict[str, np.ndarray], rois: list[str]) -> pd.DataFrame:
    cols: dict[str, Any] = {
        "row": block["FrameCounter"],
        "times": block["times"],
        "LedState": block["LedState"],
        "fault_dropped": block["fault_dropped"],
        "fault_repeated": block["fault_repeated"],
        "fault_early": block["fault_early"],
    }
    for r in rois:
        for k in TRUTH_KINDS:
            cols[f"{k}_{r}"] = block[f"{k}_{r}"]
    return pd.DataFrame(cols)


class _Stream:
    """A parquet file written row group by row group (pyarrow), schema fixed by the first chunk."""

    def __init__(self, path: Path):
        self.path, self.writer, self.schema = path, None, None

    def write(self, df: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(df, preserve_index=False, schema=self.schema)
        if self.writer is None:
            self.schema = table.schema
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, self.schema)
        assert self.writer is not None
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _jsonable(sess: PhotometrySession) -> str:
    lines = []
    for i, row in sess.trials.iterrows():
        st = states_timestamps(row)
        left = not np.isnan(row.contrastLeft)
        trial = {
            "trial_num": int(i) + 1,
            "contrast": float(row.contrastLeft if left else row.contrastRight),
            "position": -35 if left else 35,
            "stim_probability_left": float(row.probabilityLeft),
            "trial_correct": bool(row.feedbackType == 1),
            "reward_amount": float(row.rewardVolume),
            "behavior_data": {
                "Bpod start timestamp": 0.0,
                "Trial start timestamp": float(row.intervals_0),
                "Trial end timestamp": float(row.intervals_1),
                "States timestamps": st,
                "Events timestamps": {},
            },
        }
        lines.append(json.dumps(trial))
    return "\n".join(lines) + "\n"


def _description(sess: PhotometrySession) -> dict[str, Any]:
    spec = sess.spec
    fibers = {r: {"location": f.region} for r, f in zip(spec.roi_names, spec.fibers, strict=True)}
    return {
        "version": "1.0.0",
        "devices": {
            "neurophotometrics": {
                "collection": "raw_photometry_data",
                "fibers": fibers,
                "sync_channel": spec.acquisition.sync_channel,
                "sync_mode": "bpod",
            }
        },
        "procedures": ["Fiber photometry"],
        "projects": ["ibl_fibrephotometry"],
        "sync": {"bpod": {"collection": "raw_task_data_00", "extension": "jsonable"}},
        "tasks": [{spec.task.protocol: {"collection": "raw_task_data_00", "sync": "bpod"}}],
    }


def _digital_inputs(sess: PhotometrySession) -> pd.DataFrame:
    ts_bpod = sess.sync_times_bpod()
    fp = sess.plan.bpod_to_fp(ts_bpod)
    ch = sess.spec.acquisition.sync_channel
    return pd.DataFrame(
        {
            "ChannelName": np.array([f"Input{ch}"] * fp.size, dtype=object),
            "Channel": np.full(fp.size, ch, dtype=np.int8),
            "AlwaysTrue": np.ones(fp.size, dtype=bool),
            "SystemTimestamp": fp.astype(np.float64),
            "ComputerTimestamp": ts_bpod + 5000.0,
        }
    )


def _write_small(path: Path, df: pd.DataFrame, index: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=index)


def session_params(sess: PhotometrySession) -> dict[str, Any]:
    """What the truth records about the session as a whole: spec, clock, faults, sensors."""
    p = sess.plan
    return {
        "spec": json.loads(sess.spec.model_dump_json()),
        "session": p.session,
        "n_rows": p.n_rows,
        "clock": {
            "fp_clock_drift_ppm": sess.spec.acquisition.clock_drift_ppm,
            "reported_drift_ppm": sess.reported_drift_ppm,
            "fp_clock_offset_s": sess.spec.acquisition.clock_offset_s,
            "fp_first_frame_s": p.fp_start_s,
            "mapping": "t_fp = fp_clock_offset_s + t_bpod * (1 + fp_clock_drift_ppm * 1e-6)",
        },
        "faults": json.loads(sess.spec.faults.model_dump_json()),
        "sensors": {r: f.kinetics.model_dump() for r, f in zip(sess.spec.roi_names, sess.spec.fibers, strict=True)},
    }


def write_session(
    sess: PhotometrySession, root: str | Path, chunk_rows: int = 16384, overwrite: bool = False, progress: Any = None
) -> Path:
    """Write one session under ``root`` and return its folder.

    ``progress`` (optional) is called with the number of frame rows just written.
    """
    import yaml

    root = Path(root)
    final = root / session_relpath(sess.spec, sess.plan.session)
    if final.exists() and not overwrite:
        raise FileExistsError(f"{final} exists; pass overwrite=True (--overwrite) to replace it")
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        rois = _sorted_rois(sess.spec.roi_names)
        trials = sess.trials
        bounds = (float(trials.intervals_0.iloc[0]) - 2.0, float(trials.intervals_1.iloc[-1]) + 2.0)
        streams = {
            "raw": _Stream(tmp / "raw_photometry_data" / "_neurophotometrics_fpData.raw.pqt"),
            "alf": _Stream(tmp / "alf" / "photometry" / "photometry.signal.pqt"),
            "truth": _Stream(tmp / "alf" / "sim" / "_sim_photometryTruth.table.pqt"),
        }
        chunks = sess.chunks(chunk_rows)
        batch = max(1, 2 * (os.cpu_count() or 1))
        try:
            for i in range(0, len(chunks), batch):
                for block in dask.compute(*chunks[i : i + batch]):
                    streams["raw"].write(raw_frame(block, rois))
                    streams["alf"].write(alf_frame(block, rois, bounds))
                    streams["truth"].write(truth_frame(block, rois))
                    if progress is not None:
                        progress(len(block["times"]))
        finally:
            for s in streams.values():
                s.close()
        loc = pd.DataFrame(
            {
                "fiber": [f"fiber_{f.region}" for f in sess.spec.fibers],
                "brain_region": [f.region for f in sess.spec.fibers],
            },
            index=pd.Index(list(sess.spec.roi_names), name="ROI"),
        )
        _write_small(tmp / "alf" / "photometry" / "photometryROI.locations.pqt", loc, index=True)
        _write_small(tmp / "raw_photometry_data" / "_neurophotometrics_fpData.digitalInputs.pqt", _digital_inputs(sess))
        _write_small(tmp / "alf" / "task_00" / "_ibl_trials.table.pqt", trials)
        _write_small(tmp / "alf" / "sim" / "_sim_trialsTruth.table.pqt", sess.trials_truth)
        faults = [(r, k) for k in ("dropped", "repeated", "early") for r in getattr(sess.spec.faults, f"{k}_rows")]
        _write_small(
            tmp / "alf" / "sim" / "_sim_faults.table.pqt",
            pd.DataFrame({"row": np.array([r for r, _ in faults], dtype=np.int64), "kind": [k for _, k in faults]}),
        )
        (tmp / "raw_task_data_00").mkdir()
        (tmp / "raw_task_data_00" / "_iblrig_taskData.raw.jsonable").write_text(_jsonable(sess))
        (tmp / "_ibl_experiment.description.yaml").write_text(yaml.safe_dump(_description(sess), sort_keys=False))
        (tmp / "alf" / "sim" / "_sim_session.params.json").write_text(json.dumps(session_params(sess), indent=1))
        old = None
        if final.exists():
            old = final.parent / f".{final.name}.old-{os.getpid()}"
            final.rename(old)
        tmp.rename(final)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
