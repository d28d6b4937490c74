"""Which embedded scheduler should `minisim simulate` use by default? Measure it.

Runs ``minisim simulate`` on the default spec with each local scheduler in a
fresh process and prints wall time, frames per second, CPU utilisation of
the whole process tree (100% = every core busy) and peak memory (sum of
RSS over the process tree, sampled every 0.2 s).

    .venv/bin/python benchmarks/bench_cli_scheduler.py [--duration S] [--repeat N] [extra simulate args]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil


def run_once(scheduler: str, duration_s: float, extra: list[str], out: Path) -> dict[str, float]:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "minisim.cli", "simulate", "--out", str(out), "--duration", str(duration_s),
           "--scheduler", scheduler, "--no-progress", *extra]  # fmt: skip
    start = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    cpu: dict[int, float] = {}
    peak = 0
    while proc.poll() is None:
        rss = 0
        for p in [proc, *proc.children(recursive=True)]:
            try:
                t = p.cpu_times()
                cpu[p.pid] = t.user + t.system + getattr(t, "children_user", 0) + getattr(t, "children_system", 0)
                rss += p.memory_info().rss
            except psutil.Error:
                pass
        peak = max(peak, rss)
        time.sleep(0.2)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.read().decode())
    frames = int(duration_s * 20)
    return {"wall_s": wall, "fps": frames / wall, "cpu_pct": 100 * sum(cpu.values()) / wall / os.cpu_count(),
            "peak_gb": peak / 1e9}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=2)
    args, extra = parser.parse_known_args()
    tmp = Path(tempfile.mkdtemp())
    print(f"default spec, {args.duration:g} s, {os.cpu_count()} cores; extra args: {extra}")
    print(f"{'scheduler':12s} {'wall s':>8s} {'frames/s':>9s} {'CPU %':>6s} {'peak GB':>8s}")
    try:
        for _ in range(args.repeat):
            for sched in ("threads", "processes", "synchronous"):
                r = run_once(sched, args.duration, extra, tmp / "bench.zarr")
                print(f"{sched:12s} {r['wall_s']:8.1f} {r['fps']:9.1f} {r['cpu_pct']:6.0f} {r['peak_gb']:8.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
