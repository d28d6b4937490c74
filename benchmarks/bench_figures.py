"""Every figure of the performance table (issue 11), each as a ratio measured in this one run.

Prints, for the Miniscope V4 x CA1 recording (608 x 608 px, ~1000 cells,
neuropil, vessels, scope fields, brain motion, exact Poisson sensor):

1. the noise floor: ``cores / t`` with ``t`` one core's best time for one
   608 x 608 ``numpy.random.Generator.poisson`` draw at lambda = 100;
2. the marginal frames/s of a library ``Recording.save`` (simulate + save,
   default dask threads scheduler), ``(n_long - n_short) / (t_long -
   t_short)`` for a long and a short recording (90 s and 15 s), and its
   share of the floor;
3. CPU utilisation of a 30 s write (CPU s of the process / wall s, 200 %
   is two busy cores);
4. wall time of minisim 1.0.3's ``simulate`` (in memory, its Gaussian
   noise, no disk) on the same 30 s recording, run in a separate virtual
   environment, against ours writing zarr with full ground truth;
5. the cell phase (``simulate()``, before any frame) in a fresh process,
   wall and CPU, and again in the same process with another seed (warm:
   imports and compiled kernels loaded);
6. ``import minisim`` in a fresh process;
7. the threads scheduler's scaling: frame-phase frames/s of a save with 1
   and 2 worker threads.

Usage::

    python benchmarks/bench_figures.py [--short 15] [--long 90] [--write 30]
        [--minisim10 .venv-minisim10/bin/python] [--skip-1-0]

The 1.0.3 environment is made once with
``python -m venv .venv-minisim10 && .venv-minisim10/bin/pip install minisim==1.0.3``
(``.venv*/`` is git-ignored). On a machine shared with other work, the
wall-clock ratios move with the load; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import FPS, Meter, v4_ca1_spec

import minisim as ms

HERE = Path(__file__).resolve().parent
FLOOR_LAMBDA = 100.0
FLOOR_SHAPE = (608, 608)

#: Run by a fresh interpreter: the cell phase twice (fresh process, then warm with another seed).
CELL_PHASE = """
import json, sys, time
sys.path.insert(0, {here!r})
import minisim as ms
from _common import v4_ca1_spec
spec = v4_ca1_spec({duration})
out = {{}}
for name, s in (("fresh", spec), ("warm", spec.model_copy(update={{"seed": 12345}}))):
    t, c = time.perf_counter(), time.thread_time()
    ms.simulate(s)
    out[name] = (time.perf_counter() - t, time.thread_time() - c)
print(json.dumps(out))
"""

#: Run by the minisim 1.0.3 interpreter: its simulate of the same recording, in memory.
MINISIM_1_0 = """
import json, time
import minisim as ms
import numpy as np
from minisim import presets
from importlib.metadata import version
assert version("minisim") == "1.0.3" and "site-packages" in ms.__file__, (version("minisim"), ms.__file__)
spec = presets.build_spec(presets.miniscope_v4(), presets.ca1(), duration_s={duration}, fps={fps},
                          extra_steps=[ms.BrainMotion()])
t, c = time.perf_counter(), time.process_time()
rec = ms.simulate(spec)
movie = np.asarray(rec.observed)
wall, cpu = time.perf_counter() - t, time.process_time() - c
print(json.dumps({{"wall_s": wall, "cpu_s": cpu, "shape": list(movie.shape), "version": version("minisim")}}))
"""


def poisson_floor(cores: int, tries: int = 20) -> tuple[float, float, float]:
    """``(t, t_cpu, cores / t)``: one core's best wall and CPU time for one Poisson frame at lambda = 100, the floor.

    Both numpy forms are timed (a lambda array and a scalar lambda with
    ``size=``); the faster defines the floor.
    """
    g = np.random.default_rng(0)
    lam = np.full(FLOOR_SHAPE, FLOOR_LAMBDA)
    best = best_cpu = np.inf
    for _ in range(tries):
        for param, size in ((lam, None), (FLOOR_LAMBDA, FLOOR_SHAPE)):
            t, c = time.perf_counter(), time.thread_time()
            g.poisson(param, size=size)
            best, best_cpu = min(best, time.perf_counter() - t), min(best_cpu, time.thread_time() - c)
    return best, best_cpu, cores / best


def timed_write(duration_s: float, out: Path, num_workers: int | None = None) -> tuple[float, float, Meter, int, float]:
    """``(wall of simulate + save, wall of save, meter of the save, frames, CPU s of simulate + save)``."""
    spec = v4_ca1_spec(duration_s)
    config = {"scheduler": "threads"} | ({"num_workers": num_workers} if num_workers else {})
    meter = Meter()
    with dask.config.set(config):
        t, c = time.perf_counter(), time.process_time()
        rec = ms.simulate(spec)
        with meter.measure():
            rec.save(out, overwrite=True)
        total, cpu = time.perf_counter() - t, time.process_time() - c
    shutil.rmtree(out, ignore_errors=True)
    return total, meter.wall_s, meter, spec.acquisition.n_frames, cpu


def fresh_python(code: str, python: str = sys.executable) -> dict:  # type: ignore[type-arg]
    """Run ``code`` in a fresh interpreter (in a temporary directory, so no checkout shadows the installed
    package); returns the JSON of its last line."""
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run(
            [os.path.abspath(python), "-c", code], capture_output=True, text=True, check=False, cwd=cwd
        )
    if proc.returncode:
        raise RuntimeError(f"{python} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def import_time_s(tries: int = 5) -> float:
    code = "import time; t = time.perf_counter(); import minisim; print(time.perf_counter() - t)"
    times: list[float] = []
    for _ in range(tries):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        times.append(float(proc.stdout.strip()))
    return min(times)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=float, default=15.0, help="short recording (s) of the marginal rate")
    parser.add_argument("--long", type=float, default=90.0, help="long recording (s) of the marginal rate")
    parser.add_argument("--write", type=float, default=30.0, help="recording (s) of the CPU and 1.0.3 figures")
    parser.add_argument("--scaling", type=float, default=15.0, help="recording (s) of the threads scaling")
    parser.add_argument("--minisim10", default=str(HERE.parent / ".venv-minisim10" / "bin" / "python"))
    parser.add_argument("--skip-1-0", action="store_true", help="skip the minisim 1.0.3 comparison")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    tmp = Path(tempfile.mkdtemp(prefix="minisim-figures-"))
    print(f"minisim {ms.__version__}, engine {ms.spec.ENGINE_VERSION}, sensor kernel "
          f"{ms.kernels.sensor_kernel_name()}; numpy {np.__version__}, dask {dask.__version__}; {load()}")  # fmt: skip
    rows: list[tuple[str, str, str]] = []
    try:
        v4_ca1_spec(1.0)  # warm the presets import and the compiled kernels' disk cache
        ms.simulate(v4_ca1_spec(1.0)).save(tmp / "warm.zarr", overwrite=True)
        t1, t1_cpu, floor = poisson_floor(cores)
        print(f"floor: one {FLOOR_SHAPE[0]}x{FLOOR_SHAPE[1]} Generator.poisson draw at lambda={FLOOR_LAMBDA:g} "
              f"takes {1e3 * t1:.2f} ms on one core (CPU {1e3 * t1_cpu:.2f} ms) -> {cores} cores / t = "
              f"{floor:.1f} frames/s")  # fmt: skip

        short = timed_write(args.short, tmp / "short.zarr")
        long = timed_write(args.long, tmp / "long.zarr")
        marginal = (long[3] - short[3]) / (long[0] - short[0])
        print(f"save {args.short:g} s: {short[3]} frames in {short[0]:.2f} s; {args.long:g} s: {long[3]} frames in "
              f"{long[0]:.2f} s -> marginal {marginal:.1f} frames/s")  # fmt: skip
        rows.append(("marginal frames/s of a save (90 s vs 15 s) / numpy Poisson floor", f"{marginal / floor:.2f}",
                     ">= 1.0"))  # fmt: skip
        cpu_frame = (long[4] - short[4]) / (long[3] - short[3])
        print(f"marginal CPU per frame {1e3 * cpu_frame:.2f} ms: one Poisson draw's CPU / it = "
              f"{t1_cpu / cpu_frame:.2f} (the share of the floor when every core is ours)")  # fmt: skip
        rows.append(("  the same in CPU time: Poisson draw CPU / marginal CPU per frame", f"{t1_cpu / cpu_frame:.2f}",
                     ">= 1.0"))  # fmt: skip

        total, save_s, meter, n, total_cpu = timed_write(args.write, tmp / "write.zarr")
        cpu_pct = 100 * meter.cpu_s / meter.wall_s
        print(f"write {args.write:g} s: simulate + save {total:.2f} s (save {save_s:.2f} s, {n / save_s:.1f} "
              f"frames/s), CPU {meter.cpu_s:.1f} s -> {cpu_pct:.0f} % of one core")  # fmt: skip
        rows.append((f"CPU utilisation of a {args.write:g} s write on {cores} cores", f"{cpu_pct:.0f} %", ">= 190 %"))

        python10 = Path(args.minisim10)
        if args.skip_1_0 or not python10.exists():
            print(f"minisim 1.0.3: skipped ({python10} not found; see the module docstring)")
        else:
            theirs = fresh_python(MINISIM_1_0.format(duration=args.write, fps=FPS), str(python10))
            print(f"minisim {theirs['version']} simulate {args.write:g} s in memory: {theirs['wall_s']:.2f} s "
                  f"(movie {theirs['shape']}); ours simulate + save to zarr: {total:.2f} s")  # fmt: skip
            rows.append((f"wall time vs minisim 1.0.3 simulate ({args.write:g} s)",
                         f"{theirs['wall_s'] / total:.2f}x faster", ">= 3x faster"))  # fmt: skip
            print(f"  CPU: 1.0.3 {theirs['cpu_s']:.1f} s, ours {total_cpu:.1f} s")
            rows.append(("  the same in CPU time (1.0.3 CPU s / ours)", f"{theirs['cpu_s'] / total_cpu:.2f}x", ""))

        cell = fresh_python(CELL_PHASE.format(here=str(HERE), duration=args.write))
        (fw, fc), (ww, wc) = cell["fresh"], cell["warm"]
        print(f"cell phase: fresh process {fw:.2f} s wall ({fc:.2f} s CPU), warm {ww:.2f} s wall ({wc:.2f} s CPU)")
        rows.append(("cell phase of V4 x CA1, fresh process (wall / CPU)", f"{fw:.2f} s / {fc:.2f} s", "<= 1 s"))
        rows.append(("cell phase of V4 x CA1, warm (wall / CPU)", f"{ww:.2f} s / {wc:.2f} s", "<= 1 s"))

        imp = import_time_s()
        rows.append(("import minisim (fresh process, best of 5)", f"{imp:.2f} s", "<= 0.5 s"))

        scaling = {}
        for workers in (1, 2):
            _, save_s, meter, n, _ = timed_write(args.scaling, tmp / f"scaling{workers}.zarr", workers)
            scaling[workers] = n / save_s
            print(f"threads={workers}: save of {n} frames {save_s:.2f} s = {n / save_s:.1f} frames/s, "
                  f"CPU {1e3 * meter.cpu_s / n:.1f} ms/frame")  # fmt: skip
        rows.append(("threads scaling, save frames/s with 2 threads / 1 thread", f"{scaling[2] / scaling[1]:.2f}x",
                     ">= 1.9x"))  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"{'measure':<72}{'now':>18}{'goal':>14}")
    for name, now, goal in rows:
        print(f"{name:<72}{now:>18}{goal:>14}")
    print(f"({load()} at the end)")


if __name__ == "__main__":
    main()
