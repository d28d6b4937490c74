"""Generate the API reference (docs/reference/*.md) from the package's own docstrings.

Run ``python docs/build_api.py`` after changing a public docstring or
signature; ``python docs/build_api.py --check`` exits 1 when a page is stale
(tests/test_docs.py runs the same check). Pages are plain Markdown: numpydoc
section headers become bold labels and parameter lists become bullet lists,
so GitHub renders them without a docs toolchain.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"

#: Page name → (title, modules). Every module listed must exist (a missing one is an error).
PAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "spec": ("Spec and acquisition", ("minisim.spec", "minisim.acquisition")),
    "steps": ("Steps", ("minisim.steps.base", "minisim.steps.registry", "minisim.poisson")),
    "simulate": ("simulate and the engine", ("minisim.engine", "minisim.traces", "minisim.perf")),
    "recording": ("Recording, GroundTruth and storage", ("minisim.recording", "minisim.footprint", "minisim.store")),
    "presets": ("Presets", ("minisim.presets",)),
    "metrics": ("Metrics", ("minisim.metrics", "minisim.detection")),
    "testing": ("Test-suite fixtures", ("minisim.testing",)),
    "cache_sweep": ("Caching and sweeps", ("minisim.cache", "minisim.sweep")),
    "exports": ("Exports", ("minisim.exporters", "minisim.export", "minisim.export_minian", "minisim.video")),
    "pictures": ("Pictures and dataflow graphs", ("minisim.plot", "minisim.graph")),
}

#: Step methods that are engine plumbing, documented once on StepSpec, not per step.
_STEP_PLUMBING = {"compute", "movie_op", "margin_px", "check_acquisition"}
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")
_SECTION = re.compile(r"^([A-Z][A-Za-z ]+)\n-{3,}$", re.M)


def _try_import(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            raise SystemExit(f"docs/build_api.py lists {name}, which does not exist; fix PAGES") from None
        raise
    except ImportError:
        return None


def step_modules() -> tuple[str, ...]:
    """One module per registered step, in canonical order."""
    from minisim.steps.registry import STEPS

    return tuple(dict.fromkeys(cls.__module__ for cls in STEPS))


def numpydoc_to_md(doc: str | None) -> str:
    """A numpydoc docstring as Markdown (sections bold, parameters as bullets)."""
    if not doc:
        return "*(no docstring)*"
    text = inspect.cleandoc(doc)
    out: list[str] = []
    lines = text.splitlines()
    i, section = 0, None
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"-{3,}", nxt.strip()) and not line.startswith(" "):
            section = line.strip()
            out += ["", f"**{section}**", ""]
            i += 2
            continue
        is_param_section = section in {"Parameters", "Returns", "Yields", "Raises", "Attributes", "Other Parameters"}
        if is_param_section and line.strip() and not line.startswith(" "):
            name, _, typ = line.partition(" : ")
            out.append(f"- `{name.strip()}`" + (f" : *{typ.strip()}*" if typ else ""))
        elif is_param_section and line.startswith(" "):
            out.append("  " + line.strip())
        else:
            out.append(line)
        i += 1
    return "\n".join(out).strip()


def _signature(obj: Any) -> str:
    try:
        sig = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"
    return _ADDRESS.sub("", sig)


def _public_members(mod: ModuleType) -> list[tuple[str, Any]]:
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [
            n
            for n, v in vars(mod).items()
            if not n.startswith("_")
            and (inspect.isclass(v) or inspect.isfunction(v))
            and getattr(v, "__module__", None) == mod.__name__
        ]
    members = [(n, getattr(mod, n)) for n in names if hasattr(mod, n)]
    return [(n, v) for n, v in members if inspect.isclass(v) or inspect.isfunction(v)]


def _fields_table(cls: type) -> list[str]:
    rows: list[tuple[str, str, str]] = []
    model_fields = getattr(cls, "model_fields", None)
    if isinstance(model_fields, dict) and model_fields:
        for name, info in model_fields.items():
            ann = getattr(info.annotation, "__name__", None) or str(info.annotation)
            default = "required" if info.is_required() else repr(info.get_default(call_default_factory=False))
            rows.append((name, ann, default))
    elif dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            ann = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
            if f.default is not dataclasses.MISSING:
                default = repr(f.default)
            elif f.default_factory is not dataclasses.MISSING:
                default = "(factory)"
            else:
                default = "required"
            rows.append((f.name, str(ann), default))
    if not rows:
        return []
    out = ["| field | type | default |", "|---|---|---|"]
    for name, ann, default in rows:
        ann = _ADDRESS.sub("", ann.replace("typing.", "")).replace("|", "\\|")
        default = _ADDRESS.sub("", default).replace("|", "\\|").replace("\n", " ")
        if len(default) > 60:
            default = default[:57] + "..."
        out.append(f"| `{name}` | `{ann}` | `{default}` |")
    return ["", *out, ""]


def _class_md(name: str, cls: type) -> list[str]:
    out = [f"### class `{name}`", "", numpydoc_to_md(cls.__doc__)]
    out += _fields_table(cls)
    decl = {}
    if "kind" in getattr(cls, "model_fields", {}):
        decl = {k: getattr(cls, k) for k in ("stage", "domain", "consumes", "uses", "produces") if k in vars(cls)}
    if decl:
        out += ["", "Declarations: " + "; ".join(f"`{k}` = `{v!r}`" for k, v in decl.items()), ""]
    is_step = "kind" in getattr(cls, "model_fields", {}) and cls.__name__ != "StepSpec"
    for mname, member in vars(cls).items():
        if is_step and mname in _STEP_PLUMBING:
            continue
        if mname.startswith("_") or not (inspect.isfunction(member) or isinstance(member, (classmethod, property))):
            continue
        func = member.__func__ if isinstance(member, classmethod) else member
        if isinstance(member, property):
            out += ["", f"#### property `{name}.{mname}`", "", numpydoc_to_md(member.__doc__)]
        else:
            out += ["", f"#### `{name}.{mname}{_signature(func)}`", "", numpydoc_to_md(func.__doc__)]
    return out


def module_md(mod: ModuleType) -> str:
    out = [f"## `{mod.__name__}`", "", numpydoc_to_md(mod.__doc__), ""]
    for name, obj in _public_members(mod):
        if inspect.isclass(obj):
            out += _class_md(name, obj)
        else:
            out += [f"### `{name}{_signature(obj)}`", "", numpydoc_to_md(obj.__doc__)]
        out.append("")
    return "\n".join(out)


def build() -> dict[str, str]:
    """File name → Markdown text of every reference page (only modules that exist)."""
    pages = dict(PAGES)
    title, mods = pages["steps"]
    pages["steps"] = (title, (*mods, *step_modules()))
    out: dict[str, str] = {}
    index = ["# API reference", "", "Generated from the docstrings by `python docs/build_api.py`; do not edit.", ""]
    for page, (title, names) in pages.items():
        mods = [m for m in (_try_import(n) for n in names) if m is not None]
        if not mods:
            continue
        body = [f"# {title}", "", "<!-- generated by docs/build_api.py; do not edit by hand -->", ""]
        body += [module_md(m) for m in mods]
        out[f"{page}.md"] = "\n".join(body).rstrip() + "\n"
        index.append(f"- [{title}]({page}.md): " + ", ".join(f"`{m.__name__}`" for m in mods))
    out["index.md"] = "\n".join(index) + "\n"
    return out


def stale(directory: Path = REFERENCE_DIR) -> list[str]:
    """Pages that are missing, differ, or are left over in ``directory``."""
    pages = build()
    bad = [n for n, text in pages.items() if not (directory / n).is_file() or (directory / n).read_text() != text]
    extra = [p.name for p in directory.glob("*.md") if p.name not in pages] if directory.is_dir() else []
    return bad + extra


def write(directory: Path = REFERENCE_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    pages = build()
    for p in directory.glob("*.md"):
        if p.name not in pages:
            p.unlink()
    for name, text in pages.items():
        (directory / name).write_text(text)
    return sorted(pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a page is stale")
    args = parser.parse_args(argv)
    if args.check:
        bad = stale()
        for name in bad:
            print(f"stale: docs/reference/{name} (regenerate with `python docs/build_api.py`)", file=sys.stderr)
        return 1 if bad else 0
    for name in write():
        print(f"wrote docs/reference/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
