"""minisim 1.0's ``minisim.steps.motion`` path: brain-motion trajectory and warp helpers.

Thin re-exports of :mod:`minisim._compat.motion` (and, for the ``*Step`` classes,
the placeholders of :mod:`minisim._compat.engine`); see
``docs/compat_1_0_helpers.md``.
"""

from minisim._compat.engine import BrainMotionStep
from minisim._compat.motion import bounded_random_walk, brain_motion_shifts, physical_brain_motion, shift_and_crop

__all__ = ["BrainMotionStep", "bounded_random_walk", "brain_motion_shifts", "physical_brain_motion", "shift_and_crop"]
