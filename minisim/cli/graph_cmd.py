"""``minisim graph``: draw a spec's dataflow as a Mermaid diagram; keep graphs/ current."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from minisim.cli import UserError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "graph",
        help="draw a spec's dataflow (Mermaid); --write/--check keep graphs/ current",
        description="Print the dataflow diagram of a preset or spec file as Markdown with a Mermaid flowchart. "
        "--write regenerates every diagram in the graphs directory; --check exits 1 if any is stale.",
    )
    p.add_argument(
        "--preset", metavar="NAME|SPEC.json", default=None, help="preset (e.g. miniscope_v4_ca1) or spec file"
    )
    p.add_argument("--out", metavar="FILE", default=None, help="write the Markdown here instead of stdout")
    p.add_argument("--write", action="store_true", help="regenerate every diagram in --graphs-dir")
    p.add_argument("--check", action="store_true", help="exit 1 if a diagram (--out, or all of --graphs-dir) is stale")
    p.add_argument("--graphs-dir", default="graphs", metavar="DIR", help="directory of committed diagrams (graphs)")
    p.set_defaults(func=run)


def _write(out: Path, text: str) -> None:
    """Write the diagram atomically; a directory, a path inside a store or an unwritable place is a UserError."""
    from minisim._atomic import atomic_file
    from minisim.export import check_output_file

    try:
        with atomic_file(check_output_file(out)) as tmp:
            tmp.write_text(text)
    except (ValueError, OSError) as err:
        raise UserError(f"--out: {err}".replace("export path", "graph file")) from err


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except OSError as err:
        raise UserError(f"{err.strerror or err} ({err.filename}); fix: choose a writable --graphs-dir") from err


def _run(args: argparse.Namespace) -> int:
    from minisim import graph

    if args.write:
        from minisim._store_format import StoreError, refuse_inside_store, store_attrs

        try:
            refuse_inside_store(Path(args.graphs_dir) / "x.md", "--graphs-dir")
        except StoreError as err:
            raise UserError(str(err)) from err
        if store_attrs(Path(args.graphs_dir)) is not None:
            raise UserError(f"--graphs-dir {args.graphs_dir!r} is a minisim store; fix: choose another directory")
        for path in graph.write_all(args.graphs_dir):
            print(f"wrote {path}")
        return 0
    if args.check and args.out is None and args.preset is None:
        stale = graph.stale(args.graphs_dir)
        for path in stale:
            print(f"stale: {path} (regenerate with `minisim graph --write`)", file=sys.stderr)
        if not stale:
            print(f"{len(graph.expected_files(args.graphs_dir))} diagrams in {args.graphs_dir}/ are current")
        return 1 if stale else 0
    try:
        name, spec = graph.resolve(args.preset)
    except (KeyError, ValueError, OSError) as err:
        raise UserError(str(err).strip("'\"")) from err
    text = graph.markdown(spec, name, "minisim graph --write")
    if args.check:
        out = Path(args.out) if args.out else Path(args.graphs_dir) / f"{name}.md"
        if not out.is_file() or out.read_text() != text:
            print(f"stale: {out} (regenerate with `minisim graph --write`)", file=sys.stderr)
            return 1
        print(f"{out} is current")
        return 0
    if args.out:
        _write(Path(args.out), text)
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0
