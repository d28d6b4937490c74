"""Property-based fuzzing (hypothesis): hostile specs, random command lines, kills at random instants.

The invariants (issue 10): the outcome is either a valid spec or recording,
or a one-line error with exit status 2; never a traceback; nothing outside
the requested output changes; a store is absent, resumable, or complete and
verified.

Budgets come from the environment so the default run stays short:
``MINISIM_FUZZ_EXAMPLES`` (generated specs; the end-to-end simulations and
the command lines are a fraction of it), ``MINISIM_FUZZ_KILLS`` (kill points)
and ``MINISIM_FUZZ_JOBS`` (kill-point processes run side by side).
``make fuzz`` runs a long budget, the ``fuzz`` stage of ``.ci/run`` a bounded
one; the counts tried are printed at the end of the run.
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import minisim as ms
from minisim import store
from minisim._memory import MemoryEstimateError, check_memory
from minisim.cli import build_parser, explain_validation, main
from minisim.defaults import default_spec
from tests.fuzz_kill import tiny_spec

pytestmark = pytest.mark.filterwarnings("ignore::minisim.SpecWarning", "ignore::minisim.RecordingFormatWarning")

EXAMPLES = int(os.environ.get("MINISIM_FUZZ_EXAMPLES", "60"))
KILLS = int(os.environ.get("MINISIM_FUZZ_KILLS", "4"))
JOBS = max(1, int(os.environ.get("MINISIM_FUZZ_JOBS", "1")))
RUNS = max(2, EXAMPLES // 100)  # end-to-end simulations of mutated specs
COMMANDS = max(20, EXAMPLES // 10)  # random command lines

COUNTS: Counter[str] = Counter()
SECONDS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_counts(request):
    """Print what was tried (the acceptance asks for the counts) in the terminal summary."""
    yield
    lines = request.config.__dict__.setdefault("_minisim_fuzz_lines", [])
    for key in sorted(COUNTS):
        lines.append(f"fuzz {key}: {COUNTS[key]}" + (f" in {SECONDS[key]:.1f} s" if key in SECONDS else ""))


def fuzz_settings(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


# ---------------------------------------------------------------- (a) random specs

BASE = default_spec(duration_s=0.5).model_dump(mode="json")
BASE["acquisition"]["image_sensor"].update(n_px_height=32, n_px_width=32)

HOSTILE = st.one_of(
    st.sampled_from(
        [
            math.inf,
            -math.inf,
            math.nan,
            0,
            0.0,
            -0.0,
            -1,
            -1.5,
            1e300,
            -1e300,
            1e12,
            10**30,
            2**63,
            5e-324,
            1e-9,
            True,
            False,
            None,
            "",
            "abc",
            "Infinity",
            "NaN",
            "1e400",
            "auto",
            [],
            [1.0],
            [math.nan, 1.0],
            [1.0, 2.0, 3.0],
            {},
            {"a": 1},
            ["sensor"],
            0.5,
            3,
            1e6,
        ]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=6),
).map(copy.deepcopy)  # the lists and dicts above are shared: an edit must never change them
KINDS = [s["kind"] for s in BASE["steps"]]


def _leaves(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        out = [path] if path else []
        for k, v in node.items():
            out += _leaves(v, (*path, k))
        return out
    if isinstance(node, list):
        out = [path]
        for i, v in enumerate(node):
            out += _leaves(v, (*path, i))
        return out
    return [path]


def _get(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


@st.composite
def hostile_specs(draw: Any, edits: tuple[int, int] = (1, 4)) -> dict:
    """The (small) default spec with a few hostile edits: values, keys, and the steps list itself."""
    data = json.loads(json.dumps(BASE))
    for _ in range(draw(st.integers(*edits))):
        op = draw(st.sampled_from(["value", "value", "value", "nudge", "nudge", "delete", "extra", "shuffle",
                                   "duplicate", "drop-step", "kind", "new-step"]))  # fmt: skip
        steps = data.get("steps")
        if op in ("shuffle", "duplicate", "drop-step", "kind", "new-step") and not (isinstance(steps, list) and steps):
            op = "value"
        leaves = _leaves(data)
        if op == "value" and leaves:
            path = draw(st.sampled_from(leaves))
            parent = _get(data, path[:-1])
            parent[path[-1]] = draw(HOSTILE)
        elif op == "nudge":  # a plausible edit: scale a number, which is often still valid
            numbers = [p for p in leaves if type(_get(data, p)) in (int, float)]
            if numbers:
                path = draw(st.sampled_from(numbers))
                parent = _get(data, path[:-1])
                scaled = parent[path[-1]] * draw(st.sampled_from([0.25, 0.5, 0.9, 1.1, 2.0, 4.0]))
                parent[path[-1]] = round(scaled) if isinstance(parent[path[-1]], int) else scaled
        elif op == "delete" and leaves:
            path = draw(st.sampled_from(leaves))
            parent = _get(data, path[:-1])
            if isinstance(parent, dict):
                del parent[path[-1]]
            elif isinstance(parent, list):
                parent.pop(path[-1])
        elif op == "extra":
            dicts = [p for p in [(), *leaves] if isinstance(_get(data, p), dict)]
            _get(data, draw(st.sampled_from(dicts)))[draw(st.sampled_from(["bogus", "kind", "seed", "x_um"]))] = draw(
                HOSTILE
            )
        elif op == "shuffle":
            data["steps"] = draw(st.permutations(steps))
        elif op == "duplicate":
            steps.insert(draw(st.integers(0, len(steps))), json.loads(json.dumps(draw(st.sampled_from(steps)))))
        elif op == "drop-step":
            steps.pop(draw(st.integers(0, len(steps) - 1)))
        elif op == "kind":
            step = draw(st.sampled_from(steps))
            if isinstance(step, dict):
                step["kind"] = draw(st.one_of(st.sampled_from([*KINDS, "bogus", ["sensor"], 3, None]), HOSTILE))
        elif op == "new-step":
            steps.append({"kind": draw(st.sampled_from([*KINDS, "bogus"]))})
    return data


def _outcome(data: Any) -> ms.Spec | None:
    """A valid Spec, or None after checking the error reads as a short message."""
    try:
        spec = ms.Spec.model_validate(data)
    except ValidationError as err:
        msg = str(explain_validation(err))
        assert "Traceback" not in msg and len(msg) < 2500, msg[:3000]
        return None
    return spec


@fuzz_settings(EXAMPLES)
@given(hostile_specs())
def test_random_specs_are_valid_or_refused_in_one_message(data):
    t0 = time.perf_counter()
    spec = _outcome(data)
    try:
        from_json = ms.Spec.model_validate_json(json.dumps(data))  # JSON's NaN / Infinity tokens too
    except ValidationError:
        from_json = None
    assert (spec is None) == (from_json is None)
    COUNTS["specs generated"] += 1
    if spec is None:
        COUNTS["specs refused at validation"] += 1
    else:
        assert from_json == spec
        again = ms.Spec.from_json(spec.to_json())
        assert again == spec and again.cache_key() == spec.cache_key()
        try:
            check_memory(spec)
            COUNTS["specs valid"] += 1
        except MemoryEstimateError as err:
            assert "limit" in str(err)
            COUNTS["specs valid, refused by the memory estimate"] += 1
    SECONDS["specs generated"] += time.perf_counter() - t0


def _one_error_line(cmd: str, err: str) -> None:
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith(("minisim", "usage:")) and "error" in ln]
    assert len(lines) == 1 or err.startswith("usage:"), err
    assert len(err) < 4000, err[:4000]


@fuzz_settings(EXAMPLES)
@given(hostile_specs())
def test_random_spec_files_through_the_cli_exit_2_with_one_message(data):
    """The CLI reads the file and refuses it (invalid, or over the 1 kB memory limit): status 2, nothing written."""
    with tempfile.TemporaryDirectory() as tmp:
        spec_file = Path(tmp) / "s.json"
        spec_file.write_text(json.dumps(data))
        err = _run_cli(["simulate", str(spec_file), "--out", str(Path(tmp) / "o.zarr"), "--memory-limit", "1kB",
                        "--no-progress"], expect=(2,))  # fmt: skip
        _one_error_line("simulate", err)
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["s.json"]
    COUNTS["spec files through `minisim simulate`"] += 1


def _run_cli(argv: list[str], expect: tuple[int, ...] = (0, 2)) -> str:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    assert code in expect, f"exit {code} for {argv}: {err.getvalue()[-3000:]}"
    return err.getvalue()


@st.composite
def small_hostile_specs(draw: Any) -> dict:
    data = draw(hostile_specs(edits=(0, 2)))
    acq = data.get("acquisition")
    if isinstance(acq, dict):  # keep whatever survives small enough to simulate in a second
        sensor = acq.get("image_sensor")
        if isinstance(sensor, dict):
            sensor.update(n_px_height=16, n_px_width=16)
        if isinstance(acq.get("duration_s"), int | float) and not isinstance(acq.get("duration_s"), bool):
            acq["duration_s"] = min(abs(acq["duration_s"]), 0.3) if math.isfinite(acq["duration_s"]) else 0.3
    return data


@fuzz_settings(RUNS)
@given(small_hostile_specs())
def test_random_small_specs_simulate_to_a_verified_store_or_exit_2(data):
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        spec_file, out = Path(tmp) / "s.json", Path(tmp) / "o.zarr"
        spec_file.write_text(json.dumps(data))
        argv = ["simulate", str(spec_file), "--out", str(out), "--no-progress", "--memory-limit", "300MB",
                "--scheduler", "synchronous"]  # fmt: skip
        err = _run_cli(argv)
        if out.exists():
            checked = store.verify(out)
            rec = ms.Recording.load(out)
            assert checked["files"] > 0 and rec.observed.shape[0] >= 1
            assert sorted(p.name for p in Path(tmp).iterdir()) == ["o.zarr", "s.json"]
            COUNTS["small specs simulated to a verified store"] += 1
        else:
            _one_error_line("simulate", err)
            assert sorted(p.name for p in Path(tmp).iterdir()) == ["s.json"]
            COUNTS["small specs refused with exit 2"] += 1
    SECONDS["small specs simulated to a verified store"] += time.perf_counter() - t0


# ---------------------------------------------------------------- (b) random command lines

#: Subcommands fuzzed (photometry has its own tests; its sessions are not tiny).
FUZZED = ("simulate", "spec", "info", "verify", "graph", "preview", "export")
PATHS = ["in.zarr", "spec.json", "file.txt", "dir", "bad.json", "missing.zarr", "new.zarr", "out.tif", "out.avi",
         "out.png", "in.zarr/observed/x.zarr", "in.zarr/observed", "", "-", ".", "new/deep/o.zarr"]  # fmt: skip
NUMBERS = ["0", "-1", "1", "2", "nan", "inf", "-inf", "1e308", "1e-9", "abc", "0.1", "99999999999999999999", "3"]
#: Values for options whose random choice could start real work that is not tiny (a 30 s, 608 px default spec
#: under an unlimited memory limit, a cluster): bounded pools instead.
BOUNDED = {
    "--duration": ["0", "-1", "nan", "inf", "0.2", "1e308", "abc"],
    "--memory-limit": ["1kB", "300MB", "abc", "0", "-1", "nan", "5 parsecs"],
    "--scheduler": ["synchronous", "threads", "bogus", "", "tcp:", "x:y"],
    "--workers": ["0", "-1", "1", "abc"],
    "--max-frames": ["0", "-1", "1", "5", "abc", "nan"],
    "--scope": ["miniscope_v4", "bogus", ""],
    "--region": ["ca1", "bogus", ""],
    "--preset": ["spec.json", "bad.json", "file.txt", "missing.json", "bogus", "default", ""],
    "--graphs-dir": ["graphs", "file.txt", "in.zarr", "dir"],
    "--stages": ["composite", "cells_only", "sensor", "bogus", "c", ""],
    "--codec": ["MJPG", "XVID", "", "??", "abcde"],
}


def _options() -> dict[str, list[tuple[str, int | str | None, Any]]]:
    sub = build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    out = {}
    for name in FUZZED:
        out[name] = [(a.option_strings[0] if a.option_strings else "", a.nargs, a.choices)
                     for a in sub.choices[name]._actions if a.dest != "help"]  # fmt: skip
    return out


OPTIONS = _options()


@st.composite
def command_lines(draw: Any) -> list[str]:
    cmd = draw(st.sampled_from([*FUZZED, "bogus"]))
    if cmd == "bogus":
        return draw(st.lists(st.sampled_from(["bogus", "--help-me", *PATHS]), max_size=3))
    argv = [cmd]
    spec_positional = cmd == "simulate"
    for flag, nargs, choices in draw(st.lists(st.sampled_from(OPTIONS[cmd]), max_size=6)):
        values = [*choices, "bogus"] if choices else BOUNDED.get(flag, PATHS + NUMBERS if flag else PATHS)
        if not flag:  # a positional
            if cmd == "simulate":
                continue
            argv.append(draw(st.sampled_from(values)))
            continue
        argv.append(flag)
        if nargs == 0:
            continue
        count = draw(st.integers(1, 2)) if nargs == "+" else 1
        argv += [draw(st.sampled_from(values)) for _ in range(count)]
    if spec_positional:  # never the 30 s, 608 px default spec
        argv.insert(1, draw(st.sampled_from(["spec.json", "bad.json", "file.txt", "missing.json", "dir"])))
    if draw(st.booleans()):
        argv = argv[:1] + draw(st.permutations(argv[1:]))
    return argv


@pytest.fixture(scope="module")
def cli_fixtures(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli-fuzz")
    spec = tiny_spec()
    (root / "spec.json").write_text(spec.to_json())
    ms.simulate(spec, chunk_frames=2).save(root / "in.zarr")
    (root / "bad.json").write_text("{not json")
    (root / "file.txt").write_text("mine")
    (root / "dir").mkdir()
    return root


def _under(name: str, output: str) -> bool:
    """Whether ``name`` is the output, inside it, or one of its siblings (``.partial``, ``.lock``, temporaries)."""
    return (
        name == output
        or name.startswith((output + "/", output + "."))
        or Path(name).name.startswith("." + Path(output).name)
    )


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@fuzz_settings(COMMANDS)
@given(command_lines())
def test_random_command_lines_exit_0_or_2_without_traceback(cli_fixtures, argv):
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for p in cli_fixtures.iterdir():
            (shutil.copytree if p.is_dir() else shutil.copy2)(p, work / p.name)
        before = _snapshot(work)
        cwd = os.getcwd()
        os.chdir(work)
        try:  # `graph --check` exits 1 for a stale diagram, by design
            err = _run_cli(argv, expect=(0, 1, 2) if argv[:1] == ["graph"] and "--check" in argv else (0, 2))
        finally:
            os.chdir(cwd)
        after = _snapshot(work)
        outs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--out", "--graphs-dir")]
        allowed = [o.rstrip("/") for o in outs if o] + (["graphs"] if "graph" in argv[:1] else [])
        if argv[:1] == ["preview"] and "--out" not in argv:  # its default output: <recording>.png beside it
            allowed += [str(Path(a).with_suffix(".png")) for a in argv[1:] if a.strip("./")]
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        stray = [k for k in changed if not any(_under(k, o) for o in allowed)]
        assert not stray, f"{argv} changed {stray} outside its output"
        if "Traceback" in err or "error" in err:
            _one_error_line(argv[0] if argv else "", err)
    COUNTS["command lines"] += 1
    SECONDS["command lines"] += time.perf_counter() - t0


# ---------------------------------------------------------------- (c) kill points


def test_random_kill_points_leave_absent_resumable_or_verified_outputs(tmp_path):
    t0 = time.perf_counter()
    per_job = [KILLS // JOBS + (i < KILLS % JOBS) for i in range(JOBS)]
    script = Path(__file__).with_name("fuzz_kill.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    procs = []
    for i, n in enumerate(per_job):
        work = tmp_path / f"job{i}"
        work.mkdir()
        seed = int(os.environ.get("MINISIM_FUZZ_SEED", str(int(time.time()))))
        procs.append(subprocess.Popen([sys.executable, str(script), str(work), str(n), str(seed + i)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))  # fmt: skip
    results, errors = [], []
    limit_s = 300 + 30 * max(per_job)  # a kill point takes about a second; a hung job must not hang the suite
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=limit_s)
        except BaseException:  # the limit, or pytest-timeout / Ctrl-C: leave no job running
            for p in procs:
                p.kill()
                p.communicate()
            raise
        assert proc.returncode == 0, err[-4000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
        errors.append(err)
    failures = [f for r in results for f in r["failures"]]
    for r in results:
        for op, n in r["tried"].items():
            COUNTS[f"kill points ({op})"] += n
            COUNTS[f"kill points ({op}) that landed mid-write"] += r["killed_mid_write"][op]
    COUNTS["kill points"] += sum(r["kill_points"] for r in results)
    SECONDS["kill points"] += time.perf_counter() - t0
    assert not failures, f"invariants broken after {len(failures)} kill(s): {failures}\n" + "".join(errors)[-6000:]
