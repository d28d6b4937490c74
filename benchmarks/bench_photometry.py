"""Peak memory and speed of writing long multi-fiber photometry sessions.

For each duration a fresh child process simulates one 4-fiber session of
about that length (the number of trials is chosen to fill it) and writes it
with its truth to a temporary ONE root; the child reports its peak resident
memory (``ru_maxrss``), wall time, frame rows and bytes written. The last
line is peak(longest) / peak(shortest): near 1 means the write streams.

Usage::

    python benchmarks/bench_photometry.py [--minutes 10 60] [--fibers 4] [--chunk-rows 16384]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time, tempfile
from pathlib import Path
from minisim.photometry import Fiber, PhotometrySpec, Task, simulate_to, simulate_session
minutes, n_fibers, chunk_rows, out = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sensors = ["GCaMP6f", "GRAB-DA2m", "GRAB-5HT1.0", "GRAB-NE1m", "GRAB-ACh3.0", "dLight1.1", "GCaMP6s"]
fibers = tuple(Fiber(region=f"R{i}x", sensor=sensors[i % len(sensors)]) for i in range(n_fibers))
probe = simulate_session(PhotometrySpec(task=Task(n_trials=100), fibers=fibers[:1]))
per_trial = (probe.trials.intervals_1.iloc[-1] - probe.trials.intervals_0.iloc[0]) / 100
n_trials = max(10, int(minutes * 60 / per_trial))
spec = PhotometrySpec(task=Task(n_trials=n_trials), fibers=fibers)
t0 = time.perf_counter()
paths = simulate_to(spec, out, progress=False, chunk_rows=chunk_rows)
wall = time.perf_counter() - t0
rows = len(__import__("pandas").read_parquet(paths[0] / "alf/photometry/photometry.signal.pqt", columns=["times"]))
size = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
print(json.dumps(dict(minutes=minutes, trials=n_trials, rows=rows, wall_s=wall,
                      peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, bytes=size)))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[10.0, 60.0])
    ap.add_argument("--fibers", type=int, default=4)
    ap.add_argument("--chunk-rows", type=int, default=16384)
    args = ap.parse_args()
    results = []
    for m in args.minutes:
        with tempfile.TemporaryDirectory(prefix="bench-photometry-") as out:
            res = subprocess.run(
                [sys.executable, "-c", CHILD, str(m), str(args.fibers), str(args.chunk_rows), out],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
        r = json.loads(res.stdout.strip().splitlines()[-1])
        results.append(r)
        print(
            f"{r['minutes']:5.0f} min, {args.fibers} fibers: {r['trials']} trials, {r['rows']} frame rows, "
            f"{r['wall_s']:.1f} s wall ({r['rows'] / r['wall_s']:.0f} rows/s), peak {r['peak_mb']:.0f} MB, "
            f"{r['bytes'] / 1e6:.1f} MB written"
        )
    if len(results) > 1:
        print(f"peak({results[-1]['minutes']:.0f} min) / peak({results[0]['minutes']:.0f} min) = "
              f"{results[-1]['peak_mb'] / results[0]['peak_mb']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
