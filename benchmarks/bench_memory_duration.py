"""Peak memory against recording length: is a long write flat in memory?

For each duration, a fresh child process simulates the V4 x CA1 recording
(with brain motion) and saves it to zarr with its ground truth, on the
default local scheduler (or the command line with ``--cli``). This process
samples the resident memory of the child and all its descendants every
0.1 s and prints, per duration: peak memory, wall time, frames per second,
CPU utilisation and store size, then peak(longest) / peak(shortest).

Usage::

    python benchmarks/bench_memory_duration.py --minutes 5 15 [60] [--keep DIR] [--cli]

and last, the numpy noise floor measured in the same run (as bench_throughput.py does)
and each run's frames/s as a share of it.

The 60-minute run writes ~15-25 GB and takes tens of minutes on 2 cores.
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

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import FPS, Meter, describe, mb, v4_ca1_spec


def child(minutes: float, out: str, chunk_frames: int | None) -> None:
    """Simulate and save one recording; print phase timings as JSON on the last line."""
    import minisim as ms

    ms.perf.reuse_freed_memory()  # as the command line does
    spec = v4_ca1_spec(minutes * 60.0)
    t0 = time.perf_counter()
    rec = ms.simulate(spec, chunk_frames=chunk_frames)
    t1 = time.perf_counter()
    rec.save(out, overwrite=True)
    t2 = time.perf_counter()
    info = {"simulate_s": t1 - t0, "save_s": t2 - t1, "n_units": rec.ground_truth.n_units,
            "chunk_frames": int(rec.observed.data.chunks[0][0]), "spec": describe(spec)}  # fmt: skip
    print(json.dumps(info), flush=True)


def run(minutes: float, out: Path, cli: bool, chunk_frames: int | None) -> dict:
    if cli:
        cmd = [shutil.which("minisim") or "minisim", "simulate", "--out", str(out), "--overwrite"]
        spec_file = out.with_suffix(".json")
        spec_file.write_text(v4_ca1_spec(minutes * 60.0).to_json())
        cmd.insert(2, str(spec_file))
        if chunk_frames:
            cmd += ["--chunk-frames", str(chunk_frames)]
    else:
        cmd = [sys.executable, __file__, "--child", str(minutes), str(out)]
        if chunk_frames:
            cmd += ["--chunk-frames", str(chunk_frames)]
    meter = Meter(interval_s=0.1)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    meter.pid = proc.pid
    try:
        with meter.measure():
            # Meter samples the child's tree; its CPU counter needs the process alive, so read it before reaping.
            while proc.poll() is None:
                time.sleep(0.2)
                try:
                    meter.cpu_s = max(meter.cpu_s, _tree_cpu(proc.pid))
                except psutil.NoSuchProcess:
                    break
            cpu = meter.cpu_s
    finally:
        if proc.poll() is None:
            proc.kill()
    meter.cpu_s = max(cpu, meter.cpu_s)
    stdout = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"run of {minutes} min failed with status {proc.returncode}: {cmd}")
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    info = json.loads(lines[-1]) if lines else {}
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return {"minutes": minutes, "peak": meter.peak_rss, "wall_s": meter.wall_s, "cpu_s": meter.cpu_s,
            "size": size, **info}  # fmt: skip


def noise_floor(cores: int) -> float:
    """Frames/s of the numpy noise floor of this recording, measured now (see bench_throughput.py)."""
    from bench_throughput import mean_electrons, one_core_poisson_s

    import minisim as ms

    rec = ms.simulate(v4_ca1_spec(60.0))
    lam = mean_electrons(rec)
    t1 = min(one_core_poisson_s(lam, rec.ground_truth.fov_shape)[0] for _ in range(2))
    floor = cores / t1
    print(f"noise floor: one core draws a 608x608 Poisson frame at lambda={lam:.1f} with numpy's "
          f"Generator.poisson in {1e3 * t1:.2f} ms -> {floor:.1f} frames/s on {cores} cores")  # fmt: skip
    return floor


def _tree_cpu(pid: int) -> float:
    from _common import tree_cpu_seconds

    return tree_cpu_seconds(psutil.Process(pid))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[5.0, 15.0])
    parser.add_argument("--chunk-frames", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="write the stores here and keep them")
    parser.add_argument("--cli", action="store_true", help="run `minisim simulate SPEC --out ...` instead")
    parser.add_argument("--child", nargs=2, metavar=("MINUTES", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(float(args.child[0]), args.child[1], args.chunk_frames)
        return
    cores = os.cpu_count() or 1
    root = args.keep or Path(tempfile.mkdtemp(prefix="minisim-mem-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"recording: {describe(v4_ca1_spec(60.0))} (duration varies); {cores} cores; "
          f"{'command line' if args.cli else 'simulate + Recording.save'}, default scheduler", flush=True)  # fmt: skip
    header = f"{'minutes':>8}{'frames':>9}{'peak mem':>11}{'wall s':>9}{'frames/s':>10}{'CPU util':>10}{'store':>11}"
    print(header, flush=True)
    rows = []
    try:
        for minutes in args.minutes:
            out = root / f"rec-{minutes:g}min.zarr"
            r = run(minutes, out, args.cli, args.chunk_frames)
            n = round(minutes * 60 * FPS)
            save_s = r.get("save_s", r["wall_s"])
            print(f"{minutes:>8g}{n:>9}{mb(r['peak']):>11}{r['wall_s']:>9.0f}{n / save_s:>10.1f}"
                  f"{100 * r['cpu_s'] / r['wall_s'] / cores:>9.0f}%{mb(r['size']):>11}"
                  f"   (cell phase {r.get('simulate_s', float('nan')):.0f} s, chunk {r.get('chunk_frames')} frames)",
                  flush=True)  # fmt: skip
            rows.append(r)
            if args.keep is None:
                shutil.rmtree(out, ignore_errors=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    if len(rows) > 1:
        lo, hi = min(rows, key=lambda r: r["minutes"]), max(rows, key=lambda r: r["minutes"])
        print(f"peak({hi['minutes']:g} min) / peak({lo['minutes']:g} min) = {hi['peak'] / lo['peak']:.2f}")
    floor = noise_floor(cores)
    for r in rows:
        n = round(r["minutes"] * 60 * FPS)
        fps = n / r.get("save_s", r["wall_s"])
        print(f"{r['minutes']:g} min: {fps:.1f} frames/s = {100 * fps / floor:.0f} % of the noise floor")
    print(
        "(peak mem: RSS of the run's process and all its descendants, sampled every 0.1 s; frames/s: frames / "
        "save wall time; CPU util: CPU s of the process tree / wall / cores over the whole run)"
    )


if __name__ == "__main__":
    main()
