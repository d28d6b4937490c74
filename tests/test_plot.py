"""Summary figure: the expected panels, honest projections, a valid PNG."""

from __future__ import annotations

import dataclasses

import dask.array as da
import numpy as np
import pytest

import minisim as ms
from minisim.plot import footprint_contours, plot_stages, plot_summary, projections
from tests.conftest import small_spec

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def rec():
    return ms.simulate(small_spec(duration_s=1.0))


def test_summary_has_expected_panels_and_writes_png(rec, tmp_path):
    out = tmp_path / "summary.png"
    fig = rec.plot(out)
    titles = {ax.get_title() for ax in fig.axes}
    assert {"mean projection", "max projection", "calcium traces"} <= titles
    assert "motion" not in titles  # no brain_motion step, no trajectory panel
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 10_000


def test_optional_panels_appear_when_truth_has_them(rec):
    n = rec.spec.acquisition.n_frames
    h, w = rec.ground_truth.fov_shape
    gt = dataclasses.replace(
        rec.ground_truth,
        shifts=np.zeros((n, 2)),
        illumination=np.ones((h, w)),
        vasculature_mask=np.ones((h + 10, w + 10)),  # canvas-sized fields are cropped to the FOV
    )
    fig = plot_summary(dataclasses.replace(rec, ground_truth=gt))
    titles = [ax.get_title() for ax in fig.axes]
    assert {"motion", "illumination", "vasculature mask"} <= set(titles)
    vessel = next(ax for ax in fig.axes if ax.get_title() == "vasculature mask")
    assert vessel.images[0].get_array().shape == (h, w)


def test_projections_match_numpy_and_subsample():
    rng = np.random.default_rng(0)
    movie = rng.random((50, 8, 9))
    mean, peak = projections(da.from_array(movie, chunks=(7, 8, 9)))
    np.testing.assert_allclose(mean, movie.mean(0))
    np.testing.assert_array_equal(peak, movie.max(0))
    mean5, _ = projections(movie, max_frames=5)
    np.testing.assert_allclose(mean5, movie[::10].mean(0))


def test_contours_sit_on_the_footprints(rec):
    gt = rec.ground_truth
    contours = footprint_contours(gt)
    assert len(contours) == gt.n_units
    A = gt.A_observed
    for u, polys in enumerate(contours):
        if not polys:
            continue
        cy, cx = np.unravel_index(A[u].argmax(), A[u].shape)
        pts = np.vstack(polys)
        # the peak pixel lies inside the contour's bounding box
        assert pts[:, 0].min() - 1 <= cx <= pts[:, 0].max() + 1
        assert pts[:, 1].min() - 1 <= cy <= pts[:, 1].max() + 1


def test_plot_stages_one_panel_per_stage(rec):
    fig = plot_stages(rec)
    assert [ax.get_title() for ax in fig.axes] == list(rec.stage_order)


def test_preview_command_writes_png(rec, tmp_path):
    pytest.importorskip("minisim.store")
    from minisim.cli import main

    store = tmp_path / "rec.zarr"
    rec.save(store)
    out = tmp_path / "preview.png"
    assert main(["preview", str(store), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_preview_of_missing_store_is_a_user_error(tmp_path, capsys):
    from minisim.cli import main

    assert main(["preview", str(tmp_path / "nope.zarr")]) == 2
    assert "does not exist" in capsys.readouterr().err
