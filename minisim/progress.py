"""Progress bars for dask computations, on local schedulers and on distributed.

Local schedulers (synchronous, threads, processes) report finished tasks
through :class:`dask.callbacks.Callback`; a ``distributed.Client`` does not,
so there the work is submitted as futures and followed with
``as_completed``. Both paths are behind the same two helpers:

* :func:`progress_bar` -- a context manager showing one bar of finished
  tasks for whatever local computation runs inside it;
* :func:`compute` -- ``dask.compute`` with a bar on any active scheduler;
* :func:`run_blocks` -- compute a 1-D "one element per block" dask array and
  call back (in the calling thread) as each block finishes, which is what
  resumable writers need to keep a manifest.

The library never starts a scheduler: it uses the active one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dask
from dask.callbacks import Callback
from tqdm.auto import tqdm


def active_client() -> Any | None:
    """The ``distributed.Client`` that ``dask.compute`` would use now, or None."""
    scheduler = dask.base.get_scheduler()
    owner = getattr(scheduler, "__self__", None)
    if owner is not None and type(owner).__name__ == "Client" and hasattr(owner, "compute"):
        return owner
    return None


def _bar(total: float | None, desc: str, unit: str, enabled: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, file=sys.stderr, dynamic_ncols=True, leave=True)


class _TaskBar(Callback):
    """Advance a bar by one for each finished task of a local dask computation."""

    def __init__(self, bar: tqdm):
        super().__init__()
        self.bar = bar

    def _start_state(self, dsk: Any, state: dict[str, Any]) -> None:
        self.bar.total = (self.bar.n or 0) + sum(len(state[k]) for k in ("ready", "waiting", "waiting_data", "running"))
        self.bar.refresh()

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        self.bar.update(1)


@contextmanager
def progress_bar(enabled: bool = True, desc: str = "computing") -> Iterator[None]:
    """Show a bar of finished tasks for local dask computations run inside the block.

    Does nothing when ``enabled`` is false. Computations on a
    ``distributed.Client`` are not seen by local callbacks: use
    :func:`compute` or :func:`run_blocks` for those.
    """
    if not enabled:
        yield
        return
    with _bar(None, desc, "task", True) as bar, _TaskBar(bar):
        yield


def compute(*collections: Any, progress: bool = True, desc: str = "computing", **kwargs: Any) -> tuple[Any, ...]:
    """``dask.compute`` with a progress bar on the active scheduler (local or distributed)."""
    client = active_client()
    if client is None:
        with progress_bar(progress, desc):
            return dask.compute(*collections, **kwargs)
    futures = client.compute(list(collections), **kwargs)
    from distributed import as_completed

    with _bar(len(futures), desc, "part", progress) as bar:
        for _ in as_completed(futures):
            bar.update(1)
    return tuple(client.gather(futures))


class _BlockWatcher(Callback):
    def __init__(self, name: str, on_done: Callable[[int], None]):
        super().__init__()
        self.name, self.on_done = name, on_done

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if isinstance(key, tuple) and key[0] == self.name:
            self.on_done(int(key[1]))


def run_blocks(
    blocks: Any,
    on_done: Callable[[int], None] | None = None,
    *,
    progress: bool = True,
    desc: str = "writing",
    weights: Sequence[float] | None = None,
    unit: str = "block",
    window: int | None = None,
) -> None:
    """Compute a 1-D dask array whose blocks are side effects, reporting each block.

    Parameters
    ----------
    blocks : dask.array.Array
        One-dimensional; each block is an independent unit of work (e.g. a
        frame chunk written to disk). Its values are discarded.
    on_done : callable, optional
        Called with the block index, in the calling thread, as each block
        finishes (on every scheduler).
    progress : bool
        Show a tqdm bar (on stderr).
    weights : sequence of float, optional
        How much each block advances the bar (e.g. its number of frames);
        default one per block.
    unit : str
        The bar's unit.
    window : int, optional
        Compute at most this many consecutive blocks at a time (one bar for
        all). The scheduler's state grows with the blocks it is given, so
        windows keep memory flat for any number of blocks; work shared by
        two windows (a dependency straddling them) is computed in each.
    """
    n = blocks.numblocks[0]
    weights = list(weights) if weights is not None else [1] * n
    step = max(1, window or n)
    with _bar(sum(weights), desc, unit, progress) as bar:
        client = active_client()
        for first in range(0, n, step):
            part = blocks.blocks[first : first + step]

            def done(j: int, first: int = first) -> None:
                bar.update(weights[first + j])
                if on_done is not None:
                    on_done(first + j)

            if client is None:
                with _BlockWatcher(part.name, done):
                    dask.persist(part)  # persist keeps every block key (compute may fuse them away)
            else:
                _run_distributed(client, part, done)


def _run_distributed(client: Any, blocks: Any, done: Callable[[int], None]) -> None:
    from distributed import as_completed, futures_of

    persisted = client.persist(blocks)
    futures = futures_of(persisted)
    try:
        for fut in as_completed(futures):
            fut.result()  # raises the task's error here, in the caller
            done(int(fut.key[1]))
    finally:
        client.cancel(futures)
        del persisted
