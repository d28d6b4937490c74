"""On-disk format constants and small helpers shared by the store's writer and reader."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

#: On-disk layout version; ``load`` refuses any other (minisim 1.0 wrote 2).
FORMAT_VERSION = 3
PARTIAL_SUFFIX = ".partial"
MANIFEST = ".minisim-manifest.json"
SPEC_FILE = "spec.json"
GT = "ground_truth"


class StoreError(ValueError):
    """A store cannot be written or read as asked; the message says why and what to do."""


def named_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a name a sibling can be made from: ``''`` or ``'.'`` become the directory's real path."""
    p = Path(path)
    return p if p.name else p.resolve()


def partial_path(path: str | os.PathLike[str]) -> Path:
    """Where an unfinished write of ``path`` lives."""
    p = named_path(path)
    return p.with_name(p.name + PARTIAL_SUFFIX)


def _spec_digest(text: str) -> str:
    canonical = json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)


def store_attrs(path: Path) -> dict[str, Any] | None:
    """Root attributes if ``path`` is a minisim store (any version), else None."""
    attrs = _read_json(path / ".zattrs") if (path / ".zgroup").is_file() else None
    if attrs is None or "format_version" not in attrs or "spec_cache_key" not in attrs:
        return None
    return attrs


def enclosing_store(path: str | os.PathLike[str]) -> Path | None:
    """The minisim store (or unfinished write) that ``path`` lies inside, if any (``path`` itself excluded)."""
    p = Path(path).expanduser().absolute()
    for parent in p.parents:
        if store_attrs(parent) is not None or (parent / MANIFEST).is_file():
            return parent
    return None


def refuse_inside_store(path: str | os.PathLike[str], what: str = "--out") -> None:
    """Raise :class:`StoreError` when ``path`` lies inside a minisim store."""
    store = enclosing_store(path)
    if store is not None:
        raise StoreError(
            f"{what} {str(path)!r} lies inside the minisim store {str(store)!r}; writing there would damage "
            "that store (and replacing the store would silently delete it); fix: choose a path outside it"
        )


class _Manifest:
    """Finished frame chunks of an unfinished write, kept as ranges in a sidecar JSON."""

    def __init__(self, root: Path, layout: dict[str, Any], done: set[int] | None = None, state: str = "init"):
        self.file, self.layout, self.done, self.state = root / MANIFEST, layout, set(done or ()), state

    @classmethod
    def read(cls, root: Path) -> _Manifest | None:
        data = _read_json(root / MANIFEST)
        if data is None or "layout" not in data:
            return None
        done = {i for a, b in data.get("done", []) for i in range(a, b)}
        return cls(root, data["layout"], done, data.get("state", "init"))

    def save(self) -> None:
        ranges: list[list[int]] = []
        for i in sorted(self.done):
            if ranges and ranges[-1][1] == i:
                ranges[-1][1] = i + 1
            else:
                ranges.append([i, i + 1])
        _write_json(self.file, {"state": self.state, "layout": self.layout, "done": ranges})

    def mark(self, index: int) -> None:
        self.done.add(index)
        self.save()
