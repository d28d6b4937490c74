"""Compile a plain-Python kernel with numba on first use, or run it interpreted without numba.

Kernels written for this decorator use only scalars, loops and NumPy arrays,
so the same function body is valid Python and valid numba. Compilation is
lazy (nothing happens at import) and cached on disk (``cache=True``), and the
compiled code releases the GIL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class LazyKernel:
    """A kernel that numba compiles on its first call; interpreted when numba cannot be imported.

    Parameters
    ----------
    fn : callable
        The kernel, in the numba-compatible subset of Python.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.py = fn
        self._fn: Callable[..., Any] | None = None
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def compiled(self) -> Callable[..., Any]:
        """The numba-compiled kernel, or the interpreted one when numba is unavailable."""
        if self._fn is None:
            try:
                import numba
            except Exception:  # numba missing or broken on this platform: the same function, interpreted
                self._fn = self.py
            else:
                self._fn = numba.njit(cache=True, nogil=True, error_model="numpy")(self.py)
        return self._fn

    @property
    def is_compiled(self) -> bool:
        """Whether calls run numba-compiled code (False: numba is unavailable, the kernel is interpreted)."""
        return self.compiled() is not self.py

    def __call__(self, *args: Any) -> Any:
        return self.compiled()(*args)


def lazy_kernel(fn: Callable[..., Any]) -> LazyKernel:
    """Decorator: ``fn`` compiled by numba on first call (see :class:`LazyKernel`)."""
    return LazyKernel(fn)


__all__ = ["LazyKernel", "lazy_kernel"]
