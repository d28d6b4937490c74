"""The image sensor: photons to digital counts, with shot noise, read noise and an ADC."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import numpy as np

from minisim._base import bounded
from minisim.acquisition import ImageSensor
from minisim.rng import generator
from minisim.steps.base import MovieOp, StepSpec

SHOT_STREAM, READ_STREAM = 0, 1


class Sensor(StepSpec):
    """Digitize the light field into integer counts.

    Notes
    -----
    Per pixel and frame: photons ``= max(movie, 0) * photons_per_unit``;
    photo-electrons ``~ Poisson(photons * QE)`` (exact shot noise; with
    ``shot_noise="gaussian"`` the minisim 1.0 approximation
    ``lambda + sqrt(lambda + read**2) * N(0, 1)`` is used instead, which is
    several times faster and accurate when lambda >> 10); read noise
    ``N(0, read_noise_e)`` is added; counts ``= clip(floor(e * gain), 0,
    2**bit_depth - 1)``. The photon-transfer curve of the result has slope
    ``gain`` and intercept ``(gain * read_noise_e)**2`` (Janesick 2007,
    *Photon Transfer*, SPIE). Shot and read noise use separate random
    streams keyed on the absolute frame, so chunking never changes a count.
    The sensor has no dark current, fixed-pattern noise or rolling shutter.
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
            },
            out_dtype=hw.count_dtype,
        )


def photons_to_counts(photons: np.ndarray, frame: int, params: Mapping[str, Any]) -> np.ndarray:
    """Digital counts of one frame of expected photon counts (see :class:`Sensor`).

    Returns a float32 array holding integers in ``[0, max_count]``.
    """
    lam = np.multiply(photons, params["quantum_efficiency"], dtype=np.float64)
    np.maximum(lam, 0.0, out=lam)
    return digitize_frame(lam, frame, params, np.empty(lam.shape, np.float32))


def digitize_frame(lam_e: np.ndarray, frame: int, params: Mapping[str, Any], out: np.ndarray) -> np.ndarray:
    """Counts of one frame from its expected photo-electrons, written into ``out``.

    ``lam_e`` (float64, non-negative) is the Poisson mean per pixel; it may be
    overwritten. ``out`` is a float32 work buffer of the same shape and
    receives the clipped, floored counts. All arithmetic is in place so a
    frame costs the random draws plus a few memory passes.
    """
    shot = generator(params["seed"], params["step_id"], SHOT_STREAM, frame)
    read_e = params["read_noise_e"]
    if params["shot_noise"] == "poisson":
        electrons = shot.poisson(lam_e)  # int64; numpy has no out= for poisson
        if read_e > 0:
            generator(params["seed"], params["step_id"], READ_STREAM, frame).standard_normal(dtype=np.float32, out=out)
            out *= read_e
            out += electrons
        else:
            out[...] = electrons
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


def sensor_block(
    block: np.ndarray, frames: np.ndarray, static: Mapping[str, Any], per_frame: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Counts of a ``(t, h, w)`` block, frame by frame into preallocated buffers."""
    dtype = np.uint8 if static["max_count"] <= 255 else np.uint16
    out = np.empty(block.shape, dtype=dtype)
    scale = static["photons_per_unit"] * static["quantum_efficiency"]
    lam = np.empty(block.shape[1:], np.float64)
    work = np.empty(block.shape[1:], np.float32)
    for i, frame in enumerate(frames):
        np.multiply(block[i], scale, out=lam, dtype=np.float64)
        np.maximum(lam, 0.0, out=lam)
        out[i] = digitize_frame(lam, int(frame), static, work)
    return out
