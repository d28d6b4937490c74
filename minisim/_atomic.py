"""Write a file (or several) under temporary names and rename them into place only on success.

A failed or killed writer therefore never leaves a half-written file at the
requested path, and never damages a file that was there before. Temporary
names are hidden siblings ``.<name>.<pid>-<random>.tmp<suffix>`` (the suffix
kept so writers that choose the format from it still work); those of dead
processes are removed the next time the same path is written.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from minisim._store_lock import pid_alive

_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp")


def temp_name(path: Path) -> Path:
    """A private temporary sibling of ``path`` with the same suffix."""
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


def remove_orphans(path: Path) -> None:
    """Delete temporaries of ``path`` left by processes that no longer exist."""
    if not path.parent.is_dir():
        return
    for entry in path.parent.glob(f".{glob_escape(path.name)}.*.tmp*"):
        m = _TMP.match(entry.name)
        if m and m["name"] == path.name and not pid_alive(int(m["pid"])):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


@contextlib.contextmanager
def atomic_files(paths: list[Path]) -> Iterator[list[Path]]:
    """Yield temporary paths for ``paths``; on success rename each into place, on failure delete them."""
    for p in paths:
        remove_orphans(p)
    tmps = [temp_name(p) for p in paths]
    try:
        yield tmps
        for tmp, p in zip(tmps, paths, strict=True):
            if not tmp.exists():
                raise OSError(f"the writer did not create {str(p)!r}")
        for tmp, p in zip(tmps, paths, strict=True):
            os.replace(tmp, p)
    finally:
        for tmp in tmps:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            elif tmp.exists():
                tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """:func:`atomic_files` for one file."""
    with atomic_files([path]) as tmps:
        yield tmps[0]


__all__ = ["atomic_file", "atomic_files", "remove_orphans", "temp_name"]
