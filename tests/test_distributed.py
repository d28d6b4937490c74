"""The same recording, computed on a real dask.distributed cluster, equals the local synchronous result bit for bit.

A ``dask scheduler`` and a ``dask worker`` are started as subprocesses on the
loopback interface (random free port through ``--scheduler-file``), so the
recording crosses a process boundary by pickle exactly as on a cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dask
import numpy as np
import pytest

import minisim as ms
from tests.conftest import small_spec

distributed = pytest.importorskip("distributed")

#: For the tests that start a cluster.
cluster_test = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    # distributed still starts its HTTP (health) server on 8787 and moves on when that port is taken.
    pytest.mark.filterwarnings("ignore:Port 8787 is already in use"),
]


def _marked(fn):  # type: ignore[no-untyped-def]
    for mark in cluster_test:
        fn = mark(fn)
    return fn


DASK = str(Path(sys.executable).with_name("dask"))


def _spec() -> ms.Spec:
    """A small recording with per-frame eager inputs (traces, shifts) and per-frame noise."""
    base = small_spec(duration_s=1.5, n_px=48, seed=3)
    data = base.model_dump(mode="json")
    data["steps"].append(ms.BrainMotion(max_shift_um=2.0, motion_amplitude_um=1.5).model_dump(mode="json"))
    return ms.Spec.model_validate(data)


def _local(spec: ms.Spec) -> np.ndarray:
    return ms.simulate(spec).observed.data.compute(scheduler="synchronous")


def _stop(proc: subprocess.Popen) -> None:
    """Terminate a process we started (and its own children, it leads its session)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``tcp://127.0.0.1:<port>`` of a scheduler with one single-threaded worker, both subprocesses."""
    tmp = tmp_path_factory.mktemp("cluster")
    file = tmp / "scheduler.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    common = {"cwd": tmp, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
              "start_new_session": True}  # fmt: skip
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(file)], **common)]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not file.is_file() or not file.read_text().strip():
            if procs[0].poll() is not None or time.monotonic() > deadline:
                pytest.fail("dask scheduler did not start")
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        procs.append(subprocess.Popen([DASK, "worker", address, "--nworkers", "1", "--nthreads", "1",
                                       "--no-dashboard", "--memory-limit", "2GiB", "--local-directory", str(tmp),
                                       "--death-timeout", "30"], **common))  # fmt: skip
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


@_marked
def test_external_scheduler_and_worker_equal_synchronous(scheduler_address: str) -> None:
    spec = _spec()
    expected = _local(spec)
    with distributed.Client(scheduler_address, timeout="30s") as client:
        assert len(client.scheduler_info()["workers"]) == 1
        # Chunking and scheduler are both execution choices: neither may change a count.
        for chunk_frames in (None, 7):
            rec = ms.simulate(spec, chunk_frames=chunk_frames)
            got = client.compute(rec.observed.data).result()
            np.testing.assert_array_equal(got, expected)
        # Only part of the movie: the culled graph gives the same frames.
        part = client.compute(ms.simulate(spec).observed.data[5:12]).result()
        np.testing.assert_array_equal(part, expected[5:12])
    assert expected.std() > 0  # a real movie, not all zeros


@_marked
def test_local_cluster_with_processes_equals_synchronous(tmp_path: Path) -> None:
    spec = _spec()
    expected = _local(spec)
    with (
        distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None,
                                 local_directory=str(tmp_path), memory_limit="2GiB") as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        client.wait_for_workers(2, timeout=60)
        got = client.compute(ms.simulate(spec, chunk_frames=5).observed.data).result()
    np.testing.assert_array_equal(got, expected)


@_marked
def test_cli_on_external_scheduler_equals_local(scheduler_address: str, tmp_path: Path) -> None:
    cli = pytest.importorskip("minisim.cli")
    spec = _spec()
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(spec.to_json())
    out = tmp_path / "rec.zarr"
    argv = ["simulate", str(spec_file), "--out", str(out), "--scheduler", scheduler_address, "--chunk-frames", "8",
            "--no-progress"]  # fmt: skip
    assert cli.main(argv) == 0
    loaded = ms.Recording.load(out)
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_array_equal(loaded.observed.values, _local(spec))
        local = ms.simulate(spec)
        np.testing.assert_array_equal(np.asarray(loaded.ground_truth.C), np.asarray(local.ground_truth.C))
        np.testing.assert_array_equal(np.asarray(loaded.ground_truth.shifts), np.asarray(local.ground_truth.shifts))


def _graph_figures(duration_s: float, chunk_frames: int = 10) -> tuple[int, int, int, int]:
    """Tasks, pickled bytes and frame chunks of ``observed``'s graph, and bytes of the eager per-frame inputs."""
    import cloudpickle

    from minisim.engine import Artifacts, StepContext, geometry_of

    data = _spec().model_dump(mode="json")
    data["acquisition"]["duration_s"] = duration_s
    spec = ms.Spec.model_validate(data)
    movie = ms.simulate(spec, chunk_frames=chunk_frames).observed.data
    graph = dict(movie.__dask_graph__())
    artifacts = Artifacts(spec, geometry_of(spec))
    artifacts.run_all()
    ops = [op for s in spec.steps if (op := s.movie_op(StepContext(artifacts, s))) is not None]
    eager = sum(
        np.asarray(a).nbytes for op in ops for a in op.per_frame.values() if not isinstance(a, dask.array.Array)
    )
    # Each task pickled on its own, as it is shipped to a worker (pickling the whole dict would share objects).
    return len(graph), sum(len(cloudpickle.dumps(task)) for task in graph.values()), eager, movie.numblocks[0]


def test_graph_holds_one_copy_of_per_frame_inputs_and_a_constant_number_of_tasks_per_chunk() -> None:
    short_tasks, short_bytes, _, short_chunks = _graph_figures(10.0)
    long_tasks, long_bytes, long_eager, long_chunks = _graph_figures(400.0)
    assert long_chunks == 40 * short_chunks
    # O(chunks) tasks: the same number of tasks per frame chunk, however long the recording.
    assert long_tasks <= short_tasks * long_chunks / short_chunks + 8
    # The traces/shifts enter the graph once (not once per task or per op), plus a small, fixed cost per chunk.
    assert long_eager > 100_000
    assert long_bytes <= short_bytes + 1.1 * long_eager + 4_000 * long_chunks


@_marked
def test_photometry_session_on_external_scheduler_equals_synchronous(scheduler_address: str) -> None:
    from minisim.photometry import Fiber, PhotometrySpec, Task, simulate_session

    spec = PhotometrySpec(task=Task(n_trials=20, first_block_trials=10), fibers=(Fiber(), Fiber(sensor="GRAB-NE1m")))
    sess = simulate_session(spec)
    expected = sess.frames(chunk_rows=sess.n_rows).to_numpy()
    with distributed.Client(scheduler_address, timeout="30s"):
        got = sess.frames(chunk_rows=1777)  # the default scheduler is now the cluster's
    assert np.array_equal(got.to_numpy(), expected)
    assert got.G0.std() > 0
