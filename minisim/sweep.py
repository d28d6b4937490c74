"""Parameter sweeps: Cartesian products of spec overrides, evaluated and scored on dask.

:func:`sweep` expands a base spec and a mapping of dotted override paths to
value lists into validated :class:`SweptSpec` points. :func:`run_sweep`
simulates and scores every point on the active dask scheduler (or a given
``distributed.Client``) and returns one tidy table row per point. Finished
points are remembered on disk, so an interrupted sweep resumes where it
stopped.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from minisim.spec import Spec


class SweptSpec(Spec):
    """A :class:`~minisim.spec.Spec` tagged with the axis values that produced it.

    It is a genuine ``Spec`` (it simulates, saves and caches like one). The
    ``axes`` tag is excluded from serialization, so :meth:`cache_key` equals
    the key of the same spec built without a sweep, and the tag disappears
    when the recording is saved.
    """

    axes: dict[str, Any] = Field(default_factory=dict, exclude=True)


def sweep(base: Spec, axes: Mapping[str, Sequence[Any]]) -> Iterator[SweptSpec]:
    """Yield one validated :class:`SweptSpec` per point of the Cartesian product of ``axes``.

    Parameters
    ----------
    base : Spec
        The spec every point starts from; never modified.
    axes : mapping of str to sequence
        Dotted override path -> values, iterated in dict order (the last axis
        varies fastest). Paths: nested model fields (``"acquisition.optics.na"``),
        the unique step of a kind (``"steps.place_neurons.density_per_mm3"``,
        deeper fields with more segments), or a top-level field (``"seed"``).
        A whole field may be swept even when it holds a list or a model.

    Yields
    ------
    SweptSpec
        The base with this point's overrides applied and every validator run
        again, so an invalid combination raises (pydantic ``ValidationError``,
        a ``ValueError``) when it is reached. Empty ``axes`` yields the base once.

    Raises
    ------
    ValueError
        Before anything is yielded, for a path with an unknown segment (the
        message names it and lists the valid choices), a path that descends
        into a plain value, a bare ``steps.<kind>``, or an axis with no values.
    """
    paths = list(axes)
    value_lists = []
    for path in paths:
        _check_path(base, path)
        values = axes[path]
        if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
            raise ValueError(
                f"axis {path!r}: values must be a list of values to sweep, got {values!r}; fix: wrap it in a list"
            )
        if len(values) == 0:
            raise ValueError(f"axis {path!r} has no values; fix: give at least one value")
        value_lists.append(list(values))
    dump = base.model_dump()
    for combo in itertools.product(*value_lists):
        data = _deep_copy(dump)
        for path, value in zip(paths, combo, strict=True):
            _assign(data, path, value)
        yield SweptSpec.model_validate({**data, "axes": dict(zip(paths, combo, strict=True))})


def _check_path(base: Spec, path: str) -> None:
    """Walk ``path`` through the spec's models, raising on the first bad segment."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"sweep path {path!r} must be a non-empty dotted string such as 'acquisition.optics.na'")
    parts = path.split(".")
    node: Any = base
    walked: list[str] = []
    i = 0
    while i < len(parts):
        seg = parts[i]
        where = ".".join(walked) or "the spec"
        if not isinstance(node, BaseModel):
            raise ValueError(
                f"sweep path {path!r}: {where} is a plain value ({type(node).__name__}), not a model, "
                f"so it has no field {seg!r}; fix: sweep {where!r} itself"
            )
        fields = [f for f, info in type(node).model_fields.items() if not info.exclude and f != "kind"]
        if seg not in fields:
            raise ValueError(
                f"sweep path {path!r}: unknown field {seg!r} in {where}; valid choices: {', '.join(fields)}"
            )
        walked.append(seg)
        if node is base and seg == "steps":
            kinds = [s.kind for s in base.steps]
            if i + 1 >= len(parts):
                raise ValueError(
                    f"sweep path {path!r}: name a step and a field, e.g. 'steps.<kind>.<field>' "
                    f"with <kind> one of: {', '.join(kinds)}"
                )
            kind = parts[i + 1]
            if kind not in kinds:
                raise ValueError(
                    f"sweep path {path!r}: no step of kind {kind!r} in the base spec; valid choices: {', '.join(kinds)}"
                )
            if i + 2 >= len(parts):
                fields = [f for f in type(base.step(kind)).model_fields if f != "kind"]
                raise ValueError(
                    f"sweep path {path!r} names the whole step; sweep one of its fields instead, "
                    f"e.g. 'steps.{kind}.<field>' with <field> one of: {', '.join(fields)}"
                )
            node = base.step(kind)
            walked.append(kind)
            i += 2
            continue
        node = getattr(node, seg)
        i += 1


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


def _assign(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at a dotted path of a spec dump (already checked by :func:`_check_path`)."""
    parts = path.split(".")
    node: Any = data
    if parts[0] == "steps":
        node = next(s for s in data["steps"] if s["kind"] == parts[1])
        parts = parts[2:]
    for seg in parts[:-1]:
        node = node[seg]
    node[parts[-1]] = value.model_dump() if isinstance(value, BaseModel) else value


# --------------------------------------------------------------------------- running sweeps


def run_sweep(
    base: Spec,
    axes: Mapping[str, Sequence[Any]],
    score: Callable[[Any], Any],
    *,
    client: Any = None,
    cache: bool | str | os.PathLike[str] = True,
    progress: bool = True,
    score_name: str | None = None,
):  # type: ignore[no-untyped-def]
    """Simulate and score every point of ``sweep(base, axes)``; return a tidy DataFrame.

    Parameters
    ----------
    base, axes
        As for :func:`sweep`; invalid paths and combinations raise before
        anything runs.
    score : callable
        ``score(recording)`` returning a dict (one column per key) or a scalar
        (column ``"score"``). With a cluster it must pickle (a module-level
        function or a ``functools.partial`` of one).
    client : distributed.Client, optional
        Run the points on this cluster, one task per point (keys derived from
        the spec's cache key, ``pure=True``, one retry), each computing its
        recording with the synchronous scheduler inside the task. Default: the
        active dask scheduler; if that is a distributed client it is used the
        same way, otherwise the points run one after another, each computed
        with the active local scheduler.
    cache : bool or path
        Remember finished points as small JSON files (``True``: under
        ``cache_dir()/sweeps``; a path: under that directory; ``False``: off).
        A rerun, e.g. after Ctrl-C or a lost worker, reads them back and
        computes only the missing points. Failed points are not remembered.
    progress : bool
        Show a tqdm progress bar over finished points.
    score_name : str, optional
        Name identifying the score in the cache. Default: derived from the
        function's qualified name and its bytecode, so editing the function
        recomputes; values captured in closures are not part of it, so pass a
        distinct name when they change.

    Returns
    -------
    pandas.DataFrame
        One row per point in sweep order: the axis values (one column per
        path), ``cache_key``, the score columns, and ``error`` (None, or the
        exception raised while simulating or scoring that point; the sweep
        carries on). A score key equal to one of these columns is refused
        (reported in ``error``) rather than allowed to overwrite it.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    points = list(sweep(base, axes))
    token = score_name or _score_token(score)
    store = _ResultStore(_sweep_root(cache), token) if cache is not False else None
    keys = [p.cache_key() for p in points]
    results: dict[str, dict[str, Any]] = {}
    if store is not None:
        for key in dict.fromkeys(keys):
            found = store.get(key)
            if found is not None:
                results[key] = found
    todo = {k: p for k, p in zip(keys, points, strict=True) if k not in results}

    reserved = {"cache_key", "error", *map(str, axes)}

    def finish(key: str, outcome: dict[str, Any]) -> None:
        clash = sorted(reserved & set(outcome.get("values", {})))
        if clash:
            outcome = {
                "values": {},
                "error": f"ValueError: the score returned key(s) {clash}, which are run_sweep's own columns "
                "(cache_key, error and the swept paths) and would overwrite them; fix: rename those keys in the "
                "score's result",
            }
        results[key] = outcome
        if store is not None and outcome.get("error") is None:
            store.put(key, outcome)

    bar = tqdm(total=len(set(keys)), initial=len(results), desc="sweep", unit="point", disable=not progress)
    try:
        active = client if client is not None else _active_client()
        if active is None:
            for key, spec in todo.items():
                finish(key, _evaluate(spec, score, synchronous=False))
                bar.update()
        else:
            _run_on_client(active, todo, score, token, finish, bar)
    finally:
        bar.close()
    rows = []
    for point, key in zip(points, keys, strict=True):
        outcome = results[key]
        rows.append({**point.axes, "cache_key": key, **outcome["values"], "error": outcome.get("error")})
    return pd.DataFrame(rows)


def _run_on_client(client: Any, todo: Mapping[str, Spec], score: Any, token: str, finish: Any, bar: Any) -> None:
    from distributed import as_completed

    if not todo:
        return
    keys = list(todo)
    futures = client.map(
        _evaluate_task,
        [todo[k] for k in keys],
        score=score,
        key=[f"minisim-sweep-{token}-{k}" for k in keys],
        pure=True,
        retries=1,
    )
    key_of = {f.key: k for f, k in zip(futures, keys, strict=True)}
    try:
        for fut in as_completed(futures):
            try:
                outcome = fut.result()
            except Exception as err:  # lost worker (KilledWorker), unpicklable score, ...
                outcome = {"values": {}, "error": f"{type(err).__name__}: {err}"}
            finish(key_of[fut.key], outcome)
            bar.update()
    finally:
        client.cancel([f for f in futures if not f.done()])


def _active_client() -> Any:
    """The distributed client behind the active dask scheduler, if any."""
    import dask.base

    sched = dask.base.get_scheduler()
    owner = getattr(sched, "__self__", None)
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is a dependency
        return None
    return owner if isinstance(owner, Client) else None


def _evaluate_task(spec: Spec, score: Callable[[Any], Any]) -> dict[str, Any]:
    """Cluster task: one point, computed with the synchronous scheduler (no nested cluster use)."""
    return _evaluate(spec, score, synchronous=True)


def _evaluate(spec: Spec, score: Callable[[Any], Any], *, synchronous: bool) -> dict[str, Any]:
    """Simulate and score one point; an exception becomes the ``error`` of the outcome."""
    import contextlib

    import dask

    from minisim.engine import simulate

    ctx = dask.config.set(scheduler="synchronous") if synchronous else contextlib.nullcontext()
    try:
        with ctx:
            result = score(simulate(spec))
        return {"values": _as_columns(result), "error": None}
    except Exception as err:
        return {"values": {}, "error": f"{type(err).__name__}: {err}"}


def _as_columns(result: Any) -> dict[str, Any]:
    if isinstance(result, Mapping):
        return {str(k): _plain(v) for k, v in result.items()}
    if hasattr(result, "to_dict") and not isinstance(result, np.ndarray):
        return {str(k): _plain(v) for k, v in result.to_dict().items()}
    return {"score": _plain(result)}


def _plain(value: Any) -> Any:
    """numpy scalars/arrays to Python values, so rows are JSON-serialisable."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _score_token(score: Any) -> str:
    """A stable identifier of a score function: qualified name plus a digest of its code."""
    h = hashlib.sha256()

    def feed(fn: Any) -> None:
        if isinstance(fn, functools.partial):
            feed(fn.func)
            h.update(repr((fn.args, sorted(fn.keywords.items()))).encode())
            return
        target = getattr(fn, "__func__", fn)
        code = getattr(target, "__code__", None)
        if code is None:  # a callable object: its class's __call__
            target = type(fn)
            code = getattr(type(fn).__call__, "__code__", None)
        name = f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', repr(target))}"
        h.update(name.encode())
        if code is not None:
            h.update(code.co_code)
            h.update(repr(code.co_consts).encode())

    feed(score)
    name = getattr(score, "__name__", type(score).__name__)
    safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:40]
    return f"{safe}-{h.hexdigest()[:12]}"


def _sweep_root(cache: bool | str | os.PathLike[str]) -> Path:
    from minisim.cache import cache_dir, ensure_writable

    root = cache_dir() / "sweeps" if isinstance(cache, bool) else Path(cache)
    ensure_writable(root)
    return root


class _ResultStore:
    """One small JSON file per finished (spec, score), written atomically."""

    def __init__(self, root: Path, token: str):
        self.root, self.token = root, token

    def path(self, key: str) -> Path:
        return self.root / f"{key}-{self.token}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path(key).read_text())
        except (OSError, ValueError):
            return None
        if data.get("cache_key") != key or data.get("score") != self.token or "values" not in data:
            return None
        return {"values": data["values"], "error": None}

    def put(self, key: str, outcome: dict[str, Any]) -> None:
        record = {"cache_key": key, "score": self.token, "values": outcome["values"]}
        try:
            text = json.dumps(record, allow_nan=True, default=_json_fallback)
        except (TypeError, ValueError):
            return  # a result JSON cannot hold (e.g. an object) is simply not remembered
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{key}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path(key))
        except BaseException:
            with _suppress():
                os.unlink(tmp)
            raise


def _json_fallback(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return _plain(value)
    if isinstance(value, float) and math.isnan(value):  # pragma: no cover - json handles NaN itself
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _suppress() -> Any:
    import contextlib

    return contextlib.suppress(OSError)


__all__ = ["SweptSpec", "run_sweep", "sweep"]
