"""Kill-point fuzzing: SIGKILL a save, an export or a cache build at a random instant, then check the damage.

Run as a script (``python tests/fuzz_kill.py WORKDIR N_KILLS SEED``) by
tests/test_fuzz.py. This process imports minisim once and never starts a
thread; every write runs in a ``fork()``-ed child, so a kill point costs a
fork instead of an interpreter start (importing minisim takes seconds). The
child is killed with SIGKILL after a random delay drawn over the operation's
measured duration (so kills land in the set-up, the chunk writes, the finish
and after it), and a second forked child checks the invariants:

* a store is absent, resumable (and resuming gives a store byte-identical to
  an uninterrupted write), or complete and verified; ``load`` of an unfinished
  write points at ``--resume``;
* a replaced store or an overwritten export is either the old one or the
  complete new one, and the next write leaves nothing but its output;
* a cache entry is absent or loads with the reference bytes; the next build
  leaves no orphaned temporaries;
* nothing outside the requested output changes.

Prints one JSON line: the kill points tried per operation, how many landed
before the operation finished, the failures (empty when all invariants held)
and the time taken.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

import dask

import minisim as ms
from minisim import store
from minisim.cache import simulate_cached

OPS = ("save", "save-overwrite", "tiff", "cache")


def tiny_spec(seed: int = 0) -> ms.Spec:
    """16 x 16 px, 8 frames: four 2-frame chunks, every core step."""
    return ms.Spec(
        acquisition=ms.Acquisition(
            duration_s=0.4, image_sensor=ms.ImageSensor(n_px_height=16, n_px_width=16, pixel_pitch_um=8.0)
        ),
        seed=seed,
        steps=[
            ms.PlaceNeurons(density_per_mm3=60_000, soma_radius_um=5.0, depth_range_um=(40.0, 60.0)),
            ms.CellActivity(p_quiescent_to_active=0.05),
            ms.CellOptics(),
            ms.Composite(),
            ms.Sensor(photons_per_unit=200),
        ],
    )


_RECORDING: list[ms.Recording] = []


def recording() -> ms.Recording:
    """The tiny spec's lazy recording, built once in the server (thread-free) and inherited by every child."""
    if not _RECORDING:
        _RECORDING.append(ms.simulate(tiny_spec(), chunk_frames=2))
    return _RECORDING[0]


def tree(path: Path) -> dict[str, bytes]:
    """Every file below ``path`` (or ``path`` itself) by relative name, with its bytes."""
    if path.is_file():
        return {".": path.read_bytes()}
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


# ---------------------------------------------------------------- the operations (run in a child)


def run_op(op: str, work: Path) -> None:
    spec = tiny_spec()
    if op in ("save", "save-overwrite"):
        recording().save(work / "out" / "s.zarr", overwrite=op == "save-overwrite")
    elif op == "tiff":
        ms.Recording.load(work / "ref.zarr").write_tiff(work / "out" / "m.tif", progress=False)
    elif op == "cache":
        simulate_cached(spec, root=work / "out")


def prepare(op: str, work: Path) -> None:
    """The output directory as the operation finds it: empty, or holding an old result to replace."""
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    if op == "save-overwrite":
        shutil.copytree(work / "old.zarr", out / "s.zarr")
    elif op == "tiff":
        (out / "m.tif").write_bytes(b"an older export the user keeps")


# ---------------------------------------------------------------- the checks (run in a child)


def check(op: str, work: Path, ref: dict[str, dict[str, bytes]]) -> None:
    """Raise AssertionError when an invariant does not hold after a kill."""
    out = work / "out"
    outside = tree(work / "ref.zarr")
    if op in ("save", "save-overwrite"):
        dest = out / "s.zarr"
        allowed_before = {ref["store"], ref["old"]} if op == "save-overwrite" else {ref["store"]}
        partial = store.partial_path(dest)
        if dest.exists():
            now = _frozen(tree(dest))
            assert now in allowed_before, f"{dest} is neither the old nor the new store"
            store.verify(dest)
        else:
            try:
                ms.Recording.load(dest)
                raise AssertionError("load of a missing store succeeded")
            except store.StoreError as err:
                if partial.exists():
                    assert "--resume" in str(err) and "overwrite" not in str(err), str(err)
        recording().save(dest, resume=True, overwrite=op == "save-overwrite")
        assert _frozen(tree(dest)) == ref["store"], "resumed store differs from an uninterrupted one"
        store.verify(dest)
        assert listing(out) == ["s.zarr"], f"left behind: {listing(out)}"
    elif op == "tiff":
        target = out / "m.tif"
        assert target.is_file(), "the earlier export was lost"
        assert target.read_bytes() in (b"an older export the user keeps", ref["tiff"]["."]), (
            "the export is neither the old file nor the complete new one"
        )
        others = [n for n in listing(out) if n != "m.tif"]
        assert all(n.startswith(".m.tif.") and ".tmp" in n for n in others), f"unexpected files: {others}"
        ms.Recording.load(work / "ref.zarr").write_tiff(target, progress=False)
        assert target.read_bytes() == ref["tiff"]["."], "re-export differs"
        assert listing(out) == ["m.tif"], f"left behind: {listing(out)}"
    elif op == "cache":
        spec = tiny_spec()
        entry = out / f"{spec.cache_key()}.zarr"
        if entry.exists():
            assert _observed(ms.Recording.load(entry)) == ref["observed"], "a cache entry holds other data"
        rec = simulate_cached(spec, root=out)
        assert _observed(rec) == ref["observed"], "the rebuilt cache entry holds other data"
        assert set(listing(out)) <= {entry.name, f"{spec.cache_key()}.lock"}, f"orphans left: {listing(out)}"
    assert tree(work / "ref.zarr") == outside, "the input store changed"


def _frozen(t: dict[str, bytes]) -> frozenset:
    return frozenset(t.items())


def _observed(rec: ms.Recording) -> bytes:
    return rec.observed.values.tobytes()


# ---------------------------------------------------------------- the fork server


def in_child(fn, *args) -> int:
    """Run ``fn(*args)`` in a forked child; its exit status (0 on success, 1 with the error on stderr)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 0
        try:
            with dask.config.set(scheduler="synchronous"):
                fn(*args)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stderr.flush()
        os._exit(code)
    return _wait(pid, CHILD_TIMEOUT_S)


#: Seconds a child (a write, a check) may take before it counts as hung: killed, reported as a failure.
CHILD_TIMEOUT_S = 120.0


def _wait(pid: int, timeout_s: float) -> int:
    """The child's exit status; a child still running after ``timeout_s`` is SIGKILLed and gives 124."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    print(f"fuzz_kill: child {pid} hung for {timeout_s:g} s and was killed", file=sys.stderr, flush=True)
    return 124


def killed_child(fn, args: tuple, delay_s: float) -> bool:
    """Fork ``fn(*args)``, SIGKILL it after ``delay_s``; True when it was still running (really killed)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        with dask.config.set(scheduler="synchronous"):
            fn(*args)
        os._exit(0)
    deadline = time.monotonic() + delay_s
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
        time.sleep(min(0.002, max(0.0, deadline - time.monotonic())))
    os.kill(pid, signal.SIGKILL)
    status = os.waitpid(pid, 0)[1]
    return os.WIFSIGNALED(status)


def _reference(work: Path) -> None:
    with dask.config.set(scheduler="synchronous"):
        recording().save(work / "ref.zarr")
        ms.simulate(tiny_spec(seed=1), chunk_frames=2).save(work / "old.zarr")
        ms.Recording.load(work / "ref.zarr").write_tiff(work / "ref.tif", progress=False)


def main() -> None:
    work, n_kills, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    start = time.perf_counter()
    recording()
    assert threading.active_count() == 1, "the fork server must not run threads"
    if in_child(_reference, work) != 0:
        raise SystemExit("could not write the reference outputs")
    ref = {
        "store": _frozen(tree(work / "ref.zarr")),
        "old": _frozen(tree(work / "old.zarr")),
        "tiff": tree(work / "ref.tif"),
        "observed": None,
    }
    # the reference movie bytes, read in a child (reading starts zarr's I/O thread)
    obs_file = work / "observed.bin"
    in_child(lambda: obs_file.write_bytes(_observed(ms.Recording.load(work / "ref.zarr"))))
    ref["observed"] = obs_file.read_bytes()
    assert threading.active_count() == 1
    durations = {}
    for op in OPS:  # each operation's uninterrupted duration, to spread the kill points over it
        prepare(op, work)
        t0 = time.perf_counter()
        if in_child(run_op, op, work) != 0:
            raise SystemExit(f"{op} fails even uninterrupted")
        durations[op] = time.perf_counter() - t0
    rng = random.Random(seed)
    tried = dict.fromkeys(OPS, 0)
    landed = dict.fromkeys(OPS, 0)
    failures = []
    for i in range(n_kills):
        op = OPS[i % len(OPS)]
        prepare(op, work)
        delay = rng.uniform(0.0, 1.15 * durations[op])
        really = killed_child(run_op, (op, work), delay)
        tried[op] += 1
        landed[op] += really
        if in_child(check, op, work, ref) != 0:
            failures.append({"op": op, "delay_s": round(delay, 4), "killed": really})
    print(
        json.dumps(
            {
                "kill_points": n_kills,
                "tried": tried,
                "killed_mid_write": landed,
                "failures": failures,
                "durations_s": {k: round(v, 3) for k, v in durations.items()},
                "seconds": round(time.perf_counter() - start, 1),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
