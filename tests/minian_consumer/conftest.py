"""The minian consumer tests run only where minian is installed (``make test-minian``, in ``.venv-minian``)."""

from __future__ import annotations

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("minian") is not None else ["test_*.py"]
