"""Dataflow diagrams: drawn from the steps' declarations, committed ones kept current."""

from __future__ import annotations

from pathlib import Path

import pytest

import minisim as ms
from minisim import graph
from minisim.cli import main
from tests.conftest import small_spec

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"


def test_committed_diagrams_are_current():
    stale = graph.stale(GRAPHS)
    assert not stale, f"stale diagrams {stale}; regenerate with `minisim graph --write`"


def test_every_step_and_declared_artifact_is_drawn():
    spec = small_spec()
    text = graph.mermaid(spec)
    for step in spec.steps:
        assert f"s_{step.kind}" in text
        for a in type(step).produces:
            assert f"s_{step.kind} --> a_{a}" in text
        for a in type(step).consumes:
            assert f"a_{a} --> s_{step.kind}" in text


def test_ground_truth_artifacts_are_marked_and_phases_split():
    text = graph.mermaid(small_spec())
    gt_block = text.split('subgraph gt["GroundTruth"]')[1].split("  end")[0]
    assert "a_C(" in gt_block and "a_S(" in gt_block
    assert "a_photons_per_unit" not in gt_block  # an internal artifact, not ground truth
    cell = text.split("subgraph cell_phase")[1].split("  end")[0]
    frame = text.split("subgraph frame_phase")[1].split("  end")[0]
    assert "s_place_neurons" in cell and "s_composite" not in cell
    assert "s_composite" in frame and "s_sensor" in frame
    # the movie chain runs in canonical order and ends in the observed movie
    assert "  s_composite == cells_only ==> s_sensor" in text
    assert "  s_sensor == sensor ==> observed" in text


def test_uses_edge_only_when_some_step_produces_it():
    spec = small_spec()
    no_sensor = ms.Spec(acquisition=spec.acquisition, steps=[s for s in spec.steps if s.kind != "sensor"])
    assert "a_photons_per_unit -.-> s_optics" in graph.mermaid(spec)
    assert "photons_per_unit" not in graph.mermaid(no_sensor)


def test_check_fails_on_a_stale_diagram(tmp_path, capsys):
    assert main(["graph", "--write", "--graphs-dir", str(tmp_path)]) == 0
    assert main(["graph", "--check", "--graphs-dir", str(tmp_path)]) == 0
    victim = tmp_path / "default.md"
    victim.write_text(victim.read_text().replace("s_sensor", "s_old_sensor"))
    assert main(["graph", "--check", "--graphs-dir", str(tmp_path)]) == 1
    assert "stale" in capsys.readouterr().err


def test_graph_of_a_spec_file(tmp_path):
    path = tmp_path / "mine.json"
    small_spec().to_json(path)
    out = tmp_path / "mine.md"
    assert main(["graph", "--preset", str(path), "--out", str(out)]) == 0
    assert out.read_text() == graph.markdown(small_spec(), "mine", "minisim graph --write")
    assert main(["graph", "--preset", str(path), "--out", str(out), "--check"]) == 0


def test_unknown_preset_is_a_user_error(capsys):
    assert main(["graph", "--preset", "no_such_scope"]) == 2
    assert "known:" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(graph.preset_specs()))
def test_each_preset_diagram_builds(name):
    assert graph.mermaid(graph.preset_specs()[name]()).startswith("flowchart TD")
