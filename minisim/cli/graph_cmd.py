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


def run(args: argparse.Namespace) -> int:
    from minisim import graph

    if args.write:
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
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0
