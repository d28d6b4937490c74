"""Vignette: the collection optics' radial roll-off across the field of view."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from minisim._base import bounded
from minisim.steps.fields import RadialFieldStep


class Vignette(RadialFieldStep):
    """Multiply every frame by the static collection-efficiency profile ``F(r)``.

    Parameters
    ----------
    falloff : float
        Relative collection at the corner farthest from the bright center, in
        [0, 1] (default 0.5).
    exponent : float
        Power of the normalized radius (default 2).
    center_offset_um : (float, float)
        ``(y, x)`` µm of the point of best collection from the optical axis.

    Notes
    -----
    Same shape as :class:`~minisim.steps.illumination_profile.IlluminationProfile`,
    ``F = 1 - (1 - falloff) * (r / r_max)**exponent``, but on the emission
    side: off-axis light is clipped by the GRIN lens and tube apertures (the
    cos^4 law and mechanical vignetting give a smooth, roughly quadratic
    roll-off). Unlike the illumination it does not bleach. Off-axis blur and
    aberrations are not modelled. Ground truth: ``vignette`` (FOV-sized
    float64).
    """

    kind: Literal["vignette"] = "vignette"
    falloff: Annotated[float, bounded(ge=0, le=1, hint="relative corner collection, e.g. 0.5")] = 0.5

    stage: ClassVar[str] = "vignette"
    domain: ClassVar[Any] = "sensor"
    produces: ClassVar[tuple[str, ...]] = ("vignette",)
    field_name: ClassVar[str] = "vignette"


__all__ = ["Vignette"]
