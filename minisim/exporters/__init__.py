"""The exporter table: every format a recording can be written to, one module each.

An exporter is any object with

* ``name`` (``str``): the format name used by ``Recording.export(fmt, ...)``
  and ``minisim export --to``;
* ``summary`` (``str``): one line for help texts;
* ``target`` (``"file"`` or ``"directory"``): what ``path`` names;
* ``options`` (a frozen pydantic model class with ``extra="forbid"``): the
  keyword options ``write`` accepts, with their types and defaults (the
  command line turns each into a flag);
* ``write(recording, path, **options)``: write and return the path(s) written.

The built-in formats are listed once in :data:`BUILTIN` (name -> module
holding ``EXPORTER``); a third-party package adds a format by declaring an
entry point in the ``minisim.exporters`` group whose object is such an
exporter, e.g. in its ``pyproject.toml``::

    [project.entry-points."minisim.exporters"]
    nwb = "my_package.nwb_export:EXPORTER"

:func:`function_exporter` builds an exporter from a writer function whose
keyword-only parameters are its options. See ``docs/howto/export.md``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from minisim.exporters._options import function_exporter, options_model

if TYPE_CHECKING:
    from minisim.recording import Recording

#: The entry-points group third-party exporters register under.
ENTRY_POINT_GROUP = "minisim.exporters"

#: Built-in formats: name -> module defining ``EXPORTER`` (imported on first use).
BUILTIN: dict[str, str] = {
    "zarr": "minisim.exporters.zarr_store",
    "video": "minisim.exporters.video",
    "tiff": "minisim.exporters.tiff",
    "minian": "minisim.exporters.minian",
}


@runtime_checkable
class Exporter(Protocol):
    """What the exporter table holds (see the module docstring)."""

    name: str
    summary: str
    target: Literal["file", "directory"]
    options: type[BaseModel]

    def write(self, recording: Recording, path: str | os.PathLike[str], **options: Any) -> Path | list[Path]:
        """Write ``recording`` to ``path``; return what was written."""
        ...


def _check(obj: Any, origin: str) -> Exporter:
    missing = [a for a in ("name", "summary", "target", "options", "write") if not hasattr(obj, a)]
    if missing:
        raise TypeError(f"{origin} is not a minisim exporter: it has no {missing}; see minisim.exporters.Exporter")
    if obj.target not in ("file", "directory"):
        raise TypeError(f"{origin}: target = {obj.target!r} must be 'file' or 'directory'")
    if not (isinstance(obj.options, type) and issubclass(obj.options, BaseModel)):
        raise TypeError(f"{origin}: options must be a pydantic model class, got {obj.options!r}")
    return obj  # type: ignore[no-any-return]


def exporters() -> dict[str, Exporter]:
    """Every available exporter by name: the built-ins, then the ``minisim.exporters`` entry points.

    An entry point that fails to load, or reuses a built-in name, is skipped
    with a warning (a broken plug-in never breaks the built-in formats).
    """
    table = {name: _check(importlib.import_module(mod).EXPORTER, mod) for name, mod in BUILTIN.items()}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in table:
            warnings.warn(
                f"entry point {ep.value!r} in group {ENTRY_POINT_GROUP!r} reuses the format name {ep.name!r}; "
                "it is ignored (built-in and earlier formats win); fix: rename it in its package",
                UserWarning,
                stacklevel=2,
            )
            continue
        try:
            exporter = _check(ep.load(), f"entry point {ep.value!r}")
        except Exception as err:  # a broken plug-in must not break the built-in formats
            warnings.warn(
                f"the {ep.name!r} export format (entry point {ep.value!r}) failed to load and is unavailable: "
                f"{type(err).__name__}: {err}",
                UserWarning,
                stacklevel=2,
            )
            continue
        if exporter.name != ep.name:
            warnings.warn(
                f"entry point {ep.name!r} loads an exporter named {exporter.name!r}; it is used as {ep.name!r}",
                UserWarning,
                stacklevel=2,
            )
        table[ep.name] = exporter
    return table


def get_exporter(fmt: str) -> Exporter:
    """The exporter for format ``fmt``; an unknown name raises with the list of known ones."""
    if fmt in BUILTIN:
        return _check(importlib.import_module(BUILTIN[fmt]).EXPORTER, BUILTIN[fmt])
    table = exporters()
    if fmt not in table:
        raise ValueError(
            f"unknown export format {fmt!r}; known formats: {sorted(table)} (third-party formats register "
            f"in the {ENTRY_POINT_GROUP!r} entry-points group)"
        )
    return table[fmt]


def validate_options(exporter: Exporter, options: dict[str, Any]) -> dict[str, Any]:
    """The options checked against the exporter's model, returned as given.

    Unknown names raise ``TypeError`` listing the format's options; a value
    of the wrong type raises pydantic's ``ValidationError`` (a ``ValueError``).
    """
    fields = exporter.options.model_fields
    unknown = sorted(set(options) - set(fields))
    if unknown:
        raise TypeError(f"{exporter.name!r} export has no option(s) {unknown}; its options are {sorted(fields)}")
    exporter.options(**options)
    # the writer gets the values as given: lax coercion would turn chunk_frames=True into 1 past its own check
    return dict(options)


def export(recording: Recording, fmt: str, path: str | os.PathLike[str], **options: Any) -> Path | list[Path]:
    """Write ``recording`` to ``path`` in format ``fmt`` (see :func:`exporters` for the formats).

    Parameters
    ----------
    recording : Recording
        What :func:`minisim.simulate` or :func:`minisim.load` returned.
    fmt : str
        A format name: ``"zarr"``, ``"video"``, ``"tiff"``, ``"minian"`` or
        one registered by an installed package.
    path : path
        The file or directory written (the exporter's ``target``).
    **options
        The format's options (``get_exporter(fmt).options`` lists them).

    Returns
    -------
    Path or list of Path
        What the exporter wrote.
    """
    exporter = get_exporter(fmt)
    return exporter.write(recording, path, **validate_options(exporter, options))


__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "Exporter",
    "export",
    "exporters",
    "function_exporter",
    "get_exporter",
    "options_model",
    "validate_options",
]
