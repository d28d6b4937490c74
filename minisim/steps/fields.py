"""Static sensor-frame fields: radial falloff and leakage shapes, and their movie ops.

The formulas are small pure functions of the field-of-view geometry so they
can be unit-tested and reused (auto-focus, detectability and bleaching read
the same arrays the movie is multiplied by).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

import numpy as np

from minisim._base import bounded
from minisim.context import index_to_um
from minisim.steps.base import MovieOp, StepSpec


def pixel_coords_um(shape: tuple[int, int], pixel_size_um: float) -> tuple[np.ndarray, np.ndarray]:
    """Optical-center ``(y, x)`` µm of every pixel center, as broadcastable column/row vectors."""
    h, w = shape
    y, x = index_to_um(np.arange(h), np.arange(w), shape, pixel_size_um)
    return y[:, None], x[None, :]


def radial_falloff(
    shape: tuple[int, int],
    pixel_size_um: float,
    falloff: float,
    exponent: float,
    center_offset_um: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Radial power-law falloff ``F = 1 - (1 - falloff) * (r / r_max)**exponent``.

    Parameters
    ----------
    shape : (int, int)
        Field-of-view shape in pixels.
    pixel_size_um : float
        Object-side pixel size.
    falloff : float
        Value at the farthest corner, in [0, 1].
    exponent : float
        Power of the normalized radius (2 is the cos^4-like quadratic roll-off).
    center_offset_um : (float, float)
        ``(y, x)`` µm of the brightest point from the optical axis.

    Returns
    -------
    numpy.ndarray
        float64 ``shape`` field, 1 at the bright center and exactly ``falloff``
        at the pixel center of the corner farthest from it.
    """
    y, x = pixel_coords_um(shape, pixel_size_um)
    cy, cx = center_offset_um
    r = np.hypot(y - cy, x - cx)
    corners_y = np.array([y[0, 0], y[-1, 0]]) - cy
    corners_x = np.array([x[0, 0], x[0, -1]]) - cx
    r_max = float(np.hypot(np.abs(corners_y).max(), np.abs(corners_x).max()))
    if r_max == 0.0:
        return np.ones(shape, dtype=np.float64)
    return 1.0 - (1.0 - falloff) * (r / r_max) ** exponent


def leakage_field(
    shape: tuple[int, int], pixel_size_um: float, profile: str, level: float, sigma_um: float
) -> np.ndarray:
    """Additive stray light: ``level`` everywhere (uniform) or ``level * exp(-r**2 / (2 sigma**2))`` (gaussian)."""
    if profile == "uniform":
        return np.full(shape, float(level), dtype=np.float64)
    y, x = pixel_coords_um(shape, pixel_size_um)
    return level * np.exp(-(y**2 + x**2) / (2.0 * sigma_um**2))


def multiply_block(
    block: np.ndarray, frames: np.ndarray, static: Mapping[str, Any], per_frame: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Every frame times the static ``field`` (float32)."""
    return block * static["field"]


def add_block(
    block: np.ndarray, frames: np.ndarray, static: Mapping[str, Any], per_frame: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Every frame plus the static ``field`` (float32)."""
    return block + static["field"]


class RadialFieldStep(StepSpec):
    """Shared spec of the multiplicative radial fields (illumination, vignette).

    Subclasses set ``field_name`` (the ground-truth artifact) and the default
    ``falloff``; the field is computed once, in the sensor frame, and every
    frame of the movie is multiplied by it.
    """

    falloff: Annotated[float, bounded(ge=0, le=1, hint="the corner/center intensity ratio, e.g. 0.7")] = 0.7
    exponent: Annotated[float, bounded(gt=0, hint="2 gives a quadratic roll-off")] = 2.0
    center_offset_um: tuple[float, float] = (0.0, 0.0)

    domain: ClassVar[Any] = "sensor"
    acts_on_movie: ClassVar[bool] = True
    field_name: ClassVar[str] = ""

    def field(self, shape: tuple[int, int], pixel_size_um: float) -> np.ndarray:
        """The float64 sensor-frame field for a field of view of ``shape``."""
        return radial_falloff(shape, pixel_size_um, self.falloff, self.exponent, self.center_offset_um)

    def compute(self, ctx: Any) -> dict[str, Any]:
        return {self.field_name: self.field(ctx.acq.fov_shape, ctx.acq.pixel_size_um)}

    def movie_op(self, ctx: Any) -> MovieOp | None:
        field = self.field(ctx.acq.fov_shape, ctx.acq.pixel_size_um).astype(np.float32)
        return MovieOp(fn=multiply_block, static={"field": field})


__all__ = ["RadialFieldStep", "add_block", "leakage_field", "multiply_block", "pixel_coords_um", "radial_falloff"]
