"""One self-describing zarr store per recording: atomic, resumable, exact.

Layout (zarr format 2 on disk, readable by zarr-python 2.18 and 3)::

    spec.json                 the spec, as written by Spec.to_json()
    .zattrs                   format_version, spec_cache_key, spec_sha256,
                              engine_version, complete, stages, ...
    observed                  (frame, height, width) movie; coordinates in
    frame, height, width      integer 1-D arrays (xarray reads the root)
    stages/<name>             optional movie stages (float32)
    ground_truth/<field>      every GroundTruth array field; None fields are
                              omitted and listed in the group's "absent"
    ground_truth/planted/{offsets,shapes,data}   sparse footprints
    ground_truth/observed/{offsets,shapes,data}

Writes go to a sibling ``<path>.partial`` directory and are moved into place
with ``os.replace`` only when complete; an existing store is never removed
before its replacement is finished. The set-up (metadata, small arrays) is
built in a private directory and renamed to ``<path>.partial`` in one step,
so a ``.partial`` always holds a manifest, and a killed set-up is simply
redone. One writer at a time: ``<path>.lock`` (:mod:`minisim._store_lock`)
names the PID and host of the writer. A finished store lists the size and
SHA-256 of every file (:mod:`minisim._store_check`). Frame chunks are written as
independent tasks of one dask computation (the movie, the stages and any
lazy ground truth together, so their shared upstream is computed once), and
each finished chunk is recorded in a manifest, so a killed write resumes
where it stopped and produces the same bytes (all randomness is keyed on
absolute frames).
"""

from __future__ import annotations

import dataclasses
import errno
import numbers
import os
import shutil
import string
import uuid
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import dask.array as da
import numcodecs
import numpy as np

from minisim import _zarr_compat as zc
from minisim._base import RecordingFormatWarning
from minisim._store_check import CONTENTS, quick_check, verify, write_contents  # noqa: F401 - re-exported
from minisim._store_format import (  # noqa: F401 - re-exported
    FORMAT_VERSION,
    GT,
    MANIFEST,
    PARTIAL_SUFFIX,
    SPEC_FILE,
    StoreError,
    _Manifest,
    _read_json,
    _spec_digest,
    _write_json,
    enclosing_store,
    partial_path,
    refuse_inside_store,
    store_attrs,
)
from minisim._store_lock import StoreLockedError, destination_lock, lock_path, pid_alive  # noqa: F401
from minisim._store_read import describe  # noqa: F401 - re-exported
from minisim.artifacts import PER_UNIT
from minisim.footprint import Footprints
from minisim.progress import run_blocks
from minisim.recording import Recording
from minisim.spec import ENGINE_VERSION

COMPRESSOR = numcodecs.Blosc(cname="zstd", clevel=1, shuffle=numcodecs.Blosc.SHUFFLE)
#: Every chunk is written, even all-zero ones: with ``fill_value`` null (so
#: xarray does not mask zeros as missing) zarr-python 2 would otherwise read
#: absent chunks as uninitialised memory.
_WRITE_ALL = {"write_empty_chunks": True}
#: Chunk size (bytes) for arrays without a frame axis (footprint data, fields).
_FLAT_CHUNK_BYTES = 16 * 2**20
#: Frame chunks handed to the scheduler at a time: its task state (~50 kB a chunk) then stays
#: bounded (an hour at 20 fps is ~4800 chunks), and each window is still hundreds of tasks deep.
WRITE_WINDOW_CHUNKS = 512


# ---------------------------------------------------------------- destination


def check_destination(
    path: str | os.PathLike[str], *, overwrite: bool = False, resume: bool = False, spec_key: str | None = None
) -> str:
    """Refuse a destination that would lose data or cannot be written.

    Returns ``"new"`` (nothing there, or an empty directory), ``"replace"``
    (a minisim store that ``overwrite`` allows replacing) or ``"done"`` (with
    ``resume``: a complete store of the same spec is already there).
    Nothing is created or changed.
    """
    dest = Path(path).expanduser()
    refuse_inside_store(dest)
    if dest.is_symlink() and not dest.exists():
        raise StoreError(f"--out {str(dest)!r} is a dangling symbolic link; fix: choose another path")
    if dest.exists():
        if not dest.is_dir():
            raise StoreError(
                f"{str(dest)!r} exists and is a file, not a minisim store; refusing to replace it "
                "(even with overwrite); fix: choose another output path"
            )
        attrs = store_attrs(dest)
        if attrs is None and any(dest.iterdir()):
            raise StoreError(
                f"{str(dest)!r} exists and is not a minisim store; refusing to replace it (even with "
                "overwrite) so no data of yours is lost; fix: choose a new output path, or delete it yourself"
            )
        if attrs is not None:
            same = attrs.get("spec_cache_key") == spec_key and attrs.get("format_version") == FORMAT_VERSION
            if resume and same and attrs.get("complete"):
                try:
                    quick_check(dest)
                except StoreError as err:
                    raise StoreError(f"{err} (--resume only continues unfinished writes; pass --overwrite to "
                                     "write it again)") from None  # fmt: skip
                return "done"
            if not overwrite:
                what = "already holds this recording" if same else "holds another minisim recording"
                raise StoreError(
                    f"{str(dest)!r} exists and {what}; fix: pass overwrite=True (--overwrite) to replace "
                    "it (the old store is kept until the new one is complete), or choose another path"
                )
            return "replace"
    tmp = partial_path(dest)
    if tmp.exists() and not (tmp / MANIFEST).is_file() and not _finished(tmp) and any(tmp.iterdir()):
        raise StoreError(
            f"{str(tmp)!r} exists but is not an unfinished minisim write; fix: remove it or choose another output path"
        )
    parent = dest.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise StoreError(
            f"cannot write {str(dest)!r}: {str(parent)!r} is a file, not a directory; fix: choose an "
            "output path inside a directory"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(
            f"cannot write {str(dest)!r}: directory {str(parent)!r} is not writable; fix: choose a writable location"
        )
    return "new"


# ---------------------------------------------------------------- plan


@dataclasses.dataclass
class _Item:
    path: str
    value: Any  # np.ndarray or dask array
    frame_axis: int | None
    dims: tuple[str, ...] | None = None

    @property
    def lazy(self) -> bool:
        return isinstance(self.value, da.Array)


def _frame_axis(shape: tuple[int, ...], n_frames: int) -> int | None:
    axes = [i for i, s in enumerate(shape) if s == n_frames]
    return axes[-1] if axes and n_frames > 1 else None


def _gt_dims(name: str, shape: tuple[int, ...], frame_axis: int | None, n_units: int) -> tuple[str, ...]:
    dims = [f"{name}_dim{k}" for k in range(len(shape))]
    if shape and name in (*PER_UNIT, "detectable", "snr") and shape[0] == n_units:
        dims[0] = "unit_id"
    if frame_axis is not None:
        dims[frame_axis] = "frame"
    return tuple(dims)


def _plan(rec: Any, stage_names: list[str]) -> tuple[list[_Item], dict[str, Any]]:
    """Every array to write, and the ground truth's JSON attributes."""
    observed = rec.observed
    n_frames = int(observed.shape[0])
    items = [_Item("observed", observed.data, 0, ("frame", "height", "width"))]
    items += [_Item(c, np.asarray(observed[c].values), None, (c,)) for c in ("frame", "height", "width")]
    for name in stage_names:
        arr = rec.stage(name).data
        spatial = ("height", "width") if arr.shape[1:] == observed.shape[1:] else ("canvas_height", "canvas_width")
        items.append(_Item(f"stages/{name}", arr, 0, ("frame", *spatial)))
    gt = rec.ground_truth
    attrs: dict[str, Any] = {"present": [], "absent": [], "scalars": {}, "footprints": {}}
    for f in dataclasses.fields(gt):
        value = gt.stored(f.name)  # long series stay lazy: written chunk by chunk with the movie
        if value is None:
            attrs["absent"].append(f.name)
        elif isinstance(value, Footprints):
            attrs["footprints"][f.name] = {"canvas_shape": [int(s) for s in value.canvas_shape]}
            items += [_Item(f"{GT}/{f.name}/{k}", v, None) for k, v in value.to_arrays().items()]
            attrs["present"].append(f.name)
        elif isinstance(value, (np.ndarray, da.Array, list)):
            value = value if isinstance(value, da.Array) else np.asarray(value)
            axis = _frame_axis(value.shape, n_frames)
            items.append(_Item(f"{GT}/{f.name}", value, axis, _gt_dims(f.name, value.shape, axis, gt.n_units)))
            attrs["present"].append(f.name)
        else:
            scalar = value.item() if isinstance(value, np.generic) else value
            attrs["scalars"][f.name] = list(scalar) if isinstance(scalar, tuple) else scalar
    return items, attrs


def _chunks(item: _Item, chunk_frames: int) -> tuple[int, ...]:
    shape = item.value.shape
    chunks = [max(1, s) for s in shape]
    if item.frame_axis is not None:
        chunks[item.frame_axis] = min(chunk_frames, max(1, shape[item.frame_axis]))
    elif shape:
        row = max(1, int(np.prod(chunks[1:])) * item.value.dtype.itemsize)
        chunks[0] = max(1, min(chunks[0], _FLAT_CHUNK_BYTES // row))
    return tuple(chunks)


def _layout(items: list[_Item], chunk_frames: int, spec_key: str) -> dict[str, Any]:
    arrays = {i.path: [list(i.value.shape), i.value.dtype.str, list(_chunks(i, chunk_frames))] for i in items}
    return {
        "format_version": FORMAT_VERSION,
        "spec_cache_key": spec_key,
        "chunk_frames": chunk_frames,
        "arrays": arrays,
    }


# ---------------------------------------------------------------- write


def _init_store(
    tmp: Path,
    rec: Any,
    items: list[_Item],
    gt_attrs: dict[str, Any],
    layout: dict[str, Any],
    stage_names: list[str],
    manifest: _Manifest,
) -> None:
    """Build the store's skeleton privately, then rename it to ``tmp`` in one step (a kill leaves no ``tmp``)."""
    final = tmp
    tmp = tmp.with_name(f".{tmp.name}.init-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    root = zc.open_group(str(tmp), mode="w")
    manifest.file = tmp / MANIFEST
    manifest.save()
    chunk_frames = layout["chunk_frames"]
    for item in items:
        arr = zc.create_array(
            root,
            item.path,
            shape=item.value.shape,
            dtype=item.value.dtype,
            chunks=_chunks(item, chunk_frames),
            compressor=COMPRESSOR,
            fill_value=None,
            **_WRITE_ALL,
        )
        if item.dims is not None:
            arr.attrs["_ARRAY_DIMENSIONS"] = list(item.dims)
        if not item.lazy:
            arr[...] = item.value
        elif item.frame_axis is None:
            da.store(item.value, arr, lock=False)
    gt_group = root.require_group(GT)
    gt_group.attrs.update(gt_attrs)
    for name, meta in gt_attrs["footprints"].items():
        root.require_group(f"{GT}/{name}").attrs.update(meta)
    if stage_names:
        root.require_group("stages").attrs["order"] = stage_names
    text = rec.spec.to_json()
    (tmp / SPEC_FILE).write_text(text + "\n")
    root.attrs.update({
        "format_version": FORMAT_VERSION,
        "complete": False,
        "spec_cache_key": layout["spec_cache_key"],
        "spec_sha256": _spec_digest(text),
        "engine_version": ENGINE_VERSION,
        "minisim_version": version("minisim"),
        "n_frames": int(rec.observed.shape[0]),
        "chunk_frames": chunk_frames,
        "stages": stage_names,
        "margin_px": int(rec.margin_px),
        "movie": "observed (frame, height, width)",
        "ground_truth": f"{GT}/ (Recording.load restores minisim.GroundTruth)",
    })  # fmt: skip
    manifest.state = "writing"
    manifest.save()
    if final.is_dir() and not any(final.iterdir()):
        final.rmdir()
    os.replace(tmp, final)
    manifest.file = final / MANIFEST


def _write_chunk(
    root: str, paths: tuple[str, ...], axes: tuple[int, ...], frames: np.ndarray, *blocks: np.ndarray
) -> np.ndarray:
    """Write one frame chunk of every lazy array (a dask task)."""
    a, b = int(frames[0]), int(frames[-1]) + 1
    for path, axis, block in zip(paths, axes, blocks, strict=True):
        sel = [slice(None)] * block.ndim
        sel[axis] = slice(a, b)
        zc.open_array(root, path=path, mode="r+", **_WRITE_ALL)[tuple(sel)] = block
    return np.ones(1, bool)


def _chunk_writes(tmp: Path, items: list[_Item], n_frames: int, chunk_frames: int) -> da.Array:
    """A 1-D dask array, one element per frame chunk, done once that chunk of every lazy array is written.

    The movie (with any stages, which share its upstream) and the lazy ground
    truth are written by separate tasks joined by a tiny one, so a finished
    movie chunk is written and freed at once instead of waiting in memory for
    the ground truth of its frames.
    """
    frames = da.arange(n_frames, chunks=chunk_frames, dtype=np.int64)
    lazy = [i for i in items if i.lazy and i.frame_axis is not None]
    groups = [[i for i in lazy if not i.path.startswith(GT)], [i for i in lazy if i.path.startswith(GT)]]
    writes = [_group_writes(tmp, group, frames, chunk_frames) for group in groups if group]
    pairs = [x for w in writes for x in (w, "t")]
    return da.blockwise(
        _all_written, "t", *pairs, dtype=bool, meta=np.empty(0, bool), name=f"minisim-written-{uuid.uuid4().hex[:12]}"
    )


def _group_writes(tmp: Path, group: list[_Item], frames: da.Array, chunk_frames: int) -> da.Array:
    letters = iter(c for c in string.ascii_letters if c != "t")
    args: list[Any] = []
    for item in group:
        ax = item.frame_axis
        arr = item.value.rechunk({k: (chunk_frames if k == ax else -1) for k in range(item.value.ndim)})
        args += [arr, "".join("t" if k == ax else next(letters) for k in range(arr.ndim))]
    return da.blockwise(
        _write_chunk, "t", str(tmp), None, tuple(i.path for i in group), None, tuple(i.frame_axis for i in group), None,
        frames, "t", *args, adjust_chunks={"t": 1}, dtype=bool, concatenate=True, meta=np.empty(0, bool),
        name=f"minisim-write-{uuid.uuid4().hex[:12]}",
    )  # fmt: skip


def _all_written(*flags: np.ndarray) -> np.ndarray:
    return np.logical_and.reduce(flags)


def _finish(tmp: Path, dest: Path, status: str) -> None:
    """Mark the write complete, list its contents, drop the manifest, rename into place.

    Each step leaves a state that a rerun finishes: until the manifest is gone
    it is an unfinished write whose chunks are all done; after, a finished
    write whose rename is missing (:func:`_finished`).
    """
    # A write killed mid-chunk leaves zarr's own temporary chunk file ("<key>.<uuid>.partial");
    # the chunk itself was rewritten on resume, so the leftover only breaks byte-identity.
    for leftover in [*tmp.rglob("*.partial"), tmp / (MANIFEST + ".tmp"), tmp / (CONTENTS + ".tmp")]:
        if leftover.is_file():
            leftover.unlink()
    root = zc.open_group(str(tmp), mode="r+")
    root.attrs["complete"] = True
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not recognized as a component", category=UserWarning)
        zc.consolidate_metadata(str(tmp))
    write_contents(tmp, exclude=(MANIFEST,))  # the manifest is about to go: listed nowhere
    (tmp / MANIFEST).unlink()
    _rename_into_place(tmp, dest, status)


def _finished(tmp: Path) -> bool:
    """Whether an unfinished write is in fact finished and only its rename into place is missing."""
    attrs = store_attrs(tmp)
    return bool(attrs and attrs.get("complete")) and (tmp / CONTENTS).is_file() and not (tmp / MANIFEST).exists()


def _rename_into_place(tmp: Path, dest: Path, status: str) -> None:
    if dest.exists() and status == "replace":
        backup = dest.with_name(f".{dest.name}.replaced-{uuid.uuid4().hex[:8]}")
        os.replace(dest, backup)
        try:
            os.replace(tmp, dest)
        except OSError:
            os.replace(backup, dest)
            raise
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(tmp, dest)


def _finish_interrupted_replace(dest: Path) -> None:
    """Complete a replacing rename that was killed between its two steps (we hold the lock).

    The old store was moved aside to ``.<name>.replaced-*``; the new one is
    finished in ``<name>.partial``: rename it into place, as the interrupted
    write was about to. Without a finished new store, the old one goes back.
    """
    backups = sorted(dest.parent.glob(f".{dest.name}.replaced-*"))
    if dest.exists() or not backups:
        return
    tmp = partial_path(dest)
    if _finished(tmp):
        os.replace(tmp, dest)
    else:  # pragma: no cover - the backup is only made once the new store is finished
        os.replace(backups[-1], dest)


def tidy_destination(path: str | os.PathLike[str]) -> None:
    """Under the destination's lock, finish an interrupted replace and remove what killed writes left beside it."""
    dest = Path(path).expanduser().absolute()
    with destination_lock(dest):
        _finish_interrupted_replace(dest)
        _cleanup_orphans(dest)


def _cleanup_orphans(dest: Path) -> None:
    """Remove what killed writes of ``dest`` left beside it (we hold its lock, so none is live)."""
    for pattern in (f".{dest.name}.partial.init-*", f".{dest.name}.replaced-*"):
        for orphan in dest.parent.glob(pattern):
            shutil.rmtree(orphan, ignore_errors=True)


def _positive_frames(value: Any, name: str = "chunk_frames") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise StoreError(
            f"{name} = {value!r} ({type(value).__name__}) must be a positive integer number of frames; "
            f"fix: pass e.g. {name}=64"
        )
    return int(value)


def _resolve_stages(rec: Any, stages: list[str] | str | None) -> list[str]:
    if stages is None:
        return list(rec.stage_order) if rec.spec.output.save_intermediates else []
    if isinstance(stages, str):
        stages = [stages]
    try:
        return list(dict.fromkeys(str(rec.stage(s).name) for s in stages))
    except (KeyError, ValueError) as err:
        raise StoreError(f"stages: {err.args[0]}") from err


def load(path: str | os.PathLike[str]) -> Recording:
    """Read a store written by :func:`save` into a :class:`~minisim.recording.Recording`.

    The movie (and any stored stages) stay lazy (``da.from_zarr``); the
    ground truth is read exactly. Refuses, with a message saying what to
    do: a missing or non-minisim path, another format version, an
    unfinished write, and a store whose ``spec.json`` was edited.
    """
    return Recording.load(path)


def save(
    recording: Any,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    stages: list[str] | str | None = None,
    chunk_frames: int | None = None,
    progress: bool = False,
    resume: bool = False,
) -> Path:
    """Write a recording to one zarr store, atomically and resumably.

    Parameters
    ----------
    recording : Recording
        What :func:`minisim.simulate` returned; its lazy movie is computed
        here, chunk by chunk, in bounded memory.
    path : str or path-like
        The store directory. Written as ``<path>.partial`` and renamed.
    overwrite : bool
        Replace an existing minisim store at ``path`` (kept until the new one
        is complete). Anything else at ``path`` is never replaced.
    stages : list of str, optional
        Movie stages to store too (names or step kinds); default: every
        stage when ``spec.output.save_intermediates`` is set, else none.
        They are computed in the same pass as the movie.
    chunk_frames : int, optional
        Frames per zarr chunk (and per resumable unit); default: the
        recording's dask chunking, or that of the unfinished write resumed.
    progress : bool
        Show a progress bar.
    resume : bool
        Continue an interrupted write of the same spec (this also happens
        automatically when its ``.partial`` directory is found); with a
        complete store of the same spec already at ``path``, do nothing.

    Returns
    -------
    Path
        The store.
    """
    zc.warn_if_broken_pair("Recording.save", stacklevel=4)
    dest = Path(path).expanduser().absolute()
    check_destination(dest, overwrite=overwrite, resume=resume, spec_key=recording.spec.cache_key())
    with destination_lock(dest):
        return _save_locked(recording, dest, overwrite, stages, chunk_frames, progress, resume)


def _save_locked(
    recording: Any,
    dest: Path,
    overwrite: bool,
    stages: list[str] | str | None,
    chunk_frames: int | None,
    progress: bool,
    resume: bool,
) -> Path:
    key = recording.spec.cache_key()
    _finish_interrupted_replace(dest)
    status = check_destination(dest, overwrite=overwrite, resume=resume, spec_key=key)  # again, now locked
    _cleanup_orphans(dest)
    if status == "done":
        return dest
    tmp = partial_path(dest)
    if chunk_frames is not None:
        chunk_frames = _positive_frames(chunk_frames)
    if _finished(tmp) and (store_attrs(tmp) or {}).get("spec_cache_key") == key:
        quick_check(tmp)
        _rename_into_place(tmp, dest, status)  # killed between finishing and the rename
        return dest
    stage_names = _resolve_stages(recording, stages)
    items, gt_attrs = _plan(recording, stage_names)
    n_frames = int(items[0].value.shape[0])
    if n_frames == 0 or int(np.prod(items[0].value.shape)) == 0:
        raise StoreError(
            f"this recording's movie has shape {tuple(items[0].value.shape)}: no frames to save (a spec without "
            "movie steps, or simulate(until=) a cell-phase step, has no movie); fix: simulate up to a movie step "
            "(e.g. until='composite' or the whole chain) and a duration of at least one frame"
        )
    old = _Manifest.read(tmp) if tmp.exists() else None
    if chunk_frames is None:
        same_key = old is not None and old.layout.get("spec_cache_key") == key
        chunk_frames = (
            old.layout["chunk_frames"]
            if old is not None and same_key
            else int(recording.observed.data.chunks[0][0] or 1)
        )
    chunk_frames = _positive_frames(chunk_frames)
    layout = _layout(items, chunk_frames, key)
    manifest = None
    if old is not None and old.state == "writing" and old.layout == layout:
        manifest = old
    elif old is not None:
        if old.layout != layout and old.state == "writing":
            if resume and old.layout.get("spec_cache_key") == key:
                raise StoreError(
                    f"the unfinished write at {str(tmp)!r} used other settings (chunk size or stages); "
                    "fix: rerun with the same chunk_frames/stages, or delete it to start over"
                )
            warnings.warn(
                f"discarding the unfinished write at {tmp} (another spec or settings)",
                RecordingFormatWarning,
                stacklevel=3,
            )
        shutil.rmtree(tmp)
    elif tmp.is_dir() and not (tmp / MANIFEST).exists():
        shutil.rmtree(tmp)  # empty, or a finished write of another spec: nothing of the user's
    try:
        if manifest is None:
            manifest = _Manifest(tmp, layout)
            _init_store(tmp, recording, items, gt_attrs, layout, stage_names, manifest)
        writes = _chunk_writes(tmp, items, n_frames, chunk_frames)
        pending = [i for i in range(writes.numblocks[0]) if i not in manifest.done]
        if pending:
            sizes = [min(chunk_frames, n_frames - i * chunk_frames) for i in pending]
            run_blocks(
                writes.blocks[pending],
                lambda j: manifest.mark(pending[j]),
                progress=progress,
                desc=f"writing {dest.name}",
                weights=sizes,
                unit="frame",
                window=WRITE_WINDOW_CHUNKS,
            )
        _finish(tmp, dest, status)
    except OSError as err:
        raise _explain_os_error(err, dest, tmp, items) from err
    return dest


def _explain_os_error(err: OSError, dest: Path, tmp: Path, items: list[_Item]) -> StoreError:
    saved = tmp.exists() and (tmp / MANIFEST).is_file()
    keep = (
        f" Finished chunks are kept in {str(tmp)!r}: rerun with resume=True (--resume) to continue, or delete it."
        if saved
        else ""
    )
    if err.errno == errno.ENOSPC:
        need = sum(i.value.nbytes for i in items)
        return StoreError(
            f"disk full while writing {str(dest)!r} (the store needs up to {_human_bytes(need)} before "
            f"compression); fix: free space or choose another disk.{keep}"
        )
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreError(
            f"cannot write {str(dest)!r}: {err.strerror} ({err.filename}); fix: choose a writable location.{keep}"
        )
    return StoreError(f"writing {str(dest)!r} failed: {err}.{keep}")


def _human_bytes(n: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
