"""Options models derived from a writer's signature, and the function-backed exporter."""

from __future__ import annotations

import builtins
import inspect
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

if TYPE_CHECKING:
    from minisim.recording import Recording

_PARAM = re.compile(r"^(?P<names>[A-Za-z_][\w, ]*?)\s*:\s*(?P<type>.*)$")


def _doc_params(doc: str | None) -> dict[str, str]:
    """First sentence of each parameter's description in a numpydoc ``Parameters`` section."""
    lines = inspect.cleandoc(doc or "").splitlines()
    try:
        start = next(i for i, line in enumerate(lines[:-1]) if line == "Parameters" and lines[i + 1].startswith("---"))
    except StopIteration:
        return {}
    out: dict[str, str] = {}
    names: list[str] = []
    text: list[str] = []

    def flush() -> None:
        sentence = " ".join(text).split(". ")[0].rstrip(".")
        for n in names:
            out[n] = sentence

    for line in lines[start + 2 :]:
        if line and not line.startswith(" "):
            if line.startswith("---"):
                break
            match = _PARAM.match(line)
            if match is None:  # the next section's title
                break
            flush()
            names, text = [n.strip() for n in match["names"].split(",")], []
        elif line.strip():
            text.append(line.strip())
    flush()
    return out


def _annotation(func: Callable[..., Any], param: inspect.Parameter) -> Any:
    ann = param.annotation
    if ann is inspect.Parameter.empty:
        return Any
    if isinstance(ann, str):
        try:
            return eval(ann, {**vars(builtins), **func.__globals__})  # the writer's own annotation string
        except Exception:  # a name only imported for type checking
            return Any
    return ann


def options_model(
    func: Callable[..., Any], name: str, *, help: dict[str, str] | None = None, exclude: tuple[str, ...] = ()
) -> type[BaseModel]:
    """A frozen ``extra="forbid"`` pydantic model of ``func``'s keyword-only parameters.

    Types and defaults come from the signature, descriptions from the
    numpydoc ``Parameters`` section (overridden by ``help``). A keyword
    added to the writer therefore becomes an option (and a CLI flag) with no
    other edit.
    """
    docs = {**_doc_params(func.__doc__), **(help or {})}
    fields: dict[str, Any] = {}
    for p in inspect.signature(func).parameters.values():
        if p.kind is not inspect.Parameter.KEYWORD_ONLY or p.name in exclude:
            continue
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (_annotation(func, p), Field(default, description=docs.get(p.name, "")))
    config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    model: type[BaseModel] = create_model(f"{name.title()}ExportOptions", __config__=config, **fields)
    return model


@dataclass(frozen=True)
class FunctionExporter:
    """An exporter whose ``write`` is a function ``writer(recording, path, **options)``."""

    name: str
    summary: str
    target: Literal["file", "directory"]
    writer: Callable[..., Any]
    options: type[BaseModel]

    def write(self, recording: Recording, path: str | os.PathLike[str], **options: Any) -> Path | list[Path]:
        """Call the writer (options are passed on unchanged)."""
        result: Path | list[Path] = self.writer(recording, path, **options)
        return result


def function_exporter(
    name: str,
    summary: str,
    target: Literal["file", "directory"],
    writer: Callable[..., Any],
    *,
    help: dict[str, str] | None = None,
    exclude: tuple[str, ...] = (),
) -> FunctionExporter:
    """An exporter for ``writer(recording, path, *, option=default, ...)``; options from its signature."""
    return FunctionExporter(name, summary, target, writer, options_model(writer, name, help=help, exclude=exclude))
