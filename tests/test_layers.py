"""The package's layers import downward only: no import cycle, read statically by grimp.

Every import statement counts, function-local (lazy) ones included; only
imports under ``if TYPE_CHECKING:`` are left out, since they never run.
``python -m minisim._devtools.import_graph`` prints the same listing.
"""

from __future__ import annotations

import pytest

pytest.importorskip("grimp")  # in the dev extra

from minisim._devtools.import_graph import import_graph, main, shortest_cycle, strongly_connected


@pytest.fixture(scope="module")
def edges() -> dict[str, set[str]]:
    return import_graph("minisim")


def test_cycle_finder_finds_a_planted_cycle():
    toy = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert strongly_connected(toy) == [["a", "b", "c"]]
    assert shortest_cycle(toy, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert strongly_connected({"x": {"y"}, "y": set()}) == []


def test_no_import_cycle(edges, capsys):
    groups = strongly_connected(edges)
    listing = [" -> ".join(shortest_cycle(edges, g)) for g in groups]
    assert not groups, f"import cycles (break them by moving the shared piece down a layer): {listing}"
    assert main([]) == 0 and "0 cycle group(s)" in capsys.readouterr().out
    assert len(edges) > 50 and "minisim.engine" in edges  # the graph really was read


def test_layers_below_the_steps_and_the_container(edges):
    # context and geometry sit below the steps: neither they nor steps.base reach the engine
    for low in ("minisim.context", "minisim.steps.base", "minisim.artifacts"):
        assert not {m for m in edges[low] if m in ("minisim.engine", "minisim.recording", "minisim.assembly")}, low
    # Recording is a container: it never imports the engine, its assembly, the store facade or a writer;
    # its plot() calls into minisim.plot, which never imports minisim.recording back
    assert "minisim.recording" not in edges["minisim.plot"]
    above = {"minisim.engine", "minisim.assembly", "minisim.store", "minisim.export"}
    above |= {m for m in edges if m.startswith("minisim.exporters.")}
    assert not edges["minisim.recording"] & above, edges["minisim.recording"] & above
    # the exporter table reaches formats by name only, so a format module may import the store or Recording
    assert not {m for m in edges["minisim.exporters"] if m.startswith("minisim.exporters.") and m[18:] != "_options"}
