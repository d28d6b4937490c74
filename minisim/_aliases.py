"""Second keyword names for parameters that minisim 1.0 spelled differently."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])


def keyword_alias(**aliases: str) -> Callable[[_F], _F]:
    """Let a method also take each parameter under a second keyword name.

    ``@keyword_alias(depth_um="z_um")`` maps a ``depth_um=`` keyword onto
    ``z_um``; the signature (and :func:`inspect.signature`) keeps ``z_um``,
    minisim 1.0's name. Passing both names is refused.
    """

    def wrap(fn: _F) -> _F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            for alias, name in aliases.items():
                if alias in kwargs:
                    if name in kwargs:
                        raise TypeError(f"{fn.__qualname__}() got both {name}= and {alias}=; pass only {name}=")
                    kwargs[name] = kwargs.pop(alias)
            return fn(*args, **kwargs)

        return inner  # type: ignore[return-value]

    return wrap
