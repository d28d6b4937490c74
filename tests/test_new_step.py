"""Adding a physical step is its module plus its line in the registry: docs/howto/new_step.md, exercised.

The module is the first code block of the how-to, written into a copy of the
package beside its line in ``STEPS``; nothing else of the copy changes. A
subprocess then simulates with the new step and checks its physics, its
chunking invariance, its validation, the JSON schema, ``until=``, the stage
and the dataflow graph.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import minisim

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "howto" / "new_step.md"

CHECK = r"""
import json, sys
import numpy as np
import minisim as ms
from minisim import graph
from minisim.steps.intensity_drift import IntensityDrift
from minisim.steps.registry import CANONICAL_ORDER
from tests.conftest import small_spec

assert ms.__file__.startswith(sys.argv[1]), ms.__file__  # the copy, not the checkout
order = list(CANONICAL_ORDER)
assert order.index("intensity_drift") == order.index("illumination_profile") + 1
base = small_spec(duration_s=1.0, n_px=24)
spec = ms.Spec(acquisition=base.acquisition, seed=3, steps=[IntensityDrift(drift_per_min=-0.5), *base.steps])
assert [s.kind for s in spec.steps][-2:] == ["intensity_drift", "sensor"]  # sorted into canonical order
assert ms.Spec.model_validate_json(spec.model_dump_json()) == spec
assert "intensity_drift" in json.dumps(ms.Spec.model_json_schema())
rec = ms.simulate(spec, chunk_frames=4)
before = rec.stage("cells_only").values.astype(np.float64)
after = rec.stage("intensity_drift").values.astype(np.float64)
t = np.arange(before.shape[0])
want = 1 - 0.5 * t / (60 * spec.acquisition.fps)
ratio = after.sum(axis=(1, 2)) / before.sum(axis=(1, 2))
np.testing.assert_allclose(ratio, want, rtol=1e-5)  # the planted drift, recovered
again = ms.simulate(spec, chunk_frames=7)
assert np.array_equal(again.observed.values, rec.observed.values)  # chunking never changes a byte
assert ms.simulate(spec, until="intensity_drift").observed.shape == after.shape
assert "s_intensity_drift" in graph.mermaid(spec)
try:
    ms.Spec(acquisition=ms.Acquisition(duration_s=180.0), seed=0, steps=[IntensityDrift(drift_per_min=-0.9)])
except ValueError as err:
    assert "drift_per_min = -0.9" in str(err) and "fix:" in str(err), err
else:
    raise AssertionError("a drift that switches the light off was accepted")
print("new step OK")
"""


def _module_code() -> str:
    text = DOC.read_text()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


def test_a_new_step_is_its_module_plus_one_registry_line(tmp_path):
    pkg = tmp_path / "minisim"
    shutil.copytree(Path(minisim.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "steps" / "intensity_drift.py").write_text(_module_code())
    registry = pkg / "steps" / "registry.py"
    text = registry.read_text()
    anchor_import = "from minisim.steps.illumination_profile import IlluminationProfile\n"
    anchor_line = "    IlluminationProfile,\n"
    assert text.count(anchor_import) == 1 and text.count(anchor_line) == 1
    text = text.replace(anchor_import, anchor_import + "from minisim.steps.intensity_drift import IntensityDrift\n")
    registry.write_text(text.replace(anchor_line, anchor_line + "    IntensityDrift,\n"))
    env_path = f"{tmp_path}{':'}{ROOT}"
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(pkg)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0 and "new step OK" in done.stdout, done.stderr[-3000:]
