"""Per-stage wall-time instrumentation; costs nothing when not used."""

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


@dataclass
class PerfTracker:
    """Accumulates wall time per named span (first-seen order)."""

    spans: dict[str, _SpanStat] = field(default_factory=dict)

    @contextmanager
    def measure(self, name: str, *, domain: str | None = None) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            stat = self.spans.setdefault(name, _SpanStat(name, domain))
            stat.seconds += time.perf_counter() - start
            stat.calls += 1

    def total_seconds(self) -> float:
        return sum(s.seconds for s in self.spans.values())

    def report(self) -> str:
        total = self.total_seconds() or 1.0
        rows = [f"{'phase':<24}{'domain':<10}{'calls':>7}{'seconds':>10}{'%':>7}"]
        for s in sorted(self.spans.values(), key=lambda s: -s.seconds):
            rows.append(
                f"{s.name:<24}{s.domain or '':<10}{s.calls:>7}{s.seconds:>10.3f}{100 * s.seconds / total:>7.1f}"
            )
        return "\n".join(rows)

    __str__ = report


def measure(perf: PerfTracker | None, name: str, *, domain: str | None = None) -> AbstractContextManager[None]:
    """``perf.measure(...)`` or a no-op when ``perf`` is None."""
    return perf.measure(name, domain=domain) if perf is not None else nullcontext()
