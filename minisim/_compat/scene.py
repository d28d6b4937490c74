"""minisim 1.0's ``minisim.scene``: the per-cell record, and placeholders for the mutable scene.

1.0 kept the simulation state in a mutable ``Scene`` (cells, movie, truth)
that steps changed in place. Our engine has no such object, so ``Scene`` and
``GroundTruthBuilder`` are placeholders (see :mod:`minisim._compat.engine`).
:class:`Cell` stays a plain record: the 1.0 helpers that take a list of cells
(:func:`minisim.steps.resolve_focal_plane`, :func:`minisim.steps.neuropil_components`)
accept it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minisim._compat.engine import GroundTruthBuilder, Scene
from minisim._compat.footprint import Footprint, degrade_footprint

#: Dimension names of a movie, as minian spells them.
MOVIE_DIMS: tuple[str, str, str] = ("frame", "height", "width")


@dataclass
class Cell:
    """What one cell carries through 1.0's pipeline; each field is None until its step fills it.

    Attributes
    ----------
    center_um : (float, float, float)
        ``(z, y, x)`` µm, depth first, optical-center frame.
    footprint_planted : Footprint or None
    observed_sigma_px, observed_gain : float or None
        PSF width and flat light loss of the observed footprint.
    trace, spikes : numpy.ndarray or None
        Calcium ``C`` and per-frame spike counts ``S``.
    amplitude : float or None
    bleach : numpy.ndarray or None
        Intact fluorophore fraction per frame.
    in_focus : bool or None
    optical_brightness : float or None
    detectable : bool or None
    """

    center_um: tuple[float, float, float]
    footprint_planted: Footprint | None = None
    observed_sigma_px: float | None = None
    observed_gain: float | None = None
    trace: np.ndarray | None = None
    spikes: np.ndarray | None = None
    amplitude: float | None = None
    bleach: np.ndarray | None = None
    in_focus: bool | None = None
    optical_brightness: float | None = None
    detectable: bool | None = None

    def observed_footprint(self) -> Footprint | None:
        """The planted footprint blurred and dimmed by the optics scalars (planted if optics did not run)."""
        if self.footprint_planted is None or self.observed_sigma_px is None or self.observed_gain is None:
            return self.footprint_planted
        return degrade_footprint(self.footprint_planted, self.observed_sigma_px, self.observed_gain)


__all__ = ["MOVIE_DIMS", "Cell", "GroundTruthBuilder", "Scene"]
