"""Exact Poisson sampling of a whole frame at once (shot noise for the sensor).

numpy's ``Generator.poisson`` draws pixel by pixel and redoes the
per-pixel setup (square roots, logarithms, divisions) inside its scalar loop.
A sensor frame has hundreds of thousands of pixels with Poisson means of tens
to thousands of photo-electrons, so here the same exact method (Hörmann's
PTRS) is run on whole arrays: every step of the rejection sampler is one
numpy operation over a tile of pixels, and the minority of pixels whose
proposal is rejected is redrawn over a shrinking subset until none is left.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import gammaln

__all__ = ["PTRS_MIN_LAMBDA", "TILE", "PoissonWorkspace", "poisson_frame"]

#: Poisson means at or above this use the transformed rejection sampler;
#: smaller ones (and zero) are drawn by ``Generator.poisson``.
PTRS_MIN_LAMBDA = 10.0

#: Above this mean the float64 arithmetic of the sampler would no longer
#: resolve single counts comfortably; such pixels are drawn by numpy.
_PTRS_MAX_LAMBDA = 1e10

#: log(2 pi) / 2, the constant of Stirling's series.
_HALF_LOG_2PI = 0.5 * float(np.log(2 * np.pi))

#: Slack for float64 rounding when a bound on log k! decides the acceptance
#: test (the rounding of its terms stays below 2e-4 up to lambda = 1e10).
_ROUNDING = 1e-3

#: Pixels still rejected after this few are drawn by ``Generator.poisson``.
_FEW = 4096

#: Pixels per tile of the first attempt: its dozen float64 temporaries (6 MB)
#: then stay in the cache between the steps.
TILE = 65536


class PoissonWorkspace:
    """Scratch buffers that :func:`poisson_frame` reuses from call to call.

    Drawing a frame needs about a dozen tile-sized float64 temporaries plus a
    few frame-sized arrays. Fresh allocations of that size are handed back
    to the operating system when freed, so every frame would pay for page
    faults again; a workspace keeps them (about 11 MB for a 608 x 608
    frame).
    A workspace must not be used by two threads at the same time.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, n: int, dtype: Any = np.float64) -> np.ndarray:
        """The first ``n`` elements of the buffer ``name``, grown when too small."""
        buf = self._buffers.get(name)
        if buf is None or buf.size < n or buf.dtype != dtype:
            buf = self._buffers[name] = np.empty(max(n, TILE), dtype)
        return buf[:n]

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers."""
        return sum(b.nbytes for b in self._buffers.values())


def poisson_frame(
    lam: np.ndarray,
    rng: np.random.Generator,
    out: np.ndarray | None = None,
    workspace: PoissonWorkspace | None = None,
) -> np.ndarray:
    """Draw one independent Poisson count per element of ``lam``.

    Parameters
    ----------
    lam : numpy.ndarray
        Poisson means, any shape, finite and non-negative (a negative or NaN
        mean raises ``ValueError`` as in ``Generator.poisson``). It is not
        modified.
    rng : numpy.random.Generator
        Source of randomness. The sequence of draws taken from it depends
        only on ``lam``, so the same generator state gives the same counts.
    out : numpy.ndarray, optional
        Array of ``lam``'s shape that receives the counts (any real dtype
        that holds them; float32 is exact up to 2**24).
    workspace : PoissonWorkspace, optional
        Scratch buffers to reuse across calls (one per thread). Without one
        the temporaries are allocated for this call.

    Returns
    -------
    numpy.ndarray
        The counts (integer values), float64 unless ``out`` is given.

    Notes
    -----
    Elements with ``lam >= 10`` are drawn with the transformed rejection
    method with squeeze, PTRS (Hörmann 1993). With ``s = sqrt(lam)`` its
    constants are ``b = 0.931 + 2.53 s``, ``a = -0.059 + 0.02483 b``,
    ``1/alpha = 1.1239 + 1.1328 / (b - 3.4)`` and
    ``v_r = 0.9277 - 3.6224 / (b - 2)``. One attempt draws ``U, V`` uniform
    on ``[0, 1)``, sets ``U <- U - 1/2``, ``u_s = 1/2 - |U|`` and proposes
    ``k = floor((2a / u_s + b) U + lam + 0.43)``; it

    1. accepts ``k`` at once when ``u_s >= 0.07`` and ``V <= v_r`` (the
       squeeze; about three pixels in four at ``lam = 300``);
    2. rejects when ``k < 0`` or when ``u_s < 0.013`` and ``V > u_s``;
    3. otherwise accepts when ``log V + log(1/alpha) - log(a / u_s**2 + b)
       <= -lam + k log(lam) - log k!`` (``log k!`` from
       ``scipy.special.gammaln``).

    A rejected pixel starts a new attempt. The accepted ``k`` then has the
    Poisson(lam) distribution exactly (up to float64 rounding, as for
    numpy's own sampler): the hat, the squeeze and the acceptance test are
    the paper's, nothing is approximated. Two evaluations differ in form
    only: ``V <= v_r`` is evaluated as ``(0.9277 - V)(b - 2) >= 3.6224``,
    the same inequality without a division; and step 3 first brackets
    ``log k!`` by Robbins' bounds, ``S(k) + 1/(12k + 1) < log k! < S(k) +
    1/(12k)`` with ``S(k) = (k + 1/2) log k - k + log(2 pi) / 2`` (H.
    Robbins, *Amer. Math. Monthly* 62 (1955) 26-29), a bracket at most
    1/156 wide, which settles the inequality unless its two sides are
    closer than that (plus 1e-3 for rounding); ``gammaln`` decides those
    few proposals (1-3 % of those that reach step 3). The
    decisions are those of the test written with ``gammaln`` throughout. A
    pixel needs 1.33 attempts on average at ``lam = 10``, 1.15 at 300 and
    about 1.13 for large ``lam``.

    Here an attempt is made for many pixels at once: each step is a numpy
    operation over a tile of :data:`TILE` pixels (so the temporaries stay in
    cache) and only the pixels that miss the squeeze (a quarter to a third)
    reach the logarithms. Pixels rejected in the first attempt (about one
    in eight) are redrawn together, round after round; once no more than
    4096 are left they are drawn by ``Generator.poisson``, which is exact
    too, so rejection needs no further rounds. The draws taken from ``rng``
    are a fixed function of ``lam``: for each attempt a ``(2, m)`` block of
    doubles (all ``U``, then all ``V``) for its ``m`` pixels, tile after
    tile in C order, then the later rounds and their ``Generator.poisson``
    call; then one ``Generator.poisson`` call for the remaining elements
    (``lam < 10``, including zeros, which give 0, and means above 1e10,
    beyond what the float64 steps resolve) in C order.

    On a 608 x 608 frame at ``lam`` from 10 to 3000 this takes 0.52-0.6 of
    the time of numpy's ``Generator.poisson`` on the same array (one core,
    2-core reference machine; the random doubles alone are a quarter of it).

    References
    ----------
    W. Hörmann, "The transformed rejection method for generating Poisson
    random variables", *Insurance: Mathematics and Economics* 12 (1993)
    39-45.
    """
    ws = PoissonWorkspace() if workspace is None else workspace
    lam = np.asarray(lam)
    flat = np.ascontiguousarray(lam, dtype=np.float64).reshape(-1)
    n = flat.size
    direct = None  # ``out`` itself when the counts can be drawn into it
    if out is not None and out.dtype == np.float64 and out.flags.c_contiguous and out.shape == lam.shape:
        direct = out.reshape(-1)
    counts = ws.get("counts", n) if direct is None else direct
    if n:
        lo, hi = float(flat.min()), float(flat.max())
        if lo >= PTRS_MIN_LAMBDA and hi <= _PTRS_MAX_LAMBDA:
            _ptrs(flat, rng, counts, ws)
        elif hi >= PTRS_MIN_LAMBDA:
            big = (flat >= PTRS_MIN_LAMBDA) & (flat <= _PTRS_MAX_LAMBDA)
            idx = np.flatnonzero(big)
            mu = np.take(flat, idx, out=ws.get("mu", idx.size), mode="clip")
            counts[idx] = _ptrs(mu, rng, ws.get("big", idx.size), ws)
            rest = np.flatnonzero(~big)
            counts[rest] = rng.poisson(flat[rest])
        else:
            counts[:] = rng.poisson(flat)
    if out is None:
        return counts.reshape(lam.shape).copy()
    if direct is None:
        out[...] = counts.reshape(lam.shape)
    return out


def _ptrs(mu: np.ndarray, rng: np.random.Generator, out: np.ndarray, ws: PoissonWorkspace) -> np.ndarray:
    """PTRS draws for a 1-D float64 array of means, all in ``[10, 1e10]``, into ``out``."""
    n = mu.size
    rejected = []
    for start in range(0, n, TILE):
        stop = min(start + TILE, n)
        miss = _attempt(mu[start:stop], rng, out[start:stop], ws)
        if miss.size:
            rejected.append(miss + start)
    todo = np.concatenate(rejected) if rejected else np.empty(0, np.intp)
    while todo.size:
        m = todo.size
        if m <= _FEW:  # rounds this small are all overhead: numpy's exact sampler finishes them
            out[todo] = rng.poisson(np.take(mu, todo))
            break
        k = ws.get("redraw", m)
        miss = _attempt(np.take(mu, todo, out=ws.get("redraw_mu", m), mode="clip"), rng, k, ws)
        out[todo] = k  # the rejected ones are overwritten in a later round
        todo = todo[miss]
    return out


def _attempt(mu: np.ndarray, rng: np.random.Generator, k: np.ndarray, ws: PoissonWorkspace) -> np.ndarray:
    """One PTRS attempt per element of ``mu``: proposals into ``k``; returns the rejected positions."""
    n = mu.size
    b, two_a = _hat_constants(mu, ws.get("b", n), ws.get("two_a", n))
    uv = rng.random(out=ws.get("uv", 2 * n).reshape(2, n))
    u, v = uv[0], uv[1]
    u -= 0.5
    us = np.abs(u, out=ws.get("us", n))
    np.subtract(0.5, us, out=us)
    np.divide(two_a, us, out=k)
    k += b
    k *= u
    k += mu
    k += 0.43
    np.floor(k, out=k)
    # Squeeze: accept when us >= 0.07 and V <= v_r, i.e. (0.9277 - V) * (b - 2) >= 3.6224.
    miss = np.less(us, 0.07, out=ws.get("miss", n, np.bool_))
    t = np.subtract(0.9277, v, out=ws.get("t", n))
    t *= np.subtract(b, 2.0, out=u)  # u is no longer needed
    miss |= np.less(t, 3.6224, out=ws.get("miss2", n, np.bool_))
    rest = np.flatnonzero(miss)
    if not rest.size:
        return rest
    m = rest.size
    k_r, us_r, v_r, mu_r = (
        np.take(x, rest, out=ws.get(f"rest{i}", m), mode="clip") for i, x in enumerate((k, us, v, mu))
    )
    b_r, two_a_r = _hat_constants(mu_r, ws.get("rest_b", m), ws.get("rest_two_a", m))  # cheaper than gathering
    return rest[_full_test(k_r, us_r, v_r, mu_r, b_r, two_a_r, ws)]


def _hat_constants(mu: np.ndarray, b: np.ndarray, two_a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PTRS's ``b = 0.931 + 2.53 sqrt(mu)`` and ``2a = 2 (-0.059 + 0.02483 b)``, into the given buffers."""
    np.sqrt(mu, out=b)
    b *= 2.53
    b += 0.931
    np.multiply(b, 2 * 0.02483, out=two_a)
    two_a -= 2 * 0.059
    return b, two_a


def _full_test(
    k: np.ndarray, us: np.ndarray, v: np.ndarray, mu: np.ndarray, b: np.ndarray, two_a: np.ndarray, ws: PoissonWorkspace
) -> np.ndarray:
    """Steps 2 and 3 of PTRS for proposals that missed the squeeze: the positions rejected.

    The inputs are overwritten.
    """
    m = k.size
    ok = np.greater_equal(k, 0.0, out=ws.get("ok", m, np.bool_))
    edge = np.less(us, 0.013, out=ws.get("edge", m, np.bool_))
    edge2 = ws.get("edge2", m, np.bool_)
    edge &= np.greater(v, us, out=edge2)
    # lhs = log(V * (1/alpha) / (a / us^2 + b)), with a = two_a / 2
    hat = np.multiply(us, us, out=us)
    np.divide(two_a, hat, out=hat)
    hat *= 0.5
    hat += b
    lhs = np.divide(v, hat, out=v)
    inv_alpha = np.subtract(b, 3.4, out=b)
    np.divide(1.1328, inv_alpha, out=inv_alpha)
    inv_alpha += 1.1239
    lhs *= inv_alpha
    with np.errstate(divide="ignore"):
        np.log(lhs, out=lhs)  # V = 0 gives -inf: accepted, as the inequality says
    # rhs = -mu + k log(mu) - log(k!). Robbins' bounds (1955) decide almost all
    # proposals without log(k!): for k >= 1, log k! = L(k) + r with
    # L(k) = (k + 1/2) log k - k + log(2 pi) / 2 + 1/(12k + 1) and
    # 0 < r < 1/(12k) - 1/(12k + 1) <= 1/156 (0! = 1!, so k = 0 uses L(1)).
    # With d = lhs - (base - L(k)), base = k log(mu) - mu: d > 0 means lhs > rhs
    # (reject) and d <= -1/156 means lhs <= rhs (accept); gammaln decides the
    # band between. _ROUNDING widens the band past float64 rounding of d.
    np.maximum(k, 0.0, out=k)
    base = np.log(mu, out=two_a)
    base *= k
    base -= mu
    kk = np.maximum(k, 1.0, out=us)
    stirling = np.log(kk, out=b)
    stirling *= np.add(kk, 0.5, out=mu)
    stirling -= kk
    stirling += _HALF_LOG_2PI
    robbins = np.multiply(kk, 12.0, out=ws.get("robbins", m))
    robbins += 1.0
    np.divide(1.0, robbins, out=robbins)
    stirling += robbins
    d = np.subtract(lhs, base, out=kk)
    d += stirling
    ok &= np.less_equal(d, _ROUNDING, out=ws.get("below", m, np.bool_))
    band = np.greater(d, -1.0 / 156.0 - _ROUNDING, out=edge2)
    band &= ok
    unsure = np.flatnonzero(band)
    if unsure.size:
        exact = np.take(base, unsure) - gammaln(np.take(k, unsure) + 1.0)
        ok[unsure] = np.take(lhs, unsure) <= exact
    ok &= ~edge
    return np.flatnonzero(~ok)
