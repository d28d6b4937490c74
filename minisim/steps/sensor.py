"""The image sensor: photons to digital counts, with shot noise, read noise and an ADC."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import numpy as np

from minisim._base import bounded
from minisim.acquisition import ImageSensor
from minisim.kernels import compiled_module, sensor_kernel_name
from minisim.kernels.counter_rng import frame_keys
from minisim.poisson import PoissonWorkspace, poisson_frame
from minisim.rng import generator
from minisim.steps.base import MovieOp, StepSpec

SHOT_STREAM, READ_STREAM = 0, 1


class Sensor(StepSpec):
    """Digitize the light field into integer counts.

    Notes
    -----
    Per pixel and frame: photons ``= max(movie, 0) * photons_per_unit``;
    photo-electrons ``~ Poisson(lambda)`` with ``lambda = photons * QE``;
    read noise ``N(0, read_noise_e)`` is added; counts ``= clip(floor(e *
    gain), 0, 2**bit_depth - 1)``. The photon-transfer curve of the result
    has slope ``gain`` and intercept ``(gain * read_noise_e)**2`` (Janesick
    2007, *Photon Transfer*, SPIE).

    The shot noise is exact: pixels with ``lambda >= 10`` are drawn by the
    transformed rejection method with squeeze, PTRS (W. Hörmann, "The
    transformed rejection method for generating Poisson random variables",
    *Insurance: Mathematics and Economics* 12 (1993) 39-45), run on whole
    tiles of the frame at once (:func:`minisim.poisson.poisson_frame`);
    darker pixels use numpy's ``Generator.poisson``. Both sample the Poisson
    distribution itself, not an approximation of it. With
    ``shot_noise="gaussian"`` the minisim 1.0 approximation ``lambda +
    sqrt(lambda + read**2) * N(0, 1)`` is used instead, which is faster and
    accurate when lambda >> 10. The read noise is drawn by the Box-Muller
    transform (Box & Muller 1958, *Ann. Math. Stat.* 29, 610), exact normal
    deviates from a 53-bit radius uniform and a 24-bit angle uniform,
    rounded to float32.

    Shot and read noise use separate random streams keyed on the absolute
    frame, so chunking never changes a count. The sensor has no dark
    current, fixed-pattern noise or rolling shutter.

    Two kernels compute the same distributions from different random
    streams. The default, compiled one (numba, :mod:`minisim.kernels`) does
    the whole per-pixel chain in one pass without the GIL: the static
    illumination, vignette and leakage fields folded in (the same float32
    operations in the same order as the separate steps, so the fold is
    exact), exact Poisson shot noise (inversion below ``lambda = 10``, PTRS
    above, ``log k!`` from a table), ziggurat read noise (Marsaglia & Tsang
    2000), gain and the ADC. Its random words are counter-based: a pure
    function of (seed, step, stream, frame) and (pixel, attempt)
    (:mod:`minisim.kernels.counter_rng`). ``MINISIM_SENSOR_KERNEL=numpy``
    selects the numpy path described above.
    """

    kind: Literal["sensor"] = "sensor"
    photons_per_unit: Annotated[
        float, bounded("photons/unit", gt=0, hint="exposure scale; Miniscope V4 preset uses 600")
    ] = 100.0
    shot_noise: Literal["poisson", "gaussian"] = "poisson"

    stage: ClassVar[str] = "sensor"
    domain: ClassVar[Any] = "sensor"
    produces: ClassVar[tuple[str, ...]] = ("photons_per_unit",)
    acts_on_movie: ClassVar[bool] = True

    def compute(self, ctx: Any) -> dict[str, Any]:
        return {"photons_per_unit": self.photons_per_unit}

    def movie_op(self, ctx: Any) -> MovieOp | None:
        hw: ImageSensor = ctx.acq.image_sensor
        return MovieOp(
            fn=sensor_block,
            static={
                "photons_per_unit": self.photons_per_unit,
                "quantum_efficiency": hw.quantum_efficiency,
                "read_noise_e": hw.read_noise_e,
                "gain_adu_per_e": hw.gain_adu_per_e,
                "max_count": hw.max_count,
                "shot_noise": self.shot_noise,
                "seed": ctx.seed,
                "step_id": type(self).step_id(),
                "kernel": sensor_kernel_name(),
            },
            out_dtype=hw.count_dtype,
        )


#: Expected photo-electrons per pixel and frame at which the shot-noise draw is capped: ten orders of magnitude
#: above any sensor's full well (1e4-1e5 e-), so the ADC has saturated long before, and below the ~9.2e18 where
#: ``Generator.poisson`` refuses its mean. Only a spec far outside physical ranges reaches it.
MAX_ELECTRONS = 1e15


def photons_to_counts(photons: np.ndarray, frame: int, params: Mapping[str, Any]) -> np.ndarray:
    """Digital counts of one frame of expected photon counts (see :class:`Sensor`).

    Returns a float32 array holding integers in ``[0, max_count]``. The
    numpy kernel is used unless ``params["kernel"]`` is ``"numba"``.
    """
    if params.get("kernel", "numpy") == "numba":
        block = np.asarray(photons, dtype=np.float32)[None] * np.float32(params["quantum_efficiency"])
        static = {**params, "photons_per_unit": 1.0, "quantum_efficiency": 1.0}
        return compiled_block(block, np.array([frame]), static).astype(np.float32)[0]
    lam = np.multiply(photons, params["quantum_efficiency"], dtype=np.float64)
    np.maximum(lam, 0.0, out=lam)
    return digitize_frame(lam, frame, params, np.empty(lam.shape, np.float32))


def digitize_frame(
    lam_e: np.ndarray,
    frame: int,
    params: Mapping[str, Any],
    out: np.ndarray,
    workspace: PoissonWorkspace | None = None,
) -> np.ndarray:
    """Counts of one frame from its expected photo-electrons, written into ``out``.

    ``lam_e`` (float64, non-negative) is the Poisson mean per pixel; it may be
    overwritten. ``out`` is a float32 work buffer of the same shape and
    receives the clipped, floored counts. All arithmetic is in place so a
    frame costs the random draws plus a few memory passes; ``workspace``
    holds the samplers' scratch buffers (the calling thread's own by
    default).
    """
    ws = thread_workspace() if workspace is None else workspace
    shot = generator(params["seed"], params["step_id"], SHOT_STREAM, frame)
    read_e = params["read_noise_e"]
    if params["shot_noise"] == "poisson":
        np.minimum(lam_e, MAX_ELECTRONS, out=lam_e)  # beyond numpy's Poisson range; every ADC saturates there
        if read_e > 0:
            standard_normal_f32(generator(params["seed"], params["step_id"], READ_STREAM, frame), out, ws)
            out *= read_e
            out += poisson_frame(lam_e, shot, out=ws.get("electrons", lam_e.size).reshape(lam_e.shape), workspace=ws)
        else:
            poisson_frame(lam_e, shot, out=out, workspace=ws)
    else:
        shot.standard_normal(dtype=np.float32, out=out)
        sigma = np.add(lam_e, read_e**2, out=np.empty(out.shape, np.float32), casting="same_kind")
        np.sqrt(sigma, out=sigma)
        out *= sigma
        np.add(out, lam_e, out=out, casting="same_kind")
    if params["gain_adu_per_e"] != 1.0:
        out *= params["gain_adu_per_e"]
    np.floor(out, out=out)
    return np.clip(out, 0, params["max_count"], out=out)


def standard_normal_f32(rng: np.random.Generator, out: np.ndarray, workspace: PoissonWorkspace) -> np.ndarray:
    """Fill the float32 array ``out`` with independent standard normal deviates.

    Notes
    -----
    Box-Muller transform (G. E. P. Box and M. E. Muller, "A note on the
    generation of random normal deviates", *Ann. Math. Stat.* 29 (1958)
    610-611): for independent ``U1, U2`` uniform on ``[0, 1)``,
    ``R = sqrt(-2 log(1 - U1))`` and ``theta = 2 pi U2`` give the two
    independent N(0, 1) deviates ``R cos(theta)`` and ``R sin(theta)``; the
    first half of ``out`` (C order) receives the cosines, the second half
    the sines. ``U1`` is a 53-bit double and ``log(1 - U1)`` is taken in
    float64, so deviates reach 8.5 standard deviations; ``U2`` is a 24-bit
    float32 and the rest is float32 arithmetic, the precision of the
    result. About twice as fast as numpy's float32 ziggurat, whose scalar
    loop dominates its cost. Draw order: all ``U1``, then all ``U2``.
    """
    flat = out.reshape(-1)
    n = flat.size
    h = (n + 1) // 2
    u1 = workspace.get("bm_u1", h)
    rng.random(out=u1)
    np.subtract(1.0, u1, out=u1)
    np.log(u1, out=u1)  # in float64: 1 - U1 near 0 keeps its 53-bit resolution
    r32 = np.multiply(u1, -2.0, out=workspace.get("bm_r32", h, np.float32), casting="same_kind")
    np.sqrt(r32, out=r32)
    theta = workspace.get("bm_theta", h, np.float32)
    rng.random(out=theta, dtype=np.float32)
    theta *= np.float32(2 * np.pi)
    np.cos(theta, out=flat[:h])
    flat[:h] *= r32
    if n > h:
        np.sin(theta[: n - h], out=flat[h:])
        flat[h:] *= r32[: n - h]
    return out


_THREAD = threading.local()


def thread_workspace() -> PoissonWorkspace:
    """The calling thread's scratch buffers for the sensor's samplers.

    Kept for the thread's lifetime (about 25 MB for a 608 x 608 frame), so
    worker threads do not fault fresh pages in for every frame.
    """
    ws = getattr(_THREAD, "workspace", None)
    if ws is None:
        ws = _THREAD.workspace = PoissonWorkspace()
    return ws


FOLD_OPS = ("mul", "add")


def apply_folds(frame: np.ndarray, folds: tuple[tuple[str, np.ndarray], ...]) -> np.ndarray:
    """``frame`` through the folded field steps, with their own float32 arithmetic (bit for bit)."""
    for op, field in folds:
        frame = frame * field if op == "mul" else frame + field
    return frame


def _fold_maps(
    folds: tuple[tuple[str, np.ndarray], ...], shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[tuple[str, np.ndarray], ...]]:
    """The kernel's two multiplicative maps and one additive map, and the folds it cannot take.

    Missing maps are ones and zeros: multiplying by 1 and adding 0 are exact
    in float32, so padding changes no bit. The kernel computes
    ``((x * m1) * m2) + a``; a fold sequence of another shape is applied
    first, in numpy.
    """
    muls = [f for op, f in folds if op == "mul"]
    adds = [f for op, f in folds if op == "add"]
    ops = [op for op, _ in folds]
    if len(muls) <= 2 and len(adds) <= 1 and ops == sorted(ops, key=("mul", "add").index):
        one, zero = np.ones(shape, np.float32), np.zeros(shape, np.float32)
        m = [np.ascontiguousarray(f, np.float32) for f in muls] + [one] * (2 - len(muls))
        a = np.ascontiguousarray(adds[0], np.float32) if adds else zero
        return m[0], m[1], a, ()
    one, zero = np.ones(shape, np.float32), np.zeros(shape, np.float32)
    return one, one, zero, folds


def compiled_block(
    block: np.ndarray, frames: np.ndarray, static: Mapping[str, Any], folds: tuple[tuple[str, np.ndarray], ...] = ()
) -> np.ndarray:
    """Counts of a ``(t, h, w)`` block by the compiled kernel (see :class:`Sensor`)."""
    mod = compiled_module()
    if mod is None:
        raise RuntimeError(
            "this graph was built for the compiled sensor kernel but numba cannot be imported in this "
            "worker; install numba on every worker, or build the recording with MINISIM_SENSOR_KERNEL=numpy"
        )
    shape = block.shape[1:]
    m1, m2, add, rest = _fold_maps(folds, shape)
    x = np.ascontiguousarray(block, dtype=np.float32)
    if rest:
        x = np.ascontiguousarray(np.stack([apply_folds(f, rest) for f in x]), dtype=np.float32)
    keys = frame_keys(static["seed"], static["step_id"], (SHOT_STREAM, READ_STREAM), frames)
    params = np.array(
        [
            static["photons_per_unit"] * static["quantum_efficiency"],
            static["read_noise_e"],
            static["gain_adu_per_e"],
            static["max_count"],
            1.0 if static["shot_noise"] == "gaussian" else 0.0,
        ]
    )
    out = np.empty(x.shape, np.uint16)
    nan = mod.sensor_kernel(x, m1, m2, add, params, keys, out)
    if nan:
        raise ValueError(
            f"{nan} pixel(s) of frames {int(frames[0])}-{int(frames[-1])} reach the sensor as NaN photons; "
            "a Poisson mean must be finite and non-negative (check the upstream steps' inputs)"
        )
    return out if static["max_count"] > 255 else out.astype(np.uint8)


def sensor_block(
    block: np.ndarray, frames: np.ndarray, static: Mapping[str, Any], per_frame: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Counts of a ``(t, h, w)`` block.

    ``static["fold"]`` lists the static field steps folded into the sensor
    (``("mul" | "add", field)`` in order); the compiled kernel applies them
    in its single pass, the numpy path frame by frame, into the thread's
    reused buffers.
    """
    folds = tuple(static.get("fold", ()))
    if static.get("kernel", "numpy") == "numba":
        return compiled_block(block, frames, static, folds)
    dtype = np.uint8 if static["max_count"] <= 255 else np.uint16
    out = np.empty(block.shape, dtype=dtype)
    scale = static["photons_per_unit"] * static["quantum_efficiency"]
    ws = thread_workspace()
    size = int(np.prod(block.shape[1:]))
    lam = ws.get("sensor_lam", size).reshape(block.shape[1:])
    work = ws.get("sensor_work", size, np.float32).reshape(block.shape[1:])
    for i, frame in enumerate(frames):
        x = apply_folds(block[i], folds) if folds else block[i]
        if x.dtype == np.float32:  # clamp in float32 (scale > 0), then widen: one float64 pass less
            np.maximum(x, 0.0, out=work)
            np.multiply(work, scale, out=lam, dtype=np.float64)
        else:
            np.multiply(x, scale, out=lam, dtype=np.float64)
            np.maximum(lam, 0.0, out=lam)
        out[i] = digitize_frame(lam, int(frame), static, work, ws)
    return out


#: minisim 1.0's ``minisim.steps.sensor`` helpers, resolved lazily (see ``docs/compat_1_0_helpers.md``).
_COMPAT_1_0 = {
    "IlluminationProfileStep": "engine",
    "LeakageStep": "engine",
    "SensorStep": "engine",
    "VignetteStep": "engine",
    "combined_falloff_field": "sensor",
    "falloff_center_px": "sensor",
    "leakage_field": "sensor",
    "radial_falloff": "sensor",
    "radius_grid": "sensor",
}


def __getattr__(name: str) -> Any:
    if name in _COMPAT_1_0:
        import importlib

        return getattr(importlib.import_module(f"minisim._compat.{_COMPAT_1_0[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
