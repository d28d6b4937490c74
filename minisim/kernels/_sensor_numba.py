"""The compiled sensor kernel: folded fields, exact Poisson, read noise, gain and ADC in one GIL-free pass.

Imported only by :mod:`minisim.kernels` when numba is installed; nothing here
runs at ``import minisim``. Compiled on first use and cached on disk
(``cache=True``), one signature per function.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from minisim.kernels.counter_rng import MIX1, MIX2, WEYL, WORDS_PER_PIXEL_LOG2
from minisim.kernels.tables import LOG_FACTORIAL, ZIG_R, ZIG_X

_M1, _M2, _WEYL = np.uint64(MIX1), np.uint64(MIX2), np.uint64(WEYL)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_SHIFT = np.uint64(WORDS_PER_PIXEL_LOG2)
_LOW7 = np.uint64(0x7F)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53
_N_LOGF = LOG_FACTORIAL.size
_ZIG_TAIL = float(ZIG_X[1])
#: Expected photo-electrons of one pixel in one frame are capped here (minisim.steps.sensor.MAX_ELECTRONS).
_MAX_E = 1e15


@numba.njit(inline="always", error_model="numpy")
def _mix(z):  # type: ignore[no-untyped-def]
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(inline="always", error_model="numpy")
def _word(k0, k1, ctr):  # type: ignore[no-untyped-def]
    return _mix(_mix(k0 ^ (ctr * _WEYL)) + k1)


@numba.njit(inline="always", error_model="numpy")
def _u01(w):  # type: ignore[no-untyped-def]
    return float(w >> _S11) * _INV53


@numba.njit(inline="always", error_model="numpy")
def _normal(k0, k1, base, zx, zr):  # type: ignore[no-untyped-def]
    """One N(0, 1) deviate by the ziggurat (counter words ``base``, ``base + 1``, ...)."""
    j = np.uint64(0)
    while True:
        w = _word(k0, k1, base + j)
        j += np.uint64(1)
        i = int(w & _LOW7)
        u = 2.0 * _u01(w) - 1.0
        if abs(u) < zr[i]:
            return u * zx[i]
        if i == 0:  # the base strip's tail beyond r (Marsaglia 1964)
            while True:
                x = math.log(1.0 - _u01(_word(k0, k1, base + j))) / _ZIG_TAIL
                y = math.log(1.0 - _u01(_word(k0, k1, base + j + np.uint64(1))))
                j += np.uint64(2)
                if -2.0 * y >= x * x:
                    return x - _ZIG_TAIL if u < 0 else _ZIG_TAIL - x
        x = u * zx[i]
        f0 = math.exp(-0.5 * (zx[i] * zx[i] - x * x))
        f1 = math.exp(-0.5 * (zx[i + 1] * zx[i + 1] - x * x))
        if f1 + _u01(_word(k0, k1, base + j)) * (f0 - f1) < 1.0:
            return x
        j += np.uint64(1)


@numba.njit(inline="always", error_model="numpy")
def _log_factorial(k, logf):  # type: ignore[no-untyped-def]
    if k < _N_LOGF:
        return logf[k]
    return math.lgamma(k + 1.0)


@numba.njit(inline="always", error_model="numpy")
def _poisson(lam, k0, k1, base, logf):  # type: ignore[no-untyped-def]
    """One exact Poisson(lam) count (counter words from ``base``): inversion below 10, PTRS above."""
    if lam <= 0.0:
        return 0.0
    if lam < 10.0:
        u = _u01(_word(k0, k1, base))
        p = math.exp(-lam)
        f = p
        k = 0
        while u > f and k < 400:
            k += 1
            p *= lam / k
            f += p
        return float(k)
    s = math.sqrt(lam)
    b = 0.931 + 2.53 * s
    a = -0.059 + 0.02483 * b
    vr_lhs = b - 2.0
    j = np.uint64(0)
    loglam = -1.0
    while True:
        u = _u01(_word(k0, k1, base + j)) - 0.5
        v = _u01(_word(k0, k1, base + j + np.uint64(1)))
        j += np.uint64(2)
        us = 0.5 - abs(u)
        k = np.floor((2.0 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and (0.9277 - v) * vr_lhs >= 3.6224:
            return k
        if k < 0.0 or (us < 0.013 and v > us):
            continue
        if loglam < 0.0:
            loglam = math.log(lam)
        inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
        lhs = math.log(v * inv_alpha / (a / (us * us) + b))
        if lhs <= -lam + k * loglam - _log_factorial(int(k), logf):
            return k


@numba.njit(nogil=True, cache=True, error_model="numpy")
def sensor_kernel(block, mul1, mul2, add, params, keys, out):  # type: ignore[no-untyped-def]
    """Counts of a ``(t, h, w)`` float32 block into ``out`` (uint16), releasing the GIL.

    ``params`` = (scale, read_noise_e, gain, max_count, gaussian); ``keys``
    is ``(t, 4)`` uint64: shot key pair then read key pair per frame.
    Returns the number of NaN pixels (drawn as 0; the caller raises).
    """
    nan = 0
    scale, read_e, gain, max_count, gaussian = params[0], params[1], params[2], params[3], params[4] > 0.5
    logf, zx, zr = LOG_FACTORIAL, ZIG_X, ZIG_R
    t, h, w = block.shape
    for f in range(t):
        s0, s1, r0, r1 = keys[f, 0], keys[f, 1], keys[f, 2], keys[f, 3]
        for y in range(h):
            for x in range(w):
                v32 = block[f, y, x] * mul1[y, x]
                v32 = v32 * mul2[y, x]
                v32 = v32 + add[y, x]
                if not v32 > 0:
                    if v32 != v32:
                        nan += 1
                    v32 = np.float32(0.0)
                lam = np.float64(v32) * scale
                if lam > _MAX_E:
                    lam = _MAX_E
                base = np.uint64(y * w + x) << _SHIFT
                if gaussian:
                    e = lam + math.sqrt(lam + read_e * read_e) * _normal(s0, s1, base, zx, zr)
                else:
                    e = _poisson(lam, s0, s1, base, logf)
                    if read_e > 0.0:
                        e += read_e * _normal(r0, r1, base, zx, zr)
                c = np.floor(e * gain)
                if c < 0.0:
                    c = 0.0
                elif c > max_count:
                    c = max_count
                out[f, y, x] = np.uint16(c)
    return nan


@numba.njit(nogil=True, cache=True, error_model="numpy")
def poisson_kernel(lam, k0, k1, out):  # type: ignore[no-untyped-def]
    """Exact Poisson counts of a flat float64 array of means into ``out`` (float64)."""
    logf = LOG_FACTORIAL
    for i in range(lam.size):
        out[i] = _poisson(lam[i], k0, k1, np.uint64(i) << _SHIFT, logf)
    return out


@numba.njit(nogil=True, cache=True, error_model="numpy")
def normal_kernel(k0, k1, out):  # type: ignore[no-untyped-def]
    """Standard normal deviates (ziggurat) into the flat float64 array ``out``."""
    zx, zr = ZIG_X, ZIG_R
    for i in range(out.size):
        out[i] = _normal(k0, k1, np.uint64(i) << _SHIFT, zx, zr)
    return out
