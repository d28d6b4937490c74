"""Shared helpers of the benchmark scripts: the benchmark spec, memory and CPU meters.

Not a test module: the scripts print figures, nothing here asserts speed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import psutil

import minisim as ms

FPS = 20.0


def v4_ca1_spec(duration_s: float, *, shot_noise: str = "poisson", brain_motion: bool = True) -> ms.Spec:
    """The Miniscope V4 x CA1 recording used by every benchmark.

    Uses :mod:`minisim.presets` when it exists; otherwise an equivalent spec
    by hand: V4 optics (NA 0.3, magnification 2.9), 608 x 608 px at 4.8 um,
    45,000 cells/mm3 between 140 and 160 um, soma radius 5 um, and
    ``Sensor(photons_per_unit=600)``.
    """
    spec = _preset_spec(duration_s, brain_motion)
    if spec is None:
        spec = ms.Spec(
            acquisition=ms.Acquisition(
                duration_s=duration_s,
                fps=FPS,
                optics=ms.Optics(na=0.3, magnification=2.9),
                image_sensor=ms.ImageSensor(n_px_height=608, n_px_width=608, pixel_pitch_um=4.8),
            ),
            seed=0,
            steps=[
                ms.PlaceNeurons(density_per_mm3=45_000, soma_radius_um=5.0, depth_range_um=(140.0, 160.0)),
                ms.CellActivity(),
                ms.CellOptics(),
                ms.Composite(),
                ms.Sensor(photons_per_unit=600),
            ],
        )
    return with_shot_noise(spec, shot_noise)


def _preset_spec(duration_s: float, brain_motion: bool) -> ms.Spec | None:
    try:
        from minisim import presets
    except ImportError:
        return None
    extra = [ms.BrainMotion()] if brain_motion and hasattr(ms, "BrainMotion") else []
    return presets.build_spec(presets.miniscope_v4(), presets.ca1(), duration_s=duration_s, fps=FPS, extra_steps=extra)


def with_shot_noise(spec: ms.Spec, shot_noise: str) -> ms.Spec:
    """The same spec with the sensor's shot-noise model replaced."""
    data = spec.model_dump(mode="json")
    for step in data["steps"]:
        if step["kind"] == "sensor":
            step["shot_noise"] = shot_noise
    return ms.Spec.model_validate(data)


def describe(spec: ms.Spec) -> str:
    acq = spec.acquisition
    h, w = acq.fov_shape
    return f"{h}x{w} px, {acq.n_frames} frames at {acq.fps:g} fps, steps: {', '.join(s.kind for s in spec.steps)}"


# ------------------------------------------------------------------ meters


def tree_rss(proc: psutil.Process) -> int:
    """Resident memory of a process and all its descendants (bytes)."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += p.memory_info().rss
    return total


def tree_cpu_seconds(proc: psutil.Process) -> float:
    """User + system CPU seconds of a process and its live descendants."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


@dataclass
class Meter:
    """Samples the RSS of a process tree in a thread; times wall and CPU."""

    pid: int = field(default_factory=os.getpid)
    interval_s: float = 0.05
    peak_rss: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    system_cpu_percent: float = 0.0

    @contextmanager
    def measure(self) -> Iterator[Meter]:
        proc = psutil.Process(self.pid)
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                try:
                    self.peak_rss = max(self.peak_rss, tree_rss(proc))
                except psutil.NoSuchProcess:
                    return
                stop.wait(self.interval_s)

        thread = threading.Thread(target=sample, daemon=True)
        cpu0, wall0 = tree_cpu_seconds(proc), time.perf_counter()
        psutil.cpu_percent(None)
        thread.start()
        try:
            yield self
        finally:
            self.system_cpu_percent = psutil.cpu_percent(None)
            self.wall_s = time.perf_counter() - wall0
            stop.set()
            thread.join()
            with suppress(psutil.NoSuchProcess):
                self.cpu_s = tree_cpu_seconds(proc) - cpu0

    @property
    def utilisation(self) -> float:
        """CPU seconds of the process tree per wall second per core (0..1)."""
        return self.cpu_s / max(self.wall_s, 1e-9) / (os.cpu_count() or 1)


def mb(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.0f} MB"


def ru_maxrss_bytes() -> dict[str, Any]:
    """Kernel-reported peak RSS of this process and of its reaped children."""
    import resource

    return {
        "self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
    }
