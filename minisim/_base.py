"""Shared pydantic base model, validators with helpful messages, and warnings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import AfterValidator, BaseModel, ConfigDict


class SpecWarning(UserWarning):
    """A spec that is valid but probably not what was meant (e.g. focus outside the cells)."""


class RecordingFormatWarning(UserWarning):
    """A stored recording whose metadata disagrees with what was expected."""


class Base(BaseModel):
    """Frozen, strict-field base for every spec model.

    ``extra="forbid"`` turns a mistyped field name into an error instead of a
    silently ignored value; ``frozen=True`` makes specs hashable and safe to
    share between processes and cache keys.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def bounded(
    unit: str = "",
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    hint: str = "",
) -> AfterValidator:
    """A range check whose error names the value, its unit, the rule and a fix.

    Use inside ``Annotated[float, bounded("um", gt=0)]``; pydantic adds the
    field's location to the message.
    """
    rules: list[tuple[str, float, Callable[[float, float], bool]]] = []
    if gt is not None:
        rules.append((">", gt, lambda v, b: v > b))
    if ge is not None:
        rules.append((">=", ge, lambda v, b: v >= b))
    if lt is not None:
        rules.append(("<", lt, lambda v, b: v < b))
    if le is not None:
        rules.append(("<=", le, lambda v, b: v <= b))
    unit_txt = f" {unit}" if unit else ""

    def _check(value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        for op, bound, ok in rules:
            if not ok(value, bound):
                rule = " and ".join(f"{o} {b:g}{unit_txt}" for o, b, _ in rules)
                fix = hint or f"set it {rule}"
                raise ValueError(f"got {value!r}{unit_txt}, but it must be {rule}; fix: {fix}")
        return value

    return AfterValidator(_check)
