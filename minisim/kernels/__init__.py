"""Compiled per-pixel kernels (numba) and the choice between them and the numpy fallback.

The sensor's per-pixel work (folded static fields, exact Poisson shot noise,
read noise, gain, ADC) runs in one compiled, GIL-free pass when numba is
installed; otherwise, or with ``MINISIM_SENSOR_KERNEL=numpy``, the numpy
path of :mod:`minisim.steps.sensor` runs. The two draw from different
random streams (counter-based words here, PCG64 generators there), so their
counts differ bit for bit but not in distribution; the kernel in use is part
of :meth:`minisim.Spec.cache_key` and of what a store records.
"""

from __future__ import annotations

import os
import warnings
from types import ModuleType

#: Environment variable that picks the sensor kernel: ``numba`` (default when installed) or ``numpy``.
SENSOR_KERNEL_ENV = "MINISIM_SENSOR_KERNEL"
KERNELS = ("numba", "numpy")

_compiled: ModuleType | None = None
_unavailable: str | None = None


def compiled_module() -> ModuleType | None:
    """The compiled kernels' module, imported (and numba with it) on first call; None without numba."""
    global _compiled, _unavailable
    if _compiled is None and _unavailable is None:
        try:
            from minisim.kernels import _sensor_numba
        except Exception as exc:  # ImportError, or a numba that fails to initialise on this platform
            _unavailable = f"{type(exc).__name__}: {exc}"
        else:
            _compiled = _sensor_numba
    return _compiled


def sensor_kernel_name() -> str:
    """The sensor kernel this process uses: ``"numba"`` or ``"numpy"``.

    ``MINISIM_SENSOR_KERNEL=numpy`` selects the fallback; the default is the
    compiled kernel, or the fallback with a warning when numba cannot be
    imported.
    """
    choice = os.environ.get(SENSOR_KERNEL_ENV, "").strip().lower() or "numba"
    if choice not in KERNELS:
        raise ValueError(
            f"{SENSOR_KERNEL_ENV}={choice!r} is not a sensor kernel; use one of {', '.join(KERNELS)} "
            f"(or unset it for the compiled kernel)"
        )
    if choice == "numba" and compiled_module() is None:
        warnings.warn(
            f"numba is unavailable ({_unavailable}); the sensor uses the slower numpy kernel. "
            f"Install numba, or set {SENSOR_KERNEL_ENV}=numpy to silence this warning",
            RuntimeWarning,
            stacklevel=2,
        )
        return "numpy"
    return choice


__all__ = ["KERNELS", "SENSOR_KERNEL_ENV", "compiled_module", "sensor_kernel_name"]
