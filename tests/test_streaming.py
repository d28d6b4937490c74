"""Long per-cell series stream: computed in fixed segments, lazy until read, exact across segments."""

from __future__ import annotations

import dask
import numpy as np
import pytest
from dask.callbacks import Callback

import minisim as ms
from minisim.detection import sample_field_at
from minisim.engine import Artifacts, geometry_of
from minisim.steps.bleaching import bleaching_pool
from minisim.traces import SEGMENT_FRAMES, StreamedTraces
from tests.conftest import small_spec

# The tiny field of view makes brain motion large relative to it, on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::minisim.SpecWarning")

N_FRAMES = SEGMENT_FRAMES + 176  # two segments, the second one partial


def long_spec() -> ms.Spec:
    """A tiny field of view over more than one segment, with bleaching, neuropil and motion."""
    base = small_spec(duration_s=N_FRAMES / 20.0, n_px=24)
    extra = [ms.Bleaching(bleach_susceptibility=0.02), ms.Neuropil(), ms.BrainMotion(), ms.IlluminationProfile()]
    return ms.Spec(acquisition=base.acquisition, seed=base.seed, steps=[*base.steps, *extra])


@pytest.fixture(scope="module")
def reference() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rec = ms.simulate(long_spec(), chunk_frames=N_FRAMES)
    with dask.config.set(scheduler="synchronous"):
        gt = rec.ground_truth
        return rec.observed.values, {name: getattr(gt, name) for name in ("C", "S", "bleaching")}


def test_the_reference_spans_two_segments_with_activity(reference):
    movie, truth = reference
    assert movie.shape[0] == N_FRAMES > SEGMENT_FRAMES
    for name in ("C", "S", "bleaching"):
        assert truth[name].shape[1] == N_FRAMES
    assert truth["S"][:, SEGMENT_FRAMES:].sum() > 0  # the second segment has spikes
    assert (truth["bleaching"][:, -1] < truth["bleaching"][:, 0]).all()


@pytest.mark.parametrize(("chunk_frames", "scheduler"), [(7, "threads"), (100, "synchronous"), (1000, "threads")])
def test_movie_and_series_are_bit_identical_for_any_chunking_across_segments(reference, chunk_frames, scheduler):
    movie, truth = reference
    rec = ms.simulate(long_spec(), chunk_frames=chunk_frames)
    with dask.config.set(scheduler=scheduler):
        np.testing.assert_array_equal(rec.observed.values, movie)
        for name, values in truth.items():
            np.testing.assert_array_equal(getattr(rec.ground_truth, name), values)


def test_series_stay_lazy_until_read():
    rec = ms.simulate(long_spec())
    gt = rec.ground_truth
    for name in ("C", "S", "bleaching"):
        assert isinstance(gt.stored(name), dask.array.Array)
    C = gt.C
    assert isinstance(C, np.ndarray) and C.dtype == np.float32
    assert gt.stored("C") is C  # computed once, then kept
    assert isinstance(gt.stored("S"), dask.array.Array)


class _SegmentCounter(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.keys: set = set()

    def _pretask(self, key, dsk, state):
        name = key[0] if isinstance(key, tuple) else str(key)
        if "activity_segment" in name:
            self.keys.add(key)


def test_a_movie_chunk_recomputes_only_the_segment_it_overlaps():
    rec = ms.simulate(long_spec(), chunk_frames=10)
    with _SegmentCounter() as first, dask.config.set(scheduler="synchronous"):
        rec.observed[:10].compute()
    with _SegmentCounter() as last, dask.config.set(scheduler="synchronous"):
        rec.observed[-10:].compute()
    assert len(first.keys) == len(last.keys) == 1
    assert first.keys != last.keys


def test_summaries_match_the_values_and_segments_chain_like_one_run():
    spec = long_spec()
    art = Artifacts(spec, geometry_of(spec))
    C: StreamedTraces = art.get("C")
    B: StreamedTraces = art.get("bleaching")
    values = np.asarray(C)
    np.testing.assert_array_equal(C.minimum, values.min(axis=1))
    np.testing.assert_array_equal(C.maximum, values.max(axis=1))
    np.testing.assert_allclose(C.population_sum, values.sum(axis=0, dtype=np.float64), rtol=1e-12)
    # Bleaching integrated segment by segment equals one closed-form run over the whole recording.
    step = spec.step("bleaching")
    fps = spec.acquisition.fps
    y, x = art.get("centers_um")[:, 1], art.get("centers_um")[:, 2]
    px = spec.acquisition.pixel_size_um
    field, shifts_um = art.get("illumination"), art.get("shifts") * px

    def intensity(t0: int, t1: int) -> np.ndarray:
        return step.excitation_intensity * sample_field_at(
            field, y[:, None] + shifts_um[None, t0:t1, 0], x[:, None] + shifts_um[None, t0:t1, 1], px
        )

    whole = bleaching_pool(
        values, step.bleach_susceptibility / fps, 1 / (step.turnover_tau_s * fps), intensity, float(field.max())
    )
    np.testing.assert_allclose(np.asarray(B), whole, rtol=2e-6)


def test_saved_series_equal_the_recording_and_load_lazily(reference, tmp_path):
    _, truth = reference
    out = ms.simulate(long_spec(), chunk_frames=50).save(tmp_path / "long.zarr")
    loaded = ms.Recording.load(out).ground_truth
    for name, values in truth.items():
        assert isinstance(loaded.stored(name), dask.array.Array)
        np.testing.assert_array_equal(getattr(loaded, name), values)


def test_to_dataset_labels_the_series_without_computing_them(reference):
    _, truth = reference
    gt = ms.simulate(long_spec()).ground_truth
    ds = gt.to_dataset()
    assert isinstance(ds["C"].data, dask.array.Array) and ds["C"].dims == ("unit_id", "frame")
    np.testing.assert_array_equal(ds["S"].values, truth["S"])
    assert ds.sizes["unit_id"] == gt.n_units and ds["A"].shape[0] == gt.n_units


def test_simulate_keeps_nothing_of_size_cells_by_frames():
    """Six more segments of ~300 cells add far less memory than one float32 series over them would take."""
    import gc
    import tracemalloc

    def retained(n_frames: int) -> tuple[int, int]:
        base = small_spec(duration_s=n_frames / 20.0, n_px=48)
        dense = base.steps[0].model_copy(update={"density_per_mm3": 6_000_000.0})
        spec = ms.Spec(acquisition=base.acquisition, seed=0, steps=[dense, *base.steps[1:]])
        gc.collect()
        tracemalloc.start()
        try:
            rec = ms.simulate(spec)
            gc.collect()
            return tracemalloc.get_traced_memory()[0], rec.ground_truth.n_units
        finally:
            tracemalloc.stop()

    short, n_cells = retained(2 * SEGMENT_FRAMES)
    long, _ = retained(8 * SEGMENT_FRAMES)
    one_series = n_cells * 6 * SEGMENT_FRAMES * 4
    assert n_cells > 200
    assert long - short < 0.1 * one_series, (long - short, one_series)
