"""The step protocol: what a step declares, and the two ways it can act.

A step spec is a frozen pydantic model with a literal ``kind``. It declares,
as class variables, the artifacts it ``consumes`` (must exist), ``uses``
(read when some step produces them) and ``produces``. It can act in two
phases:

* **cell phase** (:meth:`StepSpec.compute`): eager, small, per-cell or static
  work that returns new artifacts (footprints, traces, fields, shifts).
* **frame phase** (:meth:`StepSpec.movie_op`): a :class:`MovieOp`, a pure
  function applied block by block to the frame-chunked movie.

Artifacts whose names are fields of :class:`~minisim.recording.GroundTruth`
land in the ground truth.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import numpy as np

from minisim._base import Base

if TYPE_CHECKING:
    from minisim.context import StepContext

Domain = Literal["cell", "tissue", "motion", "sensor"]


@dataclass(frozen=True)
class MovieOp:
    """One step's action on the movie, applied independently to each frame block.

    ``fn(block, frames, static, per_frame)`` receives a float32 block of shape
    ``(t, h, w)`` (zeros for the first step), the absolute frame indices
    ``(t,)``, the ``static`` mapping (shipped once, not per task) and the
    ``per_frame`` arrays sliced to those frames (frame axis first). It returns
    the new block and must be a module-level function so it pickles to worker
    processes. Random draws must be keyed on the absolute frame index.
    """

    fn: Callable[[np.ndarray, np.ndarray, Mapping[str, Any], Mapping[str, np.ndarray]], np.ndarray]
    static: Mapping[str, Any] = field(default_factory=dict)
    per_frame: Mapping[str, Any] = field(default_factory=dict)
    out_dtype: np.dtype = field(default_factory=lambda: np.dtype(np.float32))
    out_shape: tuple[int, int] | None = None


class StepSpec(Base):
    """Base class of every step spec. See the module docstring."""

    kind: str
    #: Stage name of the movie produced by this step (``rec.stage(name)``).
    stage: ClassVar[str]
    domain: ClassVar[Domain]
    #: Kinds that must come earlier in the chain *if present* (minisim 1.0).
    requires: ClassVar[tuple[str, ...]] = ()
    consumes: ClassVar[tuple[str, ...]] = ()
    uses: ClassVar[tuple[str, ...]] = ()
    produces: ClassVar[tuple[str, ...]] = ()
    #: Whether the frame phase has a movie op (drawn in graphs/).
    acts_on_movie: ClassVar[bool] = False

    @classmethod
    def step_id(cls) -> int:
        """Stable integer key of this step's random streams (CRC32 of the kind)."""
        return zlib.crc32(cls.model_fields["kind"].default.encode())

    def compute(self, ctx: StepContext) -> dict[str, Any]:
        """Eager cell-phase work: return the artifacts listed in ``produces``."""
        return {}

    def movie_op(self, ctx: StepContext) -> MovieOp | None:
        """Frame-phase work on the movie, or None for a pure cell-phase step."""
        return None

    def margin_px(self, pixel_size_um: float) -> int:
        """Canvas margin this step needs around the field of view (brain motion)."""
        return 0

    def check_acquisition(self, acq: Any) -> None:
        """Cross-check against the acquisition at Spec construction.

        Raise ``ValueError`` (value, unit, rule, fix) for an impossible
        combination; ``warnings.warn(..., SpecWarning)`` for a doubtful one.
        """

    def build(self, acq: Any, rng: Any) -> Any:
        """minisim 1.0's ``StepSpec.build(acq, rng)``; raises :class:`~minisim._base.RemovedAPIError`."""
        from minisim._compat.engine import build_step

        build_step(self, acq, rng)


def __getattr__(name: str) -> Any:
    # minisim 1.0's eager-engine base classes: placeholders raising RemovedAPIError.
    if name in ("Step", "PipelineContext"):
        from minisim._compat import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: minisim 1.0's type variable of a step's spec (``Step[SpecT]``), kept for annotations.
SpecT = TypeVar("SpecT", bound=StepSpec)
