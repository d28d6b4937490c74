"""minisim 1.0 names that users call, mapped onto this package's physics.

minisim 1.0 ran an eager engine (a mutable ``Scene`` that each ``Step`` object
mutated in turn) and exposed the physics of every step as small public
helpers in ``minisim.steps.*``, ``minisim.footprint`` and ``minisim.scene``.
This package keeps each helper callable under its 1.0 name and signature as a
thin adapter over our own modules, one module per 1.0 area:

- :mod:`minisim._compat.footprint`: sparse footprints (``minisim.footprint``);
- :mod:`minisim._compat.cell`: placement, morphology, kernels, focus (``minisim.steps.cell``);
- :mod:`minisim._compat.tissue`: neuropil, bleaching, vessels (``minisim.steps.tissue``);
- :mod:`minisim._compat.motion`: brain-motion trajectories and the warp (``minisim.steps.motion``);
- :mod:`minisim._compat.sensor`: static sensor-frame fields (``minisim.steps.sensor``);
- :mod:`minisim._compat.engine`: the eager-engine names (``Scene``, ``Step``, the
  ``*Step`` classes, ``finalize``, ...), kept importable as placeholders that raise
  :class:`~minisim._base.RemovedAPIError` naming the replacement.

The public names are re-exported at their 1.0 paths; the table in
``docs/compat_1_0_helpers.md`` lists each one, what it maps to and
any deliberate difference.
"""
