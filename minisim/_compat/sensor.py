"""minisim 1.0's static sensor-frame fields (``minisim.steps.sensor``) over :mod:`minisim.steps.fields`.

1.0 placed a field's bright center in pixels; our fields take it in µm from
the optical axis. The adapters convert and call our
:func:`minisim.steps.fields.radial_falloff` / ``leakage_field``, the fields the
engine applies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minisim.detection import photon_field
from minisim.steps import fields as _fields


def radius_grid(shape: tuple[int, int], center_px: tuple[float, float]) -> np.ndarray:
    """Distance in pixels of every pixel of a ``shape`` grid from ``center_px`` ``(row, col)``."""
    y, x = _fields.pixel_coords_um((int(shape[0]), int(shape[1])), 1.0)
    h, w = shape
    return np.hypot(y + (h - 1) / 2 - center_px[0], x + (w - 1) / 2 - center_px[1])


def falloff_center_px(shape: tuple[int, int], acq: Any, center_offset_um: tuple[float, float]) -> tuple[float, float]:
    """``(row, col)`` of a field's bright center: the grid center moved by ``center_offset_um``."""
    h, w = shape
    return (
        (h - 1) / 2 + float(acq.um_to_px(center_offset_um[0])),
        (w - 1) / 2 + float(acq.um_to_px(center_offset_um[1])),
    )


def radial_falloff(
    shape: tuple[int, int], center_px: tuple[float, float], falloff: float, exponent: float
) -> np.ndarray:
    """``1 - (1 - falloff) (r / r_max)**exponent`` around ``center_px``, with ``r_max`` its farthest corner.

    :func:`minisim.steps.fields.radial_falloff` on a 1 µm grid with the center
    expressed as an offset from the grid center. Exactly ``falloff`` at the
    farthest corner; all ones on a 1 x 1 grid.
    """
    h, w = shape
    offset = (float(center_px[0]) - (h - 1) / 2, float(center_px[1]) - (w - 1) / 2)
    return _fields.radial_falloff((int(shape[0]), int(shape[1])), 1.0, float(falloff), float(exponent), offset)


def combined_falloff_field(acq: Any, illumination_spec: Any, vignette_spec: Any) -> np.ndarray | None:
    """Illumination x vignette over the sensor field (None when neither is given)."""
    shape = acq.fov_shape
    maps = [
        _fields.radial_falloff(shape, acq.pixel_size_um, s.falloff, s.exponent, tuple(s.center_offset_um))
        for s in (illumination_spec, vignette_spec)
        if s is not None
    ]
    return photon_field(*maps)


def leakage_field(spec: Any, acq: Any, shape: tuple[int, int]) -> np.ndarray:
    """Additive glow of a ``Leakage`` spec on a ``shape`` grid: flat, or a centered Gaussian.

    The Gaussian's ``sigma_um`` defaults to a quarter of the smaller sensor-field side.
    """
    sigma = spec.sigma_um if spec.sigma_um is not None else 0.25 * min(acq.fov_um)
    return _fields.leakage_field((int(shape[0]), int(shape[1])), acq.pixel_size_um, spec.profile, spec.level, sigma)
