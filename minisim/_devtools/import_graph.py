"""The package's import graph and its cycles: ``python -m minisim._devtools.import_graph``.

Every ``import`` statement counts, function-local (lazy) ones included, as
read by grimp; imports under ``if TYPE_CHECKING:`` are left out (they never
run), unless ``--with-type-checking`` is given. Prints each strongly
connected group of modules (a cycle exists if and only if one has two or
more modules) with one shortest cycle through it, and exits 1 if any.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable


def import_graph(package: str = "minisim", *, type_checking: bool = False) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (grimp's static reading of every import)."""
    import grimp

    graph = grimp.build_graph(package, exclude_type_checking_imports=not type_checking, cache_dir=None)
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with two or more modules, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def visit(root: str) -> None:  # iterative, so deep graphs never hit the recursion limit
        nonlocal counter
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    group.append(m)
                    if m == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    for m in sorted(edges):
        if m not in index:
            visit(m)
    return sorted(groups, key=lambda g: (-len(g), g))


def shortest_cycle(edges: dict[str, set[str]], group: Iterable[str]) -> list[str]:
    """One shortest cycle through the first module of ``group`` (breadth-first, inside the group)."""
    members = set(group)
    start = min(members)
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(edges.get(node, set()) & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [*reversed(path), start]
                if child not in parent:
                    parent[child] = node
                    nxt.append(child)
        frontier = nxt
    return [start]


def main(argv: list[str] | None = None) -> int:
    """Print the cycles; exit status 1 if there is any."""
    parser = argparse.ArgumentParser(prog="python -m minisim._devtools.import_graph", description=__doc__)
    parser.add_argument("package", nargs="?", default="minisim")
    parser.add_argument("--with-type-checking", action="store_true", help="count imports under TYPE_CHECKING too")
    args = parser.parse_args(argv)
    edges = import_graph(args.package, type_checking=args.with_type_checking)
    groups = strongly_connected(edges)
    n_edges = sum(len(v) for v in edges.values())
    print(f"{args.package}: {len(edges)} modules, {n_edges} imports, {len(groups)} cycle group(s)")
    for group in groups:
        print(f"\ncycle group of {len(group)} modules: {', '.join(group)}")
        print("  e.g. " + " -> ".join(shortest_cycle(edges, group)))
    return 1 if groups else 0


if __name__ == "__main__":
    sys.exit(main())
