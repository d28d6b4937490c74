"""Execute every code block of README.md and docs/**/*.md as part of the test suite (Sybil).

``python`` blocks run in one namespace per page, in order; ``bash`` blocks made
only of ``minisim ...`` lines (optionally ``> FILE``) call the command-line entry
point in-process, any other ``bash`` block runs in a shell with the virtual
environment's ``bin`` first on ``PATH``. Each page runs in its
own temporary directory, so examples may write files freely. Lines calling
``make`` are the set-up commands themselves (they create the environment this
suite runs in, and ``make test`` is this suite), so they are left out; any other
block that cannot run is preceded by ``<!-- skip: next -->``, and
tests/test_docs.py checks that no other kind of block slips through.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sybil import Sybil
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser

BIN = str(Path(sys.executable).parent)


def _minisim_commands(lines: list[str]) -> list[tuple[list[str], str | None]] | None:
    """``(argv, stdout file)`` per line when every line is a plain ``minisim ...`` command, else None."""
    out = []
    for line in lines:
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        tokens = shlex.split(line)
        target = None
        if len(tokens) > 2 and tokens[-2] == ">":
            tokens, target = tokens[:-2], tokens[-1]
        if tokens[0] != "minisim" or any(t in {"|", ">", "<", "&&", ";", ">>"} for t in tokens):
            return None
        out.append((tokens[1:], target))
    return out


def _run_bash(example: Any) -> None:
    lines = [ln for ln in example.parsed.splitlines() if not ln.lstrip().startswith("make ")]
    if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in lines):
        return
    commands = _minisim_commands(lines)
    if commands is not None:
        # Same entry point as the console script, run in-process (saves an interpreter start per line).
        from minisim.cli import main

        for argv, target in commands:
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                status = main(argv)
            if status != 0:
                raise AssertionError(f"`minisim {shlex.join(argv)}` exited {status}:\n{buf.getvalue()}")
            if target is not None:
                Path(target).write_text(buf.getvalue())
        return
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", ""), "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(lines)],
        cwd=example.namespace["_docs_tmp"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    if proc.returncode != 0:
        msg = f"bash block failed (exit {proc.returncode}):\n{example.parsed}\n{proc.stdout}\n{proc.stderr}"
        raise AssertionError(msg)


def _setup(namespace: dict[str, Any]) -> None:
    tmp = tempfile.TemporaryDirectory(prefix="minisim-docs-")
    namespace["_docs_tmp_obj"] = tmp
    namespace["_docs_tmp"] = tmp.name
    namespace["_docs_cwd"] = os.getcwd()
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.chdir(tmp.name)


def _teardown(namespace: dict[str, Any]) -> None:
    os.chdir(namespace["_docs_cwd"])
    namespace["_docs_tmp_obj"].cleanup()


pytest_collect_file = Sybil(
    parsers=[PythonCodeBlockParser(), CodeBlockParser("bash", _run_bash), SkipParser()],
    patterns=["README.md", "docs/*.md", "docs/**/*.md"],
    setup=_setup,
    teardown=_teardown,
).pytest()
