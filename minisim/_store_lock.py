"""An exclusive lock on a store's destination, shared by processes and hosts on one filesystem.

The lock is a small JSON file ``<dest>.lock`` beside the destination, naming
the process (PID), the host and the time it started, created whole in one
step: written under a private name and hard-linked to ``<dest>.lock``, which
fails when it exists (atomic on local filesystems and on NFSv3+, as
``O_CREAT | O_EXCL`` is), so a kill never leaves an empty lock. While held, a thread
touches it every :data:`HEARTBEAT_S` seconds. A lock is *stale*, and is taken
over, when its process is gone (same host: the PID no longer exists) or its
heartbeat stopped for :data:`STALE_S` seconds (another host, where the PID
cannot be checked). Taking over renames the stale file to a unique name
first, so two processes that both find it stale cannot both win.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from minisim._store_format import StoreError, named_path

#: Seconds between heartbeats (mtime updates) of a held lock.
HEARTBEAT_S = 5.0
#: Seconds without a heartbeat after which another host's lock counts as stale.
STALE_S = 60.0
LOCK_SUFFIX = ".lock"


class StoreLockedError(StoreError):
    """Another live process is writing the same destination."""


def lock_path(dest: str | os.PathLike[str]) -> Path:
    """The lock file guarding writes to ``dest``."""
    p = named_path(dest)
    return p.with_name(p.name + LOCK_SUFFIX)


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _holder(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # being written right now, or damaged: judged by its age


def _stale(path: Path, holder: dict[str, Any], stale_s: float) -> bool:
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return True
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        return not pid_alive(holder["pid"])
    return age > stale_s


def _describe(holder: dict[str, Any]) -> str:
    since = holder.get("started")
    when = time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(since)) if isinstance(since, int | float) else ""
    return f"PID {holder.get('pid', '?')} on {holder.get('host', '?')}{when}"


def _publish(path: Path, me: dict[str, Any]) -> bool:
    """Create the lock file with its content in one step; False when it exists already.

    The content is written to a private temporary first and hard-linked to
    ``path`` (``link`` fails when ``path`` exists, like ``O_EXCL``), so a
    process killed at any instant never leaves an empty lock that names
    nobody. Filesystems without hard links fall back to ``O_CREAT | O_EXCL``.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(me))
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _remove_leftovers(path: Path) -> None:
    """Lock temporaries of dead processes, and stale locks already set aside by a takeover."""
    for entry in path.parent.glob(f".{path.name}.*-*.tmp"):
        pid = entry.name.removeprefix(f".{path.name}.").split("-", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            entry.unlink(missing_ok=True)
    for old in path.parent.glob(f"{path.name}.stale-*"):
        old.unlink(missing_ok=True)


@contextlib.contextmanager
def destination_lock(dest: str | os.PathLike[str], *, stale_s: float = STALE_S) -> Iterator[Path]:
    """Hold the exclusive write lock of ``dest`` for the duration of the block.

    Raises
    ------
    StoreLockedError
        When a live process (on this or another host) holds it; the message
        names the PID, the host and what to do.
    """
    path = lock_path(dest)
    path.parent.mkdir(parents=True, exist_ok=True)  # the destination's missing parents, as the write would
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "token": uuid.uuid4().hex}
    _remove_leftovers(path)
    for _attempt in range(5):
        if not _publish(path, me):
            holder = _holder(path)
            if holder is None:
                continue  # released meanwhile
            if not _stale(path, holder, stale_s):
                raise StoreLockedError(
                    f"{str(dest)!r} is being written by {_describe(holder)} (lock file {str(path)!r}); "
                    "fix: wait for that run to finish, or choose another output path; if that process is "
                    "really gone (e.g. its host crashed), delete the lock file"
                ) from None
            with contextlib.suppress(FileNotFoundError):
                os.replace(path, path.with_name(f"{path.name}.stale-{uuid.uuid4().hex[:8]}"))
                for old in path.parent.glob(f"{path.name}.stale-*"):
                    old.unlink(missing_ok=True)
            continue
        break
    else:  # pragma: no cover - five races lost in a row
        raise StoreLockedError(f"could not take the write lock {str(path)!r}; fix: retry")
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            with contextlib.suppress(OSError):
                os.utime(path)

    thread = threading.Thread(target=beat, name="minisim-lock-heartbeat", daemon=True)
    thread.start()
    try:
        yield path
    finally:
        stop.set()
        thread.join()
        if (_holder(path) or {}).get("token") == me["token"]:
            path.unlink(missing_ok=True)


__all__ = ["StoreLockedError", "destination_lock", "lock_path", "pid_alive"]
