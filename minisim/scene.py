"""minisim 1.0's ``minisim.scene`` path: the per-cell record and the eager-engine placeholders.

``Cell`` is a plain record accepted by the 1.0 helpers that take cells;
``Scene`` and ``GroundTruthBuilder`` raise :class:`~minisim._base.RemovedAPIError`
naming the replacement. See ``docs/compat_1_0_helpers.md``.
"""

from minisim._compat.scene import MOVIE_DIMS, Cell, GroundTruthBuilder, Scene

__all__ = ["MOVIE_DIMS", "Cell", "GroundTruthBuilder", "Scene"]
