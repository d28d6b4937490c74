"""minisim 1.0's ``minisim.simulate`` module: ``from minisim.simulate import simulate`` works.

The engine lives in :mod:`minisim.engine`. Importing this submodule makes
Python bind ``minisim.simulate`` to the module rather than to the function, so
the module itself is made callable: ``minisim.simulate(spec)`` runs
:func:`minisim.engine.simulate` either way.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from minisim._compat.engine import build_context  # 1.0 name: a placeholder raising RemovedAPIError
from minisim.engine import simulate

__all__ = ["build_context", "simulate"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return simulate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
