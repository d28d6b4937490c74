"""Per-stage wall-time (and calling-thread CPU time) instrumentation; costs nothing when not used."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field


@dataclass
class _SpanStat:
    name: str
    domain: str | None
    seconds: float = 0.0
    calls: int = 0
    cpu_seconds: float = 0.0


@dataclass
class PerfTracker:
    """Accumulates wall time per named span (first-seen order), and the calling thread's CPU time.

    On a loaded machine the wall time of a single-threaded phase grows with
    the load while its CPU time does not; the report shows both.
    """

    spans: dict[str, _SpanStat] = field(default_factory=dict)

    @contextmanager
    def measure(self, name: str, *, domain: str | None = None) -> Iterator[None]:
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            stat = self.spans.setdefault(name, _SpanStat(name, domain))
            stat.seconds += time.perf_counter() - start
            stat.cpu_seconds += time.thread_time() - cpu
            stat.calls += 1

    def total_seconds(self) -> float:
        return sum(s.seconds for s in self.spans.values())

    def total_cpu_seconds(self) -> float:
        return sum(s.cpu_seconds for s in self.spans.values())

    def report(self) -> str:
        total = self.total_seconds() or 1.0
        rows = [f"{'phase':<24}{'domain':<10}{'calls':>7}{'seconds':>10}{'%':>7}{'cpu s':>9}"]
        for s in sorted(self.spans.values(), key=lambda s: -s.seconds):
            rows.append(
                f"{s.name:<24}{s.domain or '':<10}{s.calls:>7}{s.seconds:>10.3f}{100 * s.seconds / total:>7.1f}"
                f"{s.cpu_seconds:>9.3f}"
            )
        return "\n".join(rows)

    __str__ = report


def measure(perf: PerfTracker | None, name: str, *, domain: str | None = None) -> AbstractContextManager[None]:
    """``perf.measure(...)`` or a no-op when ``perf`` is None."""
    return perf.measure(name, domain=domain) if perf is not None else nullcontext()


#: glibc ``mallopt`` parameters (malloc.h): M_TRIM_THRESHOLD and M_MMAP_THRESHOLD.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Blocks up to this size are served from (and returned to) the heap; glibc's largest allowed value on 64-bit.
KEEP_BLOCKS_UP_TO_BYTES = 32 * 2**20
#: Free heap memory below this is kept for reuse rather than returned to the operating system.
KEEP_FREE_UP_TO_BYTES = 2**30


def reuse_freed_memory() -> bool:
    """Let glibc reuse freed frame-sized blocks instead of unmapping them (Linux/glibc only).

    Returns whether the allocator was tuned (False elsewhere, where nothing is done).

    Notes
    -----
    Every movie op returns a new block of a chunk's frames (tens of MB).
    By default glibc maps such blocks fresh from the kernel and unmaps them
    when freed, so each one is page-faulted and zeroed again, frame after
    frame: about 0.7 ms of kernel time per 608 x 608 frame here, 4 % of
    the write. Raising the mmap threshold to 32 MB and the trim threshold
    to 1 GB keeps freed blocks in the heap for the next chunk; the
    process's resident memory then stays at its high-water mark (bounded by
    the chunk size and the number of worker threads), which is what a long
    write wants. Equivalent to starting Python with
    ``MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824``.
    The command line calls this at start-up; a library user may call it
    before a long :meth:`~minisim.Recording.save`.
    """
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (e.g. musl has no mallopt)
    ok = mallopt(_M_MMAP_THRESHOLD, KEEP_BLOCKS_UP_TO_BYTES) == 1
    return mallopt(_M_TRIM_THRESHOLD, KEEP_FREE_UP_TO_BYTES) == 1 and ok
