"""The engine: laziness, bit-exact determinism across chunking and schedulers, until=, graph size."""

from __future__ import annotations

import hashlib
import pickle

import dask
import numpy as np
import pytest

import minisim as ms
from tests.conftest import positioned_spec, small_spec


def raising_get(*args, **kwargs):
    raise AssertionError("simulate() ran a dask computation")


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """The observed movie of small_spec(), one chunk, synchronous scheduler."""
    with dask.config.set(scheduler="synchronous"):
        return ms.simulate(small_spec(), chunk_frames=64).observed.values


def observed(spec: ms.Spec, chunk_frames: int, scheduler: str = "synchronous") -> np.ndarray:
    rec = ms.simulate(spec, chunk_frames=chunk_frames)
    with dask.config.set(scheduler=scheduler):
        return rec.observed.values


def test_reference_is_a_real_movie(reference):
    assert reference.dtype == np.uint8
    assert reference.shape == (40, 64, 64)
    assert reference.std() > 0 and 0 < reference.mean() < 255


def test_simulate_runs_no_dask_computation():
    with dask.config.set(scheduler=raising_get):
        rec = ms.simulate(small_spec(), chunk_frames=7)
        # Building views and stages is still free.
        rec.observed[3:9]
        rec.stage("cells_only")
        with pytest.raises(AssertionError, match="ran a dask computation"):
            rec.observed.values  # the raising scheduler really is the active one  # noqa: B018


@pytest.mark.parametrize("chunk_frames", [1, 7, 64])
@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_observed_is_bit_identical_for_any_chunking_and_local_scheduler(reference, chunk_frames, scheduler):
    movie = observed(small_spec(), chunk_frames, scheduler)
    assert movie.dtype == reference.dtype
    np.testing.assert_array_equal(movie, reference)


@pytest.mark.slow
def test_observed_is_bit_identical_under_processes(reference):
    np.testing.assert_array_equal(observed(small_spec(), 13, "processes"), reference)


@pytest.mark.slow
def test_observed_is_bit_identical_under_distributed(reference):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as cluster,
        distributed.Client(cluster),
    ):
        movie = ms.simulate(small_spec(), chunk_frames=7).observed.values
    np.testing.assert_array_equal(movie, reference)


def test_a_frame_range_equals_the_slice_of_the_full_movie(reference):
    rec = ms.simulate(small_spec(), chunk_frames=7)
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_array_equal(rec.observed[10:23].values, reference[10:23])
        np.testing.assert_array_equal(rec.observed.isel(frame=[39, 0, 17]).values, reference[[39, 0, 17]])
        np.testing.assert_array_equal(rec.observed[5:6, 10:20, 30:40].values, reference[5:6, 10:20, 30:40])


def test_same_spec_in_two_fresh_processes_gives_identical_bytes(reference, fresh_process_results):
    here = hashlib.sha256(reference.tobytes()).hexdigest()
    assert [r["sha256"] for r in fresh_process_results] == [here, here]
    assert fresh_process_results[0]["shape"] == list(reference.shape)


def test_another_seed_gives_another_movie_and_truth(reference):
    rec = ms.simulate(small_spec(seed=1))
    assert not np.array_equal(rec.observed.values, reference)
    first = ms.simulate(small_spec())
    assert not np.array_equal(rec.ground_truth.centers_um[:1], first.ground_truth.centers_um[:1])


def test_steps_draw_independent_random_streams():
    """Removing the sensor changes no draw of the cell steps (per-step keyed generators)."""
    full = ms.simulate(small_spec(focal_depth_in_tissue_um=50.0)).ground_truth
    spec = small_spec(focal_depth_in_tissue_um=50.0)
    no_sensor = ms.simulate(spec.model_copy(update={"steps": spec.steps[:-1]})).ground_truth
    np.testing.assert_array_equal(full.centers_um, no_sensor.centers_um)
    np.testing.assert_array_equal(full.C, no_sensor.C)
    np.testing.assert_array_equal(full.A_observed, no_sensor.A_observed)


# -- until= ------------------------------------------------------------------------------------------


def test_until_by_stage_name_kind_and_alias():
    spec = small_spec()
    full = ms.simulate(spec)
    cells = full.stage("cells_only").values
    assert cells.dtype == np.float32
    np.testing.assert_array_equal(full.stage("composite").values, cells)
    for name in ("cells_only", "composite"):
        rec = ms.simulate(spec, until=name)
        assert rec.stage_order == ("cells_only",)
        np.testing.assert_array_equal(rec.observed.values, cells)
    with pytest.raises(KeyError, match="cells_only"):
        ms.simulate(spec, until="composite").stage("sensor")


def test_until_a_cell_step_builds_no_movie_but_keeps_its_truth():
    rec = ms.simulate(small_spec(), until="optics")
    assert rec.stage_order == ()
    assert rec.observed.shape == (0, 64, 64)
    gt = rec.ground_truth
    assert gt.n_units > 0 and gt.observed is not None and gt.focal_depth_um is not None
    early = ms.simulate(small_spec(), until="place_neurons").ground_truth
    np.testing.assert_array_equal(early.centers_um, gt.centers_um)
    assert early.observed is None


def test_unknown_until_lists_valid_names():
    with pytest.raises(ValueError, match="valid names") as info:
        ms.simulate(small_spec(), until="celss_only")
    for name in ("cells_only", "composite", "optics", "sensor"):
        assert name in str(info.value)
    spec = small_spec()
    partial = spec.model_copy(update={"steps": spec.steps[:-1]})
    with pytest.raises(ValueError, match="present") as info:
        ms.simulate(partial, until="sensor")
    assert "composite (cells_only)" in str(info.value)


@pytest.mark.parametrize("chunk_frames", [0, -3, 2.5])
def test_bad_chunk_frames_is_rejected(chunk_frames):
    with pytest.raises(ValueError, match="chunk_frames"):
        ms.simulate(small_spec(), chunk_frames=chunk_frames)


# -- graph size ----------------------------------------------------------------------------------


def _graph(rec: ms.Recording) -> dict:
    return dict(rec.observed.data.__dask_graph__())


def test_number_of_tasks_grows_linearly_with_chunks():
    spec = small_spec(duration_s=4.0)  # 80 frames
    counts = {n: len(_graph(ms.simulate(spec, chunk_frames=80 // n))) for n in (1, 2, 4, 8, 16)}
    per_chunk = (counts[16] - counts[8]) / 8
    assert per_chunk == (counts[8] - counts[4]) / 4 == (counts[4] - counts[2]) / 2
    assert 1 <= per_chunk <= 10
    assert counts[16] <= 16 * per_chunk + 10


def test_pickled_graph_does_not_scale_with_movie_size():
    """No movie-sized (frames x pixels) array is embedded; footprints go in once, not per task."""
    cells = [(30.0, 0.0, 0.0), (30.0, 10.0, -12.0), (35.0, -15.0, 8.0)]
    sizes = {}
    for n_px, duration_s in ((32, 1.0), (128, 1.0), (128, 4.0)):
        spec = positioned_spec(cells, n_px=n_px, duration_s=duration_s, focal_depth_um=30.0, sensor=ms.Sensor())
        rec = ms.simulate(spec, chunk_frames=5)
        sizes[(n_px, duration_s)] = len(pickle.dumps(_graph(rec)))
    frame_bytes = {n_px: 4 * n_px**2 for n_px in (32, 128)}
    # 16x more pixels: growth by at most ~one frame (a static field such as the footprint matrix, once).
    assert sizes[(128, 1.0)] - sizes[(32, 1.0)] < 2 * frame_bytes[128]
    # 4x more frames (and chunks): growth by a few kB per chunk, not by frames x pixels.
    movie_growth = 4 * 128**2 * 60
    assert sizes[(128, 4.0)] - sizes[(128, 1.0)] < 0.02 * movie_growth


def test_recording_views_share_one_graph():
    rec = ms.simulate(small_spec(), chunk_frames=10)
    assert rec.observed_movie.data.name == rec.observed.data.name
    assert rec.stage("sensor").data.name == rec.observed.data.name
    assert rec.observed.dims == ("frame", "height", "width")
    np.testing.assert_array_equal(rec.observed.coords["height"].values, np.arange(64))
