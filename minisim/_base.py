"""Shared pydantic base model, validators with helpful messages, and warnings."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError, PydanticUndefined


class SpecWarning(UserWarning):
    """A spec that is valid but probably not what was meant (e.g. focus outside the cells)."""


class RecordingFormatWarning(UserWarning):
    """A stored recording whose metadata disagrees with what was expected."""


class RemovedAPIError(NotImplementedError):
    """A minisim 1.0 name kept importable whose behaviour has no meaning on the lazy engine.

    The message names what to use instead; see ``docs/compat_1_0_helpers.md``.
    """


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, so a huge value is never echoed whole into a message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 25]}... ({len(text)} characters)"


class Base(BaseModel):
    """Frozen, strict-field base for every spec model.

    ``extra="forbid"`` turns a mistyped field name into an error instead of a
    silently ignored value; ``allow_inf_nan=False`` refuses ``inf`` and
    ``NaN`` in every float field, nested lists and tuples included (the one
    place non-finite input is stopped); ``frozen=True`` makes specs hashable and safe to
    share between processes and cache keys.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)

    def __hash__(self) -> int:
        # pydantic's frozen hash fails on list fields (steps, positions_um);
        # the canonical JSON is equal exactly when the models are.
        return hash((type(self).__qualname__, self.model_dump_json()))

    @model_validator(mode="wrap")
    @classmethod
    def _explain_errors(cls, data: Any, handler: Callable[[Any], Any]) -> Any:
        """Re-raise pydantic's generic errors on this model's own fields with the value and a fix."""
        try:
            return handler(data)
        except ValidationError as exc:
            raise _explained(cls, exc) from None


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
        for _op, bound, ok in rules:
            if not ok(value, bound):
                rule = " and ".join(f"{o} {b:g}{unit_txt}" for o, b, _ in rules)
                fix = hint or f"set it {rule}"
                raise ValueError(f"got {_short(value)}{unit_txt}, but it must be {rule}; fix: {fix}")
        return value

    return AfterValidator(_check)


def field_error(title: str, loc: tuple[str | int, ...], value: Any, message: str) -> ValidationError:
    """A ValidationError at ``loc`` (relative to the validated model) with our own message.

    Raise it from a model validator to point a cross-field error at the
    offending field instead of at the whole model.
    """
    return ValidationError.from_exception_data(
        title,
        [{"type": PydanticCustomError("value_error", "{msg}", {"msg": message}), "loc": loc, "input": value}],
    )


#: pydantic error types that mean "wrong kind of value" (as opposed to a range or a rule).
_TYPE_ERRORS = frozenset(
    {
        "float_parsing", "float_type", "int_parsing", "int_type", "int_from_float", "bool_parsing", "bool_type",
        "string_type", "list_type", "tuple_type", "dict_type", "model_type", "model_attributes_type",
        "literal_error", "finite_number", "enum",
    }
)  # fmt: skip
_BOUND_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})


def _expected(msg: str) -> str:
    """``'Input should be a valid number, unable to ...'`` -> ``'a valid number'``."""
    text = msg.removeprefix("Input should be ").split(", unable")[0]
    if text.startswith("a valid "):
        noun = text.removeprefix("a valid ")
        return ("an " if noun[:1] in "aeiou" else "a ") + noun
    return text


def _example(cls: type[BaseModel], name: str) -> str:
    field = cls.model_fields.get(name)
    if field is None or field.default in (PydanticUndefined, None) or isinstance(field.default, BaseModel):
        return ""
    return f", e.g. the default {field.default!r}"


def _wrong_type(cls: type[BaseModel], name: str, value: Any, want: str) -> str:
    return f"got {_short(value)} ({type(value).__name__}), but it must be {want}; fix: give {want}{_example(cls, name)}"


def _explained(cls: type[BaseModel], exc: ValidationError) -> ValidationError:
    """The same errors, with messages for this model's own fields that name the value and a fix."""
    errors = exc.errors(include_url=False)
    by_field: dict[str, list[dict[str, Any]]] = {}
    for err in errors:
        loc = err["loc"]
        # A union field (``float | Literal["auto"]``) reports one error per member, tagged e.g. "literal['auto']".
        if len(loc) == 2 and isinstance(loc[0], str) and isinstance(loc[1], str) and not loc[1].isidentifier():
            by_field.setdefault(loc[0], []).append(dict(err))
    line_errors: list[dict[str, Any]] = []
    done: set[str] = set()
    for err in errors:
        loc, value = err["loc"], err.get("input")
        name = loc[0] if loc and isinstance(loc[0], str) else ""
        msg = err["msg"]
        if name in by_field:
            if name in done:
                continue
            done.add(name)
            members = by_field[name]
            ranged = [m for m in members if m["type"] == "value_error"]
            if ranged:
                msg = ranged[0]["msg"]
            else:
                kinds = " or ".join(dict.fromkeys(_expected(m["msg"]) for m in members))
                msg = _wrong_type(cls, name, value, kinds)
            loc = (name,)
        elif err["type"] == "finite_number":
            msg = f"got {value!r}, but it must be a finite number (not inf or NaN); fix: give a finite number"
        elif len(loc) == 1 and err["type"] in _TYPE_ERRORS:
            want = _expected(msg)
            msg = _wrong_type(cls, name, value, want)
        elif len(loc) == 1 and err["type"] in _BOUND_ERRORS:
            rule = msg.removeprefix("Input should be ")
            msg = f"got {_short(value)}, but it must be {rule}; fix: set it {rule}"
        elif len(loc) == 1 and err["type"] == "extra_forbidden":
            near = difflib.get_close_matches(name, list(cls.model_fields), n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            msg = (
                f"{cls.__name__} has no field {name!r} (given {_short(value)}); fix: {hint}"
                f"valid fields are {', '.join(cls.model_fields)}"
            )
        elif len(loc) == 1 and err["type"] == "missing":
            msg = f"{cls.__name__} needs {name!r}, which was not given; fix: add {name!r}"
        line_errors.append(
            {"type": PydanticCustomError(err["type"], "{msg}", {"msg": msg}), "loc": loc, "input": value}
        )
    return ValidationError.from_exception_data(cls.__name__, line_errors)  # type: ignore[arg-type]
