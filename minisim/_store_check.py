"""What a complete store wrote, and checks that it is all still there.

A complete store holds ``.minisim-contents.json``: per-array chunk counts and
the size and SHA-256 of every other file, written last, just before the store
is renamed into place. :func:`quick_check` (run by ``load``, ``info``, export
and ``--resume``) compares sizes and existence only, which costs one ``stat``
per file; :func:`verify` (``minisim verify``) also re-hashes every byte.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from minisim._store_format import SPEC_FILE, StoreError, _read_json, _spec_digest

CONTENTS = ".minisim-contents.json"
#: Files inside a store that the contents file does not list.
_UNLISTED = {CONTENTS, ".minisim-cache-digest.json"}  # the cache adds its own digest file


def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(root: Path, exclude: tuple[str, ...] = ()) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name not in _UNLISTED and p.name not in exclude)


def _chunk_keys(meta: dict[str, Any]) -> list[str]:
    """Every chunk file name of a zarr format-2 array (``"."`` separated)."""
    shape, chunks = meta.get("shape", []), meta.get("chunks", [])
    sep = meta.get("dimension_separator", ".")
    if not shape:
        return ["0"]
    counts = [max(1, math.ceil(s / c)) if s else 0 for s, c in zip(shape, chunks, strict=True)]
    return [sep.join(map(str, idx)) for idx in itertools.product(*(range(n) for n in counts))]


def arrays_of(root: Path) -> dict[str, dict[str, Any]]:
    """The zarr arrays below ``root`` by relative path, with their ``.zarray`` metadata."""
    out = {}
    for meta_file in sorted(root.rglob(".zarray")):
        meta = _read_json(meta_file) or {}
        out[meta_file.parent.relative_to(root).as_posix()] = meta
    return out


def write_contents(root: Path, exclude: tuple[str, ...] = ()) -> None:
    """Record every file's size and SHA-256 and every array's chunk count in ``root``.

    Files named in ``exclude`` (at any depth) are left out.
    """
    arrays = {path: len(_chunk_keys(meta)) for path, meta in arrays_of(root).items()}
    files = {p.relative_to(root).as_posix(): [p.stat().st_size, sha256_file(p)] for p in _files(root, exclude)}
    tmp = root / (CONTENTS + ".tmp")
    tmp.write_text(json.dumps({"arrays": arrays, "files": files}, sort_keys=True))
    tmp.replace(root / CONTENTS)


def _contents(root: Path) -> dict[str, Any]:
    data = _read_json(root / CONTENTS)
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise StoreError(
            f"{str(root)!r} has no readable contents list ({CONTENTS}), so missing or damaged chunks cannot be "
            "detected; fix: re-simulate it from its spec.json with this minisim"
        )
    return data


def _damaged(root: Path, rel: str, why: str) -> StoreError:
    return StoreError(
        f"{str(root)!r} is damaged: {str(root / rel)!r} {why}; its data cannot be trusted. Fix: restore the "
        f"store from a backup, or re-simulate it with `minisim simulate {root / 'spec.json'} --out NEW_PATH`"
    )


def quick_check(root: Path) -> None:
    """Raise :class:`StoreError` naming the first listed file that is missing or has another size."""
    data = _contents(root)
    for rel, (size, _digest) in sorted(data["files"].items()):
        if rel == SPEC_FILE:  # may be reformatted; its canonical digest is checked by load and verify
            if not (root / rel).is_file():
                raise _damaged(root, rel, "is missing")
            continue
        try:
            found = (root / rel).stat().st_size
        except FileNotFoundError:
            raise _damaged(root, rel, "is missing") from None
        if found != size:
            raise _damaged(root, rel, f"is {found} bytes, but {size} were written (truncated or rewritten)")
    for path, count in data.get("arrays", {}).items():
        meta = _read_json(root / path / ".zarray") or {}
        if len(_chunk_keys(meta)) != count:
            raise _damaged(root, f"{path}/.zarray", f"describes another number of chunks than the {count} written")


def verify(root: str | Path) -> dict[str, int]:
    """Full check of a complete store: every file listed, present, of its size and its SHA-256.

    Returns
    -------
    dict
        ``{"files": n, "bytes": total}`` checked.

    Raises
    ------
    StoreError
        Naming the first bad file (missing, truncated, changed, or not listed).
    """
    root = Path(root)
    quick_check(root)
    data = _contents(root)
    listed = data["files"]
    extra = [p.relative_to(root).as_posix() for p in _files(root) if p.relative_to(root).as_posix() not in listed]
    if extra:
        raise _damaged(root, extra[0], "was not written by minisim (an unexpected file)")
    total = 0
    attrs = _read_json(root / ".zattrs") or {}
    for rel, (size, digest) in sorted(listed.items()):
        if rel == SPEC_FILE:
            try:
                same = _spec_digest((root / rel).read_text()) == attrs.get("spec_sha256")
            except ValueError:
                same = False
            if not same:
                raise _damaged(root, rel, "was edited after the recording was written (its hash differs)")
            total += size
            continue
        if sha256_file(root / rel) != digest:
            raise _damaged(root, rel, "has other content than was written (its SHA-256 differs)")
        total += size
    return {"files": len(listed), "bytes": total}


class NamedReads:
    """A zarr array wrapper whose read errors name the chunk file(s) involved.

    ``da.from_array(NamedReads(arr, path))`` reads exactly as
    ``da.from_zarr(arr)`` does; a decompression or I/O error becomes a
    :class:`StoreError` naming the file instead of e.g. "blosc
    decompression: -1".
    """

    def __init__(self, array: Any, path: Path):
        self.array, self.path = array, path
        self.shape, self.dtype, self.ndim = tuple(array.shape), np.dtype(array.dtype), len(array.shape)
        self.chunks = tuple(array.chunks)

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            return np.asarray(self.array[key])
        except Exception as err:
            raise StoreError(
                f"cannot read {self._files(key)} ({type(err).__name__}: {err}): the chunk file is damaged or was "
                f"changed after the store was written; fix: run `minisim verify {self.path.parent}` and "
                "re-simulate the recording"
            ) from err

    def _files(self, key: Any) -> str:
        keys = key if isinstance(key, tuple) else (key,)
        ranges = []
        for k, n, c in zip(keys, self.shape, self.chunks, strict=False):
            if isinstance(k, slice):
                start, stop, _ = k.indices(n)
                ranges.append(range(start // c, max(start // c + 1, -(-stop // c))))
            else:
                ranges.append(range(int(k) // c, int(k) // c + 1))
        ranges += [
            range(-(-n // c)) for n, c in zip(self.shape[len(ranges) :], self.chunks[len(ranges) :], strict=True)
        ]
        names = [str(self.path / ".".join(map(str, idx))) for idx in itertools.product(*ranges)]
        return repr(names[0]) if len(names) == 1 else f"{names[0]!r} .. {names[-1]!r}"


__all__ = ["CONTENTS", "NamedReads", "quick_check", "sha256_file", "verify", "write_contents"]
