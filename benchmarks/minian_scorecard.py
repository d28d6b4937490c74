"""minian's ground-truth notebook on this minisim and on minisim 1.0.3, scored side by side.

minian 2.0.2 ships ``pipeline_groundtruth.ipynb``: it simulates a recording with
minisim, runs minian's whole pipeline on it (glow and background removal, motion
correction, seeds, two CNMF passes) and scores the result against the ground
truth with ``minisim.testing.score``. This script executes that notebook, unmodified
but for one appended cell that prints the final ``Report`` as JSON, twice in one run:

* in ``.venv-minian`` (``make test-minian`` builds it: this project installed as
  ``minisim[minian]`` beside ``minian[test]==2.0.2``), and
* in ``.venv-minian10`` (built here on first use: ``minisim==1.0.3`` beside the
  same ``minian[test]==2.0.2``, with ``xarray<2026.4`` so the zarr-python 2.18 that
  minian's rechunker pins works; the notebook's video cell calls ``ffmpeg``),

then prints the two scorecards (recall, precision, F1, footprint IoU, trace r,
activity r, motion RMSE) and each notebook's wall time side by side. The
notebooks run one after the other, so they do not compete for the cores.

Usage::

    make scorecard            # or: python benchmarks/minian_scorecard.py [--dataset quick]

Nothing here asserts a figure; benchmarks/README.md records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MINIAN_VERSION = "2.0.2"
NOTEBOOK = Path("minian/notebooks/pipeline_groundtruth/pipeline_groundtruth.ipynb")
MARKER = "MINISIM_SCORECARD_JSON "
#: The cell appended to the notebook: the final Report's figures as one JSON line.
SCORE_CELL = f"""
import json as _json, minisim as _ms
_fields = ("n_true", "n_est", "n_matched", "recall", "precision", "f1", "mean_overlap",
           "trace_corr", "activity_corr", "shift_rmse")
_out = {{k: getattr(report, k, None) for k in _fields}}
_out = {{k: (None if v is None else float(v)) for k, v in _out.items()}}
from importlib.metadata import version as _v
_out["minisim"] = getattr(_ms, "__version__", None) or _v("minisim")
_out["minisim_file"] = _ms.__file__
print({MARKER!r} + _json.dumps(_out))
"""
ROWS = (
    ("recall", "recall"),
    ("precision", "precision"),
    ("F1", "f1"),
    ("footprint IoU", "mean_overlap"),
    ("trace r", "trace_corr"),
    ("activity r", "activity_corr"),
    ("motion RMSE (px)", "shift_rmse"),
    ("units found / detectable cells", None),
    ("notebook wall time (s)", "wall_s"),
)


def ensure_ref_venv(venv: Path, version: str) -> None:
    """Create ``venv`` with minisim ``version`` beside minian's pins, unless it is already there."""
    stamp = venv / ".installed"
    if stamp.exists():
        return
    print(f"building {venv} (minisim=={version}, minian[test]=={MINIAN_VERSION}, xarray<2026.4)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    reqs = [f"minisim=={version}", f"minian[test]=={MINIAN_VERSION}", "xarray<2026.4", "nbconvert"]
    subprocess.run([*pip, *reqs], check=True)
    stamp.touch()


def prepared_notebook(src: Path, dest: Path, dataset: str) -> Path:
    """Copy the notebook to ``dest`` with the scorecard cell appended (and ``DATASET`` set)."""
    nb = json.loads(src.read_text())
    if dataset != "quick":
        for cell in nb["cells"]:
            text = "".join(cell["source"])
            if 'DATASET = "quick"' in text:
                cell["source"] = text.replace('DATASET = "quick"', f"DATASET = {dataset!r}")
    nb["cells"].append(
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": SCORE_CELL}
    )
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "pipeline_groundtruth.ipynb"
    path.write_text(json.dumps(nb))
    return path


def execute(venv: Path, notebook: Path, log: Path, pythonpath: str | None = None) -> dict:
    """Execute ``notebook`` with ``venv``'s jupyter in its own directory; the scorecard and wall time."""
    env = {**os.environ, "MINIAN_INTERACTIVE": "False", "MINIAN_NWORKERS": "1"}
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cmd = [str(venv / "bin" / "python"), "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
           "--ExecutePreprocessor.timeout=1800", "--output", "executed", notebook.name]  # fmt: skip
    t0 = time.perf_counter()
    with log.open("w") as fh:
        done = subprocess.run(cmd, cwd=notebook.parent, env=env, stdout=fh, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{notebook} failed in {venv} (exit {done.returncode}); see {log}")
    executed = json.loads((notebook.parent / "executed.ipynb").read_text())
    found: dict | None = None
    summary = ""
    for cell in executed["cells"]:
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", ""))
            if "recall" in text and "precision" in text and MARKER not in text:
                summary = text
            for line in text.splitlines():
                if line.startswith(MARKER):
                    found = json.loads(line[len(MARKER) :])
    if found is None:
        raise SystemExit(f"no scorecard line in {notebook.parent / 'executed.ipynb'}")
    found["wall_s"] = wall
    found["summary"] = summary.strip()
    return found


def table(results: dict[str, dict]) -> str:
    """The scorecards as a markdown table, one column per environment."""
    labels = list(results)
    lines = ["| metric | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for name, key in ROWS:
        cells = []
        for label in labels:
            r = results[label]
            if key is None:
                cells.append(f"{r['n_matched']:.0f} of {r['n_est']:.0f} / {r['n_true']:.0f}")
            elif r.get(key) is None:
                cells.append("-")
            elif key == "wall_s":
                cells.append(f"{r[key]:.0f}")
            else:
                cells.append(f"{r[key]:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="quick", help="the notebook's DATASET (quick, ca1, cortex_l23)")
    p.add_argument("--ours", type=Path, default=ROOT / ".venv-minian", help="venv with this minisim (make test-minian)")
    p.add_argument("--ref", type=Path, default=ROOT / ".venv-minian10", help="venv with the reference minisim")
    p.add_argument("--ref-version", default="1.0.3")
    p.add_argument("--minian-src", type=Path, default=ROOT / ".minian-src" / f"minian-{MINIAN_VERSION}")
    p.add_argument("--workdir", type=Path, default=ROOT / ".cache" / "minian-scorecard")
    p.add_argument("--json", type=Path, help="also write both scorecards here")
    p.add_argument(
        "--ours-pythonpath",
        help="PYTHONPATH for the run of this minisim only (e.g. a copy of the package, so editing the tree "
        "during the run cannot change what the notebook imports)",
    )
    args = p.parse_args(argv)

    src = args.minian_src / NOTEBOOK
    if not src.exists():
        raise SystemExit(f"{src} not found: run `make .minian-src/minian-{MINIAN_VERSION}/pyproject.toml` first")
    if not (args.ours / "bin" / "python").exists():
        raise SystemExit(f"{args.ours} not found: run `make test-minian` (or make .venv-minian/.installed) first")
    ensure_ref_venv(args.ref, args.ref_version)
    if shutil.which("ffmpeg") is None:
        raise SystemExit("the notebook's video cell needs the ffmpeg program: apt-get install ffmpeg")

    results: dict[str, dict] = {}
    runs = (
        (f"this minisim ({_version(args.ours, args.ours_pythonpath)})", args.ours, args.ours_pythonpath),
        (f"minisim {args.ref_version}", args.ref, None),
    )
    for label, venv, pythonpath in runs:
        work = args.workdir / venv.name
        shutil.rmtree(work, ignore_errors=True)
        nb = prepared_notebook(src, work, args.dataset)
        print(f"executing {NOTEBOOK.name} ({args.dataset}) with {label} in {work} ...", flush=True)
        results[label] = execute(venv, nb, work / "nbconvert.log", pythonpath)
        r = results[label]
        print(f"  done in {r['wall_s']:.0f} s (minisim {r['minisim']} from {r['minisim_file']})", flush=True)
        print(r["summary"], flush=True)
    print(f"\nminian {MINIAN_VERSION} pipeline_groundtruth.ipynb, dataset {args.dataset!r}, one run:\n")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _version(venv: Path, pythonpath: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    code = (
        "import importlib.metadata as m, minisim; print(getattr(minisim, '__version__', None) or m.version('minisim'))"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True, env=env, cwd="/"
    )
    return out.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
