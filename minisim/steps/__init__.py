"""Physical steps of the forward model, one module each; see :mod:`minisim.steps.registry`."""

from minisim.steps.base import MovieOp, StepSpec
from minisim.steps.registry import CANONICAL_ORDER, STEP_FOR_KIND, STEPS, AnyStep, order_steps

__all__ = ["CANONICAL_ORDER", "STEPS", "STEP_FOR_KIND", "AnyStep", "MovieOp", "StepSpec", "order_steps"]
