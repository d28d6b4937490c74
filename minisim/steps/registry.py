"""The one table of steps, in canonical order.

``STEPS`` is the single source: the canonical order, the ``AnyStep`` union
and the kind → class map are all derived from it. Adding a step means adding
its module and one line here.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from minisim.steps.base import StepSpec
from minisim.steps.bleaching import Bleaching
from minisim.steps.brain_motion import BrainMotion
from minisim.steps.cell_activity import CellActivity
from minisim.steps.composite import Composite
from minisim.steps.illumination_profile import IlluminationProfile
from minisim.steps.leakage import Leakage
from minisim.steps.neuropil import Neuropil
from minisim.steps.optics import CellOptics
from minisim.steps.place_neurons import PlaceNeurons
from minisim.steps.sensor import Sensor
from minisim.steps.vasculature import Vasculature
from minisim.steps.vignette import Vignette

STEPS: tuple[type[StepSpec], ...] = (
    PlaceNeurons,
    CellActivity,
    Bleaching,
    CellOptics,
    Composite,
    Neuropil,
    Vasculature,
    BrainMotion,
    IlluminationProfile,
    Vignette,
    Leakage,
    Sensor,
)

#: Canonical order of the chain, by kind.
CANONICAL_ORDER: tuple[str, ...] = tuple(cls.model_fields["kind"].default for cls in STEPS)
STEP_FOR_KIND: dict[str, type[StepSpec]] = dict(zip(CANONICAL_ORDER, STEPS, strict=True))
#: Stage name → kind (a stage is the movie a step produces, e.g. "cells_only" for composite).
KIND_FOR_STAGE: dict[str, str] = {cls.stage: kind for kind, cls in STEP_FOR_KIND.items()}

AnyStep = Annotated[Union[STEPS], Field(discriminator="kind")]  # type: ignore[valid-type]  # noqa: UP007


def order_steps(steps: list[StepSpec]) -> list[StepSpec]:
    """Stable sort of steps into canonical order."""
    rank = {kind: i for i, kind in enumerate(CANONICAL_ORDER)}
    return sorted(steps, key=lambda s: rank.get(s.kind, len(rank)))


def kind_of(name: str) -> str:
    """Resolve a stage name or kind to the kind; raises with the valid names."""
    if name in STEP_FOR_KIND:
        return name
    if name in KIND_FOR_STAGE:
        return KIND_FOR_STAGE[name]
    valid = sorted(set(CANONICAL_ORDER) | set(KIND_FOR_STAGE))
    raise ValueError(f"unknown stage or step {name!r}; valid names: {', '.join(valid)}")
