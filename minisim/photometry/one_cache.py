"""ONE cache tables (``sessions.pqt``, ``datasets.pqt``) at a root, so ``ONE(cache_dir=root, mode='local')`` works.

The tables are rebuilt from every session folder found under the root, with
deterministic ids: the session eid is ``uuid3`` of its relative path (ONE
accepts UUID versions 3 and 4), the dataset id ``uuid3`` of the eid and the
file's relative path. Each table carries the ``one_metadata`` parquet schema
metadata ONE looks for, and is written to a temporary name and renamed.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import uuid
from pathlib import Path

import pandas as pd

_NS = uuid.UUID("6f1c9a52-5d0e-4b7e-9a57-2c2d5e0c0b11")
#: ONE's QC levels, in order (the ``qc`` column is an ordered categorical of these).
QC_LEVELS = ["NOT_SET", "PASS", "WARNING", "FAIL", "CRITICAL"]


def eid_for(relpath: str | Path) -> str:
    """The deterministic session id of a ``lab/Subjects/subject/date/number`` path."""
    return str(uuid.uuid3(_NS, Path(relpath).as_posix()))


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _save(df: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df)
    meta = {
        b"one_metadata": json.dumps({"date_created": datetime.datetime.now().isoformat(), "origin": "minisim"}).encode()
    }
    table = table.replace_schema_metadata({**meta, **(table.schema.metadata or {})})
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp)
    tmp.replace(path)


def session_folders(root: Path) -> list[Path]:
    """Session folders (``<lab>/Subjects/<subject>/<date>/<NNN>``) under ``root``, sorted."""
    out = []
    for p in sorted(root.glob("*/Subjects/*/*/[0-9][0-9][0-9]")):
        if p.is_dir() and not p.name.startswith("."):
            out.append(p)
    return out


def write_cache(
    root: str | Path, protocol: str = "_iblrig_tasks_biasedChoiceWorld"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``sessions.pqt`` and ``datasets.pqt`` for every session under ``root``; return both tables."""
    root = Path(root)
    srows, drows = [], []
    for folder in session_folders(root):
        rel = folder.relative_to(root)
        lab, _, subject, date, number = rel.parts
        eid = eid_for(rel)
        srows.append(
            dict(
                id=eid,
                lab=lab,
                subject=subject,
                date=datetime.date.fromisoformat(date),
                number=int(number),
                task_protocol=protocol,
                projects="ibl_fibrephotometry",
            )
        )
        for f in sorted(folder.rglob("*")):
            if not f.is_file() or f.name.startswith("."):
                continue
            frel = f.relative_to(folder).as_posix()
            drows.append(
                dict(
                    eid=eid,
                    id=str(uuid.uuid3(_NS, f"{eid}/{frel}")),
                    rel_path=frel,
                    file_size=f.stat().st_size,
                    hash=_md5(f),
                    exists=True,
                    default_revision=True,
                    qc="NOT_SET",
                )
            )
    sessions = pd.DataFrame(srows, columns=["id", "lab", "subject", "date", "number", "task_protocol", "projects"])
    sessions["number"] = sessions["number"].astype("uint16")
    sessions = sessions.set_index("id")
    datasets = pd.DataFrame(
        drows, columns=["eid", "id", "rel_path", "file_size", "hash", "exists", "default_revision", "qc"]
    )
    datasets["qc"] = pd.Categorical(datasets["qc"], categories=QC_LEVELS, ordered=True)
    datasets = datasets.set_index(["eid", "id"])
    _save(sessions, root / "sessions.pqt")
    _save(datasets, root / "datasets.pqt")
    return sessions, datasets
