"""Throughput of a 608 x 608, ~1000-cell recording written to zarr, against the noise floor.

Prints, for a few hundred frames of the V4 x CA1 recording:

* frames per second of ``Recording.save`` (movie + ground truth to zarr),
  for the exact Poisson sensor and the Gaussian shot-noise model;
* peak resident memory of this process and every child (sampled);
* CPU utilisation of the process tree during the write (CPU s / wall s / cores)
  and of the whole machine;
* the noise floor: ``cores / t1`` where ``t1`` is the time one core needs to
  draw one 608 x 608 frame of Poisson noise with numpy's
  ``Generator.poisson`` at the recording's mean photo-electron count (best
  of several tries, measured in the same run), and the ratio of the write
  throughput to it (the headline figure);
* the same frame drawn by minisim's own exact sampler
  (:func:`minisim.poisson.poisson_frame`), and the stricter ratio of the
  write throughput to the floor that sampler defines;
* where the time goes: each MovieOp on a few blocks (one thread), zarr
  encoding, and the cell phase (PerfTracker).

Usage::

    python benchmarks/bench_throughput.py [--frames 400] [--chunk-frames N]
        [--scheduler threads|processes|sync] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import dask
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import FPS, Meter, describe, mb, v4_ca1_spec

import minisim as ms
from minisim.engine import Artifacts, StepContext, geometry_of
from minisim.poisson import PoissonWorkspace, poisson_frame
from minisim.rng import generator


def mean_electrons(rec: ms.Recording, n_frames: int = 16) -> float:
    """Mean Poisson parameter the sensor draws from (photo-electrons per pixel per frame)."""
    order = rec.stage_order
    sensor = rec.spec.step("sensor")
    upstream = rec.stages[order[order.index("sensor") - 1]]
    h, w = rec.ground_truth.fov_shape
    m_h, m_w = (upstream.shape[1] - h) // 2, (upstream.shape[2] - w) // 2
    frames = np.linspace(0, upstream.shape[0] - 1, min(n_frames, upstream.shape[0])).astype(int)
    sample = upstream[frames, m_h : m_h + h, m_w : m_w + w].compute(scheduler="threads")
    qe = rec.spec.acquisition.image_sensor.quantum_efficiency
    return float(np.maximum(sample, 0).mean() * sensor.photons_per_unit * qe)


def one_core_poisson_s(lam: float, shape: tuple[int, int], tries: int = 15) -> tuple[float, float]:
    """Best wall and CPU time for one core to draw one Poisson frame at mean ``lam``.

    Both numpy forms are timed, a per-pixel lambda array (what the sensor
    draws) and a scalar lambda with ``size=``; the faster one defines the
    floor, so the floor is the strictest of the two.
    """
    lam_arr = np.full(shape, lam)
    wall = cpu = np.inf
    for i in range(tries):
        g = generator(0, 1, 0, i)
        for param, size in ((lam_arr, None), (lam, shape)):
            t, c = time.perf_counter(), time.thread_time()
            g.poisson(param, size=size)
            wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.thread_time() - c)
    return wall, cpu


def one_core_minisim_poisson_s(lam: float, shape: tuple[int, int], tries: int = 15) -> tuple[float, float]:
    """Best wall and CPU time for minisim's sampler to draw the same frame (as the sensor calls it)."""
    lam_arr = np.full(shape, lam)
    out = np.empty(shape)
    ws = PoissonWorkspace()
    poisson_frame(lam_arr, generator(0, 1, 0, 0), out=out, workspace=ws)  # buffers, as a worker thread keeps them
    wall = cpu = np.inf
    for i in range(tries):
        g = generator(0, 1, 0, i)
        t, c = time.perf_counter(), time.thread_time()
        poisson_frame(lam_arr, g, out=out, workspace=ws)
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.thread_time() - c)
    return wall, cpu


def stage_breakdown(spec: ms.Spec, chunk: int, n_blocks: int = 3) -> list[tuple[str, float]]:
    """Milliseconds per frame of each MovieOp on ``n_blocks`` blocks, one thread (CPU time)."""
    geo = geometry_of(spec)
    art = Artifacts(spec, geo)
    art.run_all()
    rows = []
    n = spec.acquisition.n_frames
    starts = np.linspace(0, max(0, n - chunk), n_blocks).astype(int)
    blocks = {int(s): np.zeros((min(chunk, n - s), *geo.canvas_shape), np.float32) for s in starts}
    for step in spec.steps:
        op = step.movie_op(StepContext(art, step))
        if op is None:
            continue
        cpu = 0.0
        frames_done = 0
        for s, block in list(blocks.items()):
            frames = np.arange(s, s + len(block))
            per_frame = {k: np.asarray(v)[frames] for k, v in op.per_frame.items()}
            op.fn(block[:1], frames[:1], op.static, {k: v[:1] for k, v in per_frame.items()})  # warm-up
            t = time.thread_time()
            out = op.fn(block, frames, op.static, per_frame)
            cpu += time.thread_time() - t
            frames_done += len(frames)
            blocks[s] = out
        rows.append((step.stage, 1e3 * cpu / frames_done))
    # zarr encoding + write of the final counts, as store.save does it
    import zarr

    from minisim.store import COMPRESSOR

    counts = next(iter(blocks.values()))
    with tempfile.TemporaryDirectory() as tmp:
        arr = zarr.create_array(f"{tmp}/x.zarr", shape=counts.shape, chunks=counts.shape, dtype=counts.dtype,
                                zarr_format=2, compressors=COMPRESSOR)  # fmt: skip
        t = time.process_time()  # zarr encodes in its own threads
        for _ in range(3):
            arr[...] = counts
        rows.append(("zarr write (blosc-zstd)", 1e3 * (time.process_time() - t) / (3 * len(counts))))
    return rows


def timed_save(spec: ms.Spec, out: Path, chunk_frames: int | None) -> tuple[float, Meter, ms.PerfTracker, ms.Recording]:
    """Simulate and save; the meter covers the save (the frame phase), peak memory covers both."""
    perf = ms.PerfTracker()
    outer, meter = Meter(), Meter()
    with outer.measure():
        rec = ms.simulate(spec, perf=perf, chunk_frames=chunk_frames)
        with meter.measure():
            rec.save(out, overwrite=True)
    meter.peak_rss = max(meter.peak_rss, outer.peak_rss)
    return meter.wall_s, meter, perf, rec


def _execution(scheduler: str):  # type: ignore[no-untyped-def]
    """The command line's execution context (one BLAS/OpenCV thread per worker) when available."""
    try:
        from minisim.cli.simulate_cmd import execution
    except ImportError:
        return dask.config.set(scheduler=scheduler)
    return execution({"sync": "synchronous"}.get(scheduler, scheduler), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--chunk-frames", type=int, default=None)
    parser.add_argument("--scheduler", default="threads", choices=["threads", "processes", "sync"])
    parser.add_argument("--repeat", type=int, default=2, help="write each model this many times, keep the best")
    parser.add_argument("--skip-breakdown", action="store_true")
    parser.add_argument(
        "--default-allocator", action="store_true", help="do not tune glibc's allocator as the command line does"
    )
    args = parser.parse_args()
    tuned = False if args.default_allocator else ms.perf.reuse_freed_memory()

    cores = os.cpu_count() or 1
    duration_s = args.frames / FPS
    spec = v4_ca1_spec(duration_s, brain_motion=True)
    print(f"recording: {describe(spec)}")
    allocator = "tuned as by the command line (minisim.perf.reuse_freed_memory)" if tuned else "default"
    print(f"machine: {cores} cores; numpy {np.__version__}, dask {dask.__version__}; scheduler {args.scheduler}; "
          f"allocator {allocator}")  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="minisim-bench-"))
    results = {}
    try:
        with _execution(args.scheduler):
            for model in ("poisson", "gaussian"):
                s = v4_ca1_spec(duration_s, shot_noise=model)
                best = None
                for _ in range(args.repeat):
                    res = timed_save(s, tmp / f"{model}.zarr", args.chunk_frames)
                    if best is None or res[0] < best[0]:
                        best = res
                results[model] = best
        _write_s, _meter, perf, rec = results["poisson"]
        lam = mean_electrons(rec)
        shape = rec.ground_truth.fov_shape
        t1, t1_cpu = np.min([one_core_poisson_s(lam, shape) for _ in range(2)], axis=0)
        t2, t2_cpu = np.min([one_core_minisim_poisson_s(lam, shape) for _ in range(2)], axis=0)
        floor, floor_ms = cores / t1, cores / t2
        n = spec.acquisition.n_frames
        chunk = rec.observed.data.chunks[0][0]
        print(f"cells: {rec.ground_truth.n_units} in the field of view; chunk: {chunk} frames; "
              f"mean photo-electrons per pixel: {lam:.3f}")  # fmt: skip
        print()
        print(f"noise floor (numpy): one core draws a {shape[0]}x{shape[1]} Poisson frame at lambda={lam:.3f} with "
              f"numpy's Generator.poisson in {1e3 * t1:.2f} ms (CPU {1e3 * t1_cpu:.2f} ms) "
              f"-> floor = {cores} / t = {floor:.1f} frames/s")  # fmt: skip
        print(f"minisim's sampler: minisim.poisson.poisson_frame draws the same frame in {1e3 * t2:.2f} ms "
              f"(CPU {1e3 * t2_cpu:.2f} ms) = {t2 / t1:.2f} x numpy's time "
              f"-> stricter floor = {cores} / t = {floor_ms:.1f} frames/s")  # fmt: skip
        print(f"{'sensor model':<14}{'frames/s':>10}{'% of floor':>12}{'% minisim':>11}{'CPU ms/frame':>14}"
              f"{'CPU-bound %':>13}{'write s':>9}{'peak mem':>11}{'CPU util':>10}{'machine CPU':>13}")  # fmt: skip
        for model, (ws, m, _, _) in results.items():
            fps = n / ws
            cpu_frame = m.cpu_s / n
            print(f"{model:<14}{fps:>10.1f}{100 * fps / floor:>11.0f}%{100 * fps / floor_ms:>10.0f}%"
                  f"{1e3 * cpu_frame:>14.2f}{100 * t1_cpu / cpu_frame:>12.0f}%{ws:>9.2f}{mb(m.peak_rss):>11}"
                  f"{100 * m.utilisation:>9.0f}%{m.system_cpu_percent:>12.0f}%")  # fmt: skip
        for line in (
            "% of floor: frames/s of the save / the numpy noise floor, both wall clock (the headline figure).",
            "% minisim: frames/s of the save / the stricter floor set by minisim's own sampler, wall clock.",
            "CPU ms/frame: CPU seconds of the process tree during the save, per frame.",
            "CPU-bound %: CPU of one numpy Poisson draw / CPU ms per frame = the % of floor reached when every core "
            "is ours.",
            "peak mem: RSS of this process and all children, sampled every 50 ms during simulate + save.",
            "CPU util: CPU s of the process tree / wall s / cores during the save; machine CPU: every process.",
        ):
            print(f"  {line}")
        print()
        print("cell phase (PerfTracker, exact Poisson run):")
        print(perf.report())
        if not args.skip_breakdown:
            print()
            print(f"frame phase, one thread, CPU ms per frame (blocks of {chunk} frames):")
            rows = stage_breakdown(spec, chunk)
            total = sum(ms_ for _, ms_ in rows)
            for name, ms_ in rows:
                print(f"  {name:<26}{ms_:>8.2f}{100 * ms_ / total:>7.0f}%")
            print(f"  {'sum':<26}{total:>8.2f}  -> ideal {cores} cores: {1e3 * cores / total:.1f} frames/s")
            print(f"  Poisson draw alone, numpy (floor) {1e3 * t1:>6.2f}")
            print(f"  Poisson draw alone, minisim       {1e3 * t2:>6.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
