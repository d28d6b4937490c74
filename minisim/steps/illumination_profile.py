"""Illumination profile: the excitation light's radial roll-off across the field of view."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from minisim._base import bounded
from minisim.steps.fields import RadialFieldStep


class IlluminationProfile(RadialFieldStep):
    """Multiply every frame by the static excitation profile ``F(r)``.

    Parameters
    ----------
    falloff : float
        Relative excitation at the corner farthest from the bright center, in
        [0, 1] (default 0.7).
    exponent : float
        Power of the normalized radius (default 2, quadratic).
    center_offset_um : (float, float)
        ``(y, x)`` µm of the brightest point from the optical axis.

    Notes
    -----
    ``F = 1 - (1 - falloff) * (r / r_max)**exponent`` with ``r`` the distance
    from the bright center and ``r_max`` the distance to the farthest corner
    pixel, so the corner value is exactly ``falloff``. The LED of a miniscope
    lights the field unevenly; since fluorescence is linear in excitation in
    the 1-photon regime, the emitted light scales by ``F`` at each pixel. The
    field lives in the sensor frame (applied after brain motion): tissue
    moving under the objective crosses a fixed illumination pattern. It is
    also the excitation that drives :class:`~minisim.steps.bleaching.Bleaching`
    (at each cell's rest position) and, with the vignette, enters the
    detectability test and the auto-focus scan. Ground truth:
    ``illumination`` (FOV-sized float64).
    """

    kind: Literal["illumination_profile"] = "illumination_profile"
    falloff: Annotated[float, bounded(ge=0, le=1, hint="relative corner excitation, e.g. 0.7")] = 0.7

    stage: ClassVar[str] = "illumination_profile"
    domain: ClassVar[Any] = "sensor"
    produces: ClassVar[tuple[str, ...]] = ("illumination",)
    field_name: ClassVar[str] = "illumination"


__all__ = ["IlluminationProfile"]
