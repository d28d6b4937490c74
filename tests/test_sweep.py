"""Sweeps: path checking, re-validation, tidy results, cluster evaluation and resume."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pandas as pd
import pydantic
import pytest

import minisim as ms
from minisim.cache import CacheDirError
from minisim.sweep import _active_client
from tests.conftest import small_spec

AXES = {"seed": [1, 2], "steps.sensor.photons_per_unit": [10.0, 20.0, 30.0]}


def tiny() -> ms.Spec:
    return small_spec(duration_s=0.5, n_px=32)


def counting_score(workdir: str, rec: ms.Recording) -> dict:
    """Score = mean count; every call appends a line to calls.txt (works across processes).

    Raises KeyboardInterrupt (like Ctrl-C) on the call after ``interrupt_after`` lines
    when the file ``interrupt_after`` exists; raises ValueError for seed 2 when ``fail_seed2`` exists;
    kills its process once, on a seed-2 point, when ``die_once`` exists.
    """
    wd = Path(workdir)
    calls = wd / "calls.txt"
    done = len(calls.read_text().splitlines()) if calls.exists() else 0
    stop = wd / "interrupt_after"
    if stop.exists() and done >= int(stop.read_text()):
        raise KeyboardInterrupt
    if (wd / "fail_seed2").exists() and rec.spec.seed == 2:
        raise ValueError("planted failure")
    if rec.spec.seed == 2 and (wd / "die_once").exists():
        try:
            (wd / "die_once").unlink()
        except FileNotFoundError:
            pass
        else:
            os._exit(1)  # the worker process dies mid-sweep
    with calls.open("a") as fh:
        fh.write(f"{rec.spec.cache_key()}\n")
    return {"mean": float(rec.observed.mean().compute()), "n_units": rec.ground_truth.n_units}


def calls(workdir: Path) -> list[str]:
    path = workdir / "calls.txt"
    return path.read_text().splitlines() if path.exists() else []


# ------------------------------------------------------------------ sweep()


def test_sweep_is_cartesian_in_dict_order_and_keeps_cache_key():
    base = tiny()
    points = list(ms.sweep(base, AXES))
    assert [tuple(p.axes.values()) for p in points] == [(s, p) for s in (1, 2) for p in (10.0, 20.0, 30.0)]
    for p in points:
        assert isinstance(p, ms.SweptSpec) and isinstance(p, ms.Spec)
        assert p.seed == p.axes["seed"]
        assert p.step("sensor").photons_per_unit == p.axes["steps.sensor.photons_per_unit"]
        plain = ms.Spec.model_validate_json(p.model_dump_json())
        assert "axes" not in p.model_dump() and p.cache_key() == plain.cache_key()
    assert base.seed == 0 and base.step("sensor").photons_per_unit == 200  # base untouched


def test_sweep_nested_paths_and_empty_axes():
    base = tiny()
    (only,) = ms.sweep(base, {})
    assert only.axes == {} and only.cache_key() == base.cache_key()
    pts = list(ms.sweep(base, {"acquisition.optics.na": [0.3, 0.5], "acquisition.image_sensor.bit_depth": [12]}))
    assert [p.acquisition.optics.na for p in pts] == [0.3, 0.5]
    assert all(p.acquisition.image_sensor.bit_depth == 12 for p in pts)
    data = base.model_dump()
    data["steps"][0] = {"kind": "place_neurons"}
    pops = [ms.NeuronPopulation(density_per_mm3=50_000, soma_radius_um=4.0, depth_range_um=(40.0, 60.0))]
    (p,) = ms.sweep(ms.Spec.model_validate(data), {"steps.place_neurons.populations": [pops]})
    assert p.step("place_neurons").populations[0].soma_radius_um == 4.0


@pytest.mark.parametrize(
    ("path", "bad", "choice"),
    [
        ("acquisition.optic.na", "'optic'", "optics"),
        ("steps.brainmotion.max_shift_um", "'brainmotion'", "sensor"),
        ("steps.sensor.photons", "'photons'", "photons_per_unit"),
        ("seeds", "'seeds'", "seed"),
        ("seed.value", "'value'", "sweep 'seed' itself"),
        ("steps.sensor", "whole step", "photons_per_unit"),
    ],
)
def test_sweep_unknown_paths_name_segment_and_choices(path, bad, choice):
    with pytest.raises(ValueError, match="sweep path") as err:
        next(ms.sweep(tiny(), {path: [1]}))
    assert bad in str(err.value) and choice in str(err.value)


def test_sweep_revalidates_each_point():
    gen = ms.sweep(tiny(), {"acquisition.optics.na": [0.5, -1.0]})
    assert next(gen).acquisition.optics.na == 0.5
    with pytest.raises(pydantic.ValidationError, match="na"):
        next(gen)
    with pytest.raises(ValueError, match="no values"):
        list(ms.sweep(tiny(), {"seed": []}))


# ------------------------------------------------------------------ run_sweep()


def test_run_sweep_local_errors_recorded_and_resume_after_ctrl_c(tmp_path):
    score = functools.partial(counting_score, str(tmp_path))
    cache = tmp_path / "cache"
    (tmp_path / "interrupt_after").write_text("2")
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C during the third point
        ms.run_sweep(tiny(), AXES, score, cache=cache, progress=False)
    assert len(calls(tmp_path)) == 2
    (tmp_path / "interrupt_after").unlink()
    (tmp_path / "fail_seed2").write_text("")
    df = ms.run_sweep(tiny(), AXES, score, cache=cache, progress=False)
    # the 2 finished points were not recomputed; the third ran; the seed-2 points failed but did not stop the sweep
    assert len(calls(tmp_path)) == 3 and len(set(calls(tmp_path))) == 3
    assert list(df.columns) == ["seed", "steps.sensor.photons_per_unit", "cache_key", "mean", "n_units", "error"]
    assert df["error"].isna().tolist() == [True] * 3 + [False] * 3
    assert df["error"].iloc[3] == "ValueError: planted failure" and df["mean"].iloc[3:].isna().all()
    assert (df["mean"].iloc[:3].diff().dropna() > 0).all()  # brighter exposure, brighter movie
    # failures are not remembered: once fixed, only they run
    (tmp_path / "fail_seed2").unlink()
    df2 = ms.run_sweep(tiny(), AXES, score, cache=cache, progress=False)
    assert len(calls(tmp_path)) == 6 and df2["error"].isna().all()
    cols = ["seed", "cache_key", "mean", "n_units"]
    pd.testing.assert_frame_equal(df2.iloc[:3][cols], df.iloc[:3][cols], check_dtype=False)


def test_run_sweep_scalar_score_without_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MINISIM_CACHE", str(tmp_path / "never"))
    df = ms.run_sweep(tiny(), {"seed": [3, 4]}, lambda rec: rec.ground_truth.n_units, cache=False, progress=False)
    assert list(df.columns) == ["seed", "cache_key", "score", "error"] and len(df) == 2
    assert not (tmp_path / "never").exists()


def test_run_sweep_unwritable_cache_fails_before_any_work(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(CacheDirError, match="MINISIM_CACHE") as err:
        ms.run_sweep(
            tiny(), AXES, functools.partial(counting_score, str(tmp_path)), cache=blocker / "sub", progress=False
        )
    assert str(blocker / "sub") in str(err.value)
    assert calls(tmp_path) == []


@pytest.mark.slow
def test_run_sweep_on_local_cluster_2x3_and_resume(tmp_path):
    distributed = pytest.importorskip("distributed")
    score = functools.partial(counting_score, str(tmp_path))
    cache = tmp_path / "cache"
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        # a first, partial run (as if the sweep had been stopped after the seed-1 row)
        first = ms.run_sweep(
            tiny(),
            {"seed": [1], "steps.sensor.photons_per_unit": [10.0, 20.0, 30.0]},
            score,
            client=client,
            cache=cache,
            progress=False,
        )
        assert len(first) == 3 and len(calls(tmp_path)) == 3
        (tmp_path / "die_once").write_text("")  # and a worker dies during this run
        df = ms.run_sweep(tiny(), AXES, score, client=client, cache=cache, progress=False)
        assert not (tmp_path / "die_once").exists()
        assert len(df) == 6 and df["error"].isna().all()  # the lost point was rerun elsewhere
        assert len(calls(tmp_path)) == 6 and len(set(calls(tmp_path))) == 6  # only the 3 new points ran
        pd.testing.assert_frame_equal(df.iloc[:3].reset_index(drop=True), first)
        # the client active as the default scheduler is used too; everything is cached now
        assert _active_client() is client
        again = ms.run_sweep(tiny(), AXES, score, cache=cache, progress=False)
        assert len(calls(tmp_path)) == 6
    pd.testing.assert_frame_equal(again, df)
    # results match a local, uncached evaluation
    local = ms.run_sweep(tiny(), AXES, score, cache=False, progress=False)
    pd.testing.assert_series_equal(local["mean"], df["mean"])
    assert os.path.isdir(cache)
