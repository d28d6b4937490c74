"""Reading stores written by :mod:`minisim.store`: their parts (``Recording.load``) and ``describe``."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import dask.array as da
import numpy as np

from minisim import _zarr_compat as zc
from minisim._base import RecordingFormatWarning
from minisim._store_check import CONTENTS, NamedReads, quick_check
from minisim._store_format import (
    FORMAT_VERSION,
    GT,
    MANIFEST,
    PARTIAL_SUFFIX,
    SPEC_FILE,
    StoreError,
    _Manifest,
    _read_json,
    _spec_digest,
    partial_path,
    store_attrs,
)
from minisim.artifacts import LAZY_FIELDS
from minisim.footprint import Footprints
from minisim.spec import ENGINE_VERSION, Spec


def _resume_hint(dest: Path) -> str:
    spec = partial_path(dest) / SPEC_FILE
    return (
        f"fix: resume it with `minisim simulate {spec if spec.is_file() else '<the same spec.json>'} --out "
        f"{dest} --resume` (or rec.save({str(dest)!r}, resume=True) with the same spec), or re-simulate"
    )


def regenerate_command(p: Path) -> str:
    """The command that writes the recording of the store at ``p`` again, with this minisim."""
    new = p.with_name(f"{p.name.removesuffix('.zarr')}-regenerated.zarr")
    if (p / SPEC_FILE).is_file():
        return f"minisim simulate {p / SPEC_FILE} --out {new}"
    return f"minisim.simulate(SPEC).save({str(new)!r}) with the recording's spec"


def other_format_message(p: Path, version: Any) -> str:
    """Why the store at ``p``, of on-disk ``format_version`` ``version``, is not read, and the fix.

    Format 2 is minisim 1.0's layout (one uncompressed ``observed`` array, the
    ground truth under other names, no completion flag): reading it as format
    3 would misread it, so it is refused with the command regenerating it.
    """
    written = "minisim 1.0" if version == 2 else "another minisim version"
    cmd = regenerate_command(p)
    fix = f"fix: regenerate it with this version: `{cmd}`"
    if isinstance(version, int) and version > FORMAT_VERSION:
        fix = f"fix: upgrade minisim (pip install -U minisim) to read it, or regenerate it: `{cmd}`"
    return (
        f"{str(p)!r} has store format_version {version!r} (written by {written}), but this minisim reads "
        f"format {FORMAT_VERSION} only and never guesses at another layout; {fix} (the same spec, "
        "simulated by this version's engine; docs/howto/switching_from_1_0.md lists what differs)"
    )


def _lazy(arr: Any, path: Path) -> da.Array:
    """A stored array read lazily, whose read errors name the chunk file."""
    return da.from_array(NamedReads(arr, path), chunks=arr.chunks, asarray=False, fancy=False)


class StoreParts(NamedTuple):
    """What a store holds, ready to build a :class:`~minisim.recording.Recording` from."""

    spec: Spec
    truth: dict[str, Any]
    stages: dict[str, da.Array]
    stage_order: tuple[str, ...]
    margin_px: int


def read_parts(path: str | os.PathLike[str]) -> StoreParts:
    """Read a store written by :func:`minisim.store.save` (``Recording.load`` builds the recording).

    The movie (and any stored stages) stay lazy (``da.from_zarr``); the
    ground truth is read exactly, its long series lazily. Refuses, with a
    message saying what to do: a missing or non-minisim path, another format
    version, an unfinished write, and a store whose ``spec.json`` was edited.
    """
    zc.warn_if_broken_pair("Recording.load", stacklevel=4)
    p = Path(path).expanduser()
    if not p.exists():
        tmp = partial_path(p)
        if (tmp / MANIFEST).is_file():
            m = _Manifest.read(tmp)
            n = len(m.done) if m else 0
            raise StoreError(
                f"{str(p)!r} is not finished: an interrupted write is in {str(tmp)!r} ({n} frame chunks "
                f"done); {_resume_hint(p)}"
            )
        if (tmp / CONTENTS).is_file():
            raise StoreError(
                f"{str(p)!r} is not finished: its write in {str(tmp)!r} completed but was interrupted before "
                f"being renamed into place; {_resume_hint(p)}"
            )
        raise StoreError(
            f"no minisim recording at {str(p)!r}; fix: check the path, or write one with `minisim simulate --out PATH`"
        )
    if (p / MANIFEST).is_file():
        dest = p.with_name(p.name.removesuffix(PARTIAL_SUFFIX))
        raise StoreError(f"{str(p)!r} is an unfinished write (incomplete store); {_resume_hint(dest)}")
    attrs = store_attrs(p)
    if attrs is None:
        raise StoreError(f"{str(p)!r} is not a minisim recording (no minisim attributes in .zattrs)")
    if attrs["format_version"] != FORMAT_VERSION:
        raise StoreError(other_format_message(p, attrs["format_version"]))
    if not attrs.get("complete"):
        raise StoreError(f"{str(p)!r} is incomplete (its write did not finish); {_resume_hint(p)}")
    text = (p / SPEC_FILE).read_text()
    try:
        edited = _spec_digest(text) != attrs.get("spec_sha256")
    except ValueError:
        edited = True
    if edited:
        raise StoreError(
            f"the spec in {str(p / SPEC_FILE)!r} was edited after the recording was written (its hash "
            "no longer matches), so the data does not match it; fix: restore spec.json, or re-simulate "
            "the edited spec with `minisim simulate spec.json --out NEW_PATH`"
        )
    quick_check(p)  # every file written is there, at its size
    spec = Spec.from_json(text)
    if attrs.get("engine_version") != ENGINE_VERSION or spec.cache_key() != attrs["spec_cache_key"]:
        warnings.warn(
            f"{p} was written by minisim engine {attrs.get('engine_version')} (this is {ENGINE_VERSION}); "
            "the stored data is exact, but re-simulating its spec now may give other values",
            RecordingFormatWarning,
            stacklevel=2,
        )
    root = zc.open_group(str(p), mode="r")
    stages = {"_fov": _lazy(root["observed"], p / "observed")}
    for name in attrs.get("stages", []):
        stages[name] = _lazy(root[f"stages/{name}"], p / "stages" / name)
    gt_group = root[GT]
    gt_attrs = dict(gt_group.attrs)
    kwargs: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in gt_attrs["scalars"].items()}
    for name in gt_attrs["present"]:
        if name in gt_attrs["footprints"]:
            parts = {k: gt_group[f"{name}/{k}"][...] for k in ("offsets", "shapes", "data")}
            kwargs[name] = Footprints.from_arrays(**parts, canvas_shape=gt_attrs["footprints"][name]["canvas_shape"])
        elif name in LAZY_FIELDS:
            kwargs[name] = _lazy(gt_group[name], p / GT / name)  # read from disk on first access, not now
        else:
            kwargs[name] = gt_group[name][...]
    kwargs.update(dict.fromkeys(gt_attrs["absent"], None))
    return StoreParts(spec, kwargs, stages, tuple(attrs.get("stages", [])), int(attrs.get("margin_px", 0)))


def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A summary of a store or of its unfinished write, without loading data."""
    p = Path(path).expanduser()
    tmp = p if (p / MANIFEST).is_file() else partial_path(p)
    where = p if p.exists() and not (p / MANIFEST).is_file() else tmp
    if not where.exists():
        raise StoreError(f"no minisim recording at {str(p)!r}; fix: check the path")
    attrs = store_attrs(where)
    m = _Manifest.read(where)
    if attrs is None and m is None:
        kind = "a file" if where.is_file() else "a directory without minisim attributes"
        raise StoreError(f"{str(where)!r} is not a minisim recording ({kind}); fix: pass a store written by "
                         "`minisim simulate --out PATH`")  # fmt: skip
    attrs = attrs or {}
    renamed = where == p  # else the unfinished write beside a missing store
    info: dict[str, Any] = {"path": str(where), "complete": bool(attrs.get("complete")) and m is None and renamed}
    if m is None and attrs.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        info["other_format"] = other_format_message(where, attrs["format_version"])
        info["regenerate"] = regenerate_command(where)
    info.update(
        {
            k: attrs[k]
            for k in ("format_version", "spec_cache_key", "engine_version", "n_frames", "chunk_frames", "stages")
            if k in attrs
        }
    )
    if m is not None:
        total = len(range(0, m.layout["arrays"]["observed"][0][0], m.layout["chunk_frames"]))
        info["chunks_done"] = f"{len(m.done)}/{total}"
    elif not info["complete"] and attrs.get("complete"):
        info["chunks_done"] = "all; only the rename into place is missing"
    if (where / ".zgroup").is_file() and (where / "observed" / ".zarray").is_file():
        meta = _read_json(where / "observed" / ".zarray") or {}
        info["observed"] = f"{tuple(meta.get('shape', ()))} {np.dtype(meta.get('dtype', 'u1')).name}"
        gt = _read_json(where / GT / ".zattrs") or {}
        info["ground_truth_fields"] = gt.get("present", [])
        n = _read_json(where / GT / "C" / ".zarray")
        if n:
            info["n_units"] = n["shape"][0]
    info["bytes_on_disk"] = sum(f.stat().st_size for f in where.rglob("*") if f.is_file())
    if info["complete"]:
        try:
            quick_check(where)
        except StoreError as err:
            info["complete"], info["damaged"] = False, str(err)
    return info
