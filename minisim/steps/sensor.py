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
    photons_per_unit: Annotated[float, bounded("photons/unit", gt=0, hint="exposure scale; Miniscope V4 preset uses 600")] = 100.0
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
    """Digital counts of one frame of expected photon counts (see :class:`Sensor`)."""
    shot = generator(params["seed"], params["step_id"], SHOT_STREAM, frame)
    read = generator(params["seed"], params["step_id"], READ_STREAM, frame)
    lam = np.maximum(photons, 0.0) * params["quantum_efficiency"]
    read_e = params["read_noise_e"]
    if params["shot_noise"] == "poisson":
        electrons = shot.poisson(lam).astype(np.float64)
        if read_e > 0:
            electrons += read_e * read.standard_normal(lam.shape)
    else:
        electrons = lam + np.sqrt(lam + read_e**2) * shot.standard_normal(lam.shape)
    counts = np.floor(electrons * params["gain_adu_per_e"])
    return np.clip(counts, 0, params["max_count"])


def sensor_block(
    block: np.ndarray, frames: np.ndarray, static: Mapping[str, Any], per_frame: Mapping[str, np.ndarray]
) -> np.ndarray:
    dtype = np.uint8 if static["max_count"] <= 255 else np.uint16
    out = np.empty(block.shape, dtype=dtype)
    ppu = static["photons_per_unit"]
    for i, frame in enumerate(frames):
        out[i] = photons_to_counts(block[i].astype(np.float64) * ppu, int(frame), static)
    return out
