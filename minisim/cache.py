"""On-disk cache of simulated recordings, keyed by the spec's content hash.

An entry is a recording store (:func:`minisim.store.save`) at
``{root}/{cache_key}.zarr`` plus a digest file listing the size and SHA-256 of
every file in it. Entries are built under an exclusive per-key lock in a
temporary directory and renamed into place when complete, so concurrent
processes never see or produce a half-written entry; an entry whose files no
longer match the digest (truncated, edited) is rebuilt with a warning.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minisim._store_check import sha256_file
from minisim.engine import simulate
from minisim.spec import Spec

if TYPE_CHECKING:
    from minisim.recording import Recording

#: Environment variable naming the cache directory.
CACHE_ENV = "MINISIM_CACHE"
#: minisim 1.0's documented default location; :func:`cache_dir` resolves the
#: platform's user cache directory (the same path on Linux).
DEFAULT_CACHE_DIR = "~/.cache/minisim"
#: File inside an entry holding the size and SHA-256 of every other file.
DIGEST_FILE = ".minisim-cache-digest.json"


class CacheDirError(OSError):
    """The cache directory cannot be created or written."""


#: minisim 1.0's cache root. Ours is the platform's user cache directory, which is
#: this path on Linux (see :func:`cache_dir`); ``$MINISIM_CACHE`` overrides both.
DEFAULT_CACHE_DIR = "~/.cache/minisim"


class CacheWarning(UserWarning):
    """A cache entry was found damaged and is being rebuilt."""


def cache_dir() -> Path:
    """The default cache directory: ``$MINISIM_CACHE``, else the user cache directory.

    The user cache directory comes from :mod:`platformdirs` (e.g.
    ``~/.cache/minisim`` on Linux). The directory is not created here.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("minisim", appauthor=False))


def cache_path(spec: Spec, root: str | os.PathLike[str] | None = None) -> Path:
    """Where ``spec``'s recording is cached: ``{root}/{spec.cache_key()}.zarr``."""
    base = Path(root).expanduser() if root is not None else cache_dir()
    return base / f"{spec.cache_key()}.zarr"


def ensure_writable(root: Path) -> None:
    """Create ``root`` if needed and check that files can be written there.

    Raises
    ------
    CacheDirError
        Naming the directory, the reason, and how to choose another one.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-probe-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise CacheDirError(
            f"minisim cache directory {str(root)!r} is not writable ({err.strerror or err}); "
            f"fix: set the {CACHE_ENV} environment variable (or pass root=/cache=) to a writable directory"
        ) from err


def simulate_cached(spec: Spec, *, root: str | os.PathLike[str] | None = None, verify: bool = True) -> Recording:
    """The recording of ``spec``, loaded from the cache or simulated and stored on a miss.

    Parameters
    ----------
    spec : Spec
        Its :meth:`~minisim.spec.Spec.cache_key` (content hash plus engine
        version) names the entry, so any change to the spec or the engine is
        a different entry.
    root : path, optional
        Cache directory; default :func:`cache_dir`.
    verify : bool
        Check every file of a hit against its recorded SHA-256 (reads the
        entry once, at disk speed). ``False`` checks sizes only.

    Returns
    -------
    Recording
        Backed by the cache entry (the movie is read lazily from it).

    Raises
    ------
    CacheDirError
        When ``root`` cannot be created or written; nothing is simulated.

    Notes
    -----
    Safe under concurrency: the entry is built by one process holding an
    exclusive lock on ``{key}.lock`` (``fcntl.flock``, released by the OS if
    the process dies); others wait and then load it. A damaged entry (a
    missing, truncated or edited file, an unfinished write) triggers a
    :class:`CacheWarning` and a rebuild; what a killed build left behind
    (``.KEY.PID.UUID.zarr.partial``) is removed once its PID is gone. The cache has no size limit or
    eviction: delete entries (or the directory) to reclaim space.
    """
    base = Path(root).expanduser() if root is not None else cache_dir()
    ensure_writable(base)
    dest = cache_path(spec, base)
    key = spec.cache_key()
    if dest.exists():
        rec, _ = _check(dest, key, verify)
        if rec is not None:
            return rec
    with _exclusive(base / f"{key}.lock"):
        if dest.exists():
            rec, problem = _check(dest, key, verify)
            if rec is not None:
                return rec  # built by another process while we waited
            warnings.warn(
                f"cache entry {str(dest)!r} is damaged ({problem}); rebuilding it", CacheWarning, stacklevel=2
            )
            _discard(dest)
        remove_orphans(base)
        _build(spec, dest)
    return _load(dest)


def _load(dest: Path) -> Recording:
    from minisim.recording import Recording

    return Recording.load(dest)


def _build(spec: Spec, dest: Path) -> None:
    """Simulate, save to a private temporary path, record the digest, rename into place."""
    tmp = dest.with_name(f".{dest.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.zarr")
    try:
        simulate(spec).save(tmp)
        digest = {"cache_key": spec.cache_key(), "files": _file_digests(tmp)}
        (tmp / DIGEST_FILE).write_text(json.dumps(digest, indent=1, sort_keys=True))
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(tmp.with_name(tmp.name + ".partial"), ignore_errors=True)
        raise


_ORPHAN = re.compile(r"^\.\.?[0-9a-f]{16}\.(?P<pid>\d+)\.[0-9a-f]{8}\.zarr")
#: The empty file :func:`check_writable` creates and removes at once; a kill in between leaves it.
_PROBE = re.compile(r"^\.write-probe-(?P<pid>\d+)-[0-9a-f]{6}$")


def remove_orphans(root: Path) -> list[Path]:
    """Delete what killed cache builds left in ``root`` (``.KEY.PID.UUID.zarr*`` or a write probe whose PID is gone).

    Returns the paths removed. A build of a live process is never touched.
    """
    from minisim._store_lock import pid_alive

    removed = []
    for entry in root.glob(".*.zarr*"):
        m = _ORPHAN.match(entry.name)
        if m is None or pid_alive(int(m["pid"])):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    for probe in root.glob(".write-probe-*"):
        m = _PROBE.match(probe.name)
        if m is not None and not pid_alive(int(m["pid"])):
            probe.unlink(missing_ok=True)
            removed.append(probe)
    for trash in root.glob(".*.zarr.damaged-*"):
        shutil.rmtree(trash, ignore_errors=True)
    return removed


def _discard(dest: Path) -> None:
    trash = dest.with_name(f".{dest.name}.damaged-{uuid.uuid4().hex[:8]}")
    os.replace(dest, trash)
    shutil.rmtree(trash, ignore_errors=True)


def _file_digests(root: Path, *, hashes: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != DIGEST_FILE:
            rel = path.relative_to(root).as_posix()
            out[rel] = [path.stat().st_size, sha256_file(path) if hashes else None]
    return out


def _check(dest: Path, key: str, verify: bool) -> tuple[Recording | None, str | None]:
    """The entry at ``dest`` loaded, or None and why it cannot be trusted."""
    from minisim._store_format import FORMAT_VERSION, store_attrs

    attrs = store_attrs(dest) or {}
    if attrs.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        written = "minisim 1.0's layout" if attrs["format_version"] == 2 else "another minisim's layout"
        return None, f"it is a store of format_version {attrs['format_version']} ({written}), never read as this one"
    problem = _problem(dest, key, verify)
    if problem is not None:
        return None, problem
    try:
        rec = _load(dest)
    except Exception as err:  # the store's own checks (format version, edited spec, ...)
        return None, f"it does not load: {err}"
    if rec.spec.cache_key() != key:
        return None, f"its spec has cache key {rec.spec.cache_key()!r}, not {key!r}"
    return rec, None


def _problem(dest: Path, key: str, verify: bool) -> str | None:
    """Why the files of the entry at ``dest`` do not match its digest, or None."""
    try:
        recorded = json.loads((dest / DIGEST_FILE).read_text())
    except (OSError, ValueError):
        return "no readable digest file: an unfinished or foreign entry"
    if recorded.get("cache_key") != key:
        return f"it holds cache key {recorded.get('cache_key')!r}, not {key!r}"
    files = recorded.get("files", {})
    found = _file_digests(dest, hashes=False)
    if set(found) != set(files):
        missing, extra = sorted(set(files) - set(found)), sorted(set(found) - set(files))
        return f"files missing {missing[:3]} / unexpected {extra[:3]}"
    for rel, (size, digest) in files.items():
        if found[rel][0] != size:
            return f"{rel} is {found[rel][0]} bytes, expected {size} (truncated or rewritten)"
        if verify and sha256_file(dest / rel) != digest:
            return f"{rel} content differs from its recorded SHA-256 (edited or corrupted)"
    return None


@contextlib.contextmanager
def _exclusive(lock_path: Path, poll_s: float = 0.05) -> Iterator[None]:
    """Hold an exclusive inter-process lock on ``lock_path`` (blocking)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: exclusive-create lock file
        yield from _exclusive_create(lock_path, poll_s)
        return
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _exclusive_create(lock_path: Path, poll_s: float, stale_s: float = 3600.0) -> Iterator[None]:  # pragma: no cover
    while True:
        try:
            fd = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            with contextlib.suppress(OSError):
                if time.time() - lock_path.stat().st_mtime > stale_s:
                    lock_path.unlink()  # left behind by a process that died
            time.sleep(poll_s)
    try:
        yield
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            lock_path.unlink()


__all__ = [
    "CACHE_ENV",
    "DEFAULT_CACHE_DIR",
    "CacheDirError",
    "CacheWarning",
    "cache_dir",
    "cache_path",
    "simulate_cached",
]
