"""Constant tables of the compiled samplers: log k! and the ziggurat layers of the normal density."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

#: ``log k!`` for ``k < 16384`` (128 kB, stays in the L2 cache); larger ``k`` use ``lgamma``.
LOG_FACTORIAL: np.ndarray = gammaln(np.arange(16384, dtype=np.float64) + 1.0)

#: Layers of the 128-layer ziggurat of ``f(x) = exp(-x**2 / 2)`` (G. Marsaglia and W. W. Tsang,
#: "The ziggurat method for generating random variables", *J. Stat. Softw.* 5 (2000); layout with
#: independent layer bits as in J. A. Doornik, "An improved ziggurat method to generate normal random
#: samples", 2005): the rightmost point ``r`` and the common area ``v`` of every layer.
ZIG_LAYERS, ZIG_RIGHT, ZIG_AREA = 128, 3.442619855899, 9.91256303526217e-3


def ziggurat_tables(n: int = ZIG_LAYERS, r: float = ZIG_RIGHT, v: float = ZIG_AREA) -> tuple[np.ndarray, np.ndarray]:
    """Layer edges ``x`` (``n + 1``, ``x[0] = v / f(r)``, ``x[1] = r``, ``x[n] = 0``) and ratios ``x[i+1] / x[i]``.

    Notes
    -----
    Layer ``i >= 1`` is the box ``[0, x[i]] x [f(x[i]), f(x[i+1])]``; each has
    area ``v = x[i] (f(x[i+1]) - f(x[i]))``, so ``x[i+1] = sqrt(-2 log(v /
    x[i] + f(x[i])))``. Layer 0 is the base strip of width ``v / f(r)``,
    the rectangle under ``f(r)`` plus the tail beyond ``r`` rearranged.
    """
    x = np.empty(n + 1)
    x[0], x[1] = v / np.exp(-0.5 * r * r), r
    for i in range(1, n - 1):
        x[i + 1] = np.sqrt(-2.0 * np.log(v / x[i] + np.exp(-0.5 * x[i] ** 2)))
    x[n] = 0.0
    return x, x[1:] / x[:-1]


ZIG_X, ZIG_R = ziggurat_tables()

__all__ = ["LOG_FACTORIAL", "ZIG_R", "ZIG_X", "ziggurat_tables"]
