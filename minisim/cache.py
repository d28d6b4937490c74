"""On-disk cache of simulated recordings, keyed by the spec's content hash."""

from __future__ import annotations

import os
from pathlib import Path

from minisim.spec import Spec

#: Environment variable naming the cache directory.
CACHE_ENV = "MINISIM_CACHE"


class CacheDirError(OSError):
    """The cache directory cannot be created or written."""


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
        probe = root / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise CacheDirError(
            f"minisim cache directory {str(root)!r} is not writable ({err.strerror or err}); "
            f"fix: set the {CACHE_ENV} environment variable (or pass root=/cache=) to a writable directory"
        ) from err
