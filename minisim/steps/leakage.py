"""Leakage: stray excitation light reaching the sensor, an additive static glow."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import numpy as np

from minisim._base import bounded
from minisim.acquisition import Acquisition
from minisim.steps.base import MovieOp, StepSpec
from minisim.steps.fields import add_block, leakage_field


class Leakage(StepSpec):
    """Add a static stray-light field to every frame.

    Parameters
    ----------
    profile : {"gaussian", "uniform"}
        Shape of the glow: centered Gaussian (default) or flat.
    level : float
        Peak value in movie units (the same units as a cell's baseline
        ``f0 = 1``; default 0.1).
    sigma_um : float or None
        Gaussian width; None means a quarter of the smaller FOV side.

    Notes
    -----
    Excitation light that leaks through the emission filter, and
    autofluorescence of the optics, add a smooth, activity-independent
    offset that is not modulated by the tissue or by motion. Gaussian:
    ``level * exp(-r**2 / (2 sigma**2))`` with ``r`` from the optical axis;
    uniform: ``level``. It raises the shot-noise floor without adding signal.
    Ground truth: ``leakage`` (FOV-sized float64).
    """

    kind: Literal["leakage"] = "leakage"
    profile: Literal["gaussian", "uniform"] = "gaussian"
    level: Annotated[float, bounded("movie units", ge=0, hint="0.1 is a faint glow next to a cell baseline of 1")] = 0.1
    sigma_um: Annotated[float, bounded("um", gt=0, hint="or None for a quarter of the FOV")] | None = None

    stage: ClassVar[str] = "leakage"
    domain: ClassVar[Any] = "sensor"
    produces: ClassVar[tuple[str, ...]] = ("leakage",)
    acts_on_movie: ClassVar[bool] = True

    def resolved_sigma_um(self, acq: Acquisition) -> float:
        """``sigma_um``, or 0.25 times the smaller FOV side when None."""
        return float(self.sigma_um) if self.sigma_um is not None else 0.25 * min(acq.fov_um)

    def field(self, acq: Acquisition) -> np.ndarray:
        """The float64 sensor-frame leakage field."""
        return leakage_field(acq.fov_shape, acq.pixel_size_um, self.profile, self.level, self.resolved_sigma_um(acq))

    def compute(self, ctx: Any) -> dict[str, Any]:
        return {"leakage": self.field(ctx.acq)}

    def movie_op(self, ctx: Any) -> MovieOp | None:
        return MovieOp(fn=add_block, static={"field": self.field(ctx.acq).astype(np.float32)})


__all__ = ["Leakage"]
