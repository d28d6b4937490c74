"""Process-level performance settings (not timings: those live in benchmarks/)."""

from __future__ import annotations

import subprocess
import sys

import pytest

ALLOCATE = """
import resource, sys
import numpy as np
from minisim.perf import reuse_freed_memory
if sys.argv[1] == "tuned":
    assert reuse_freed_memory()
def chunk():  # like a chain of movie ops on one chunk: a few 25 MB blocks alive at once, then freed
    blocks = [np.ones(25 * 2**20 // 8) for _ in range(4)]
    del blocks
chunk()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    chunk()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", ALLOCATE, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator tuning is Linux-only")
def test_reuse_freed_memory_stops_refaulting_frame_blocks():
    """By default glibc trims the freed blocks and faults them in again for the next chunk; tuned, it reuses them."""
    default, tuned = _faults("default"), _faults("tuned")
    assert default > 10 * 1000  # a 25 MB block is 6400 pages
    assert tuned < 0.05 * default


def test_reuse_freed_memory_is_harmless_to_call_twice():
    from minisim.perf import reuse_freed_memory

    first = reuse_freed_memory()
    assert reuse_freed_memory() == first


IMPORTS = """
import sys
import minisim
first = sorted(m for m in ("dask", "xarray", "scipy", "pydantic", "numba", "matplotlib", "distributed", "tifffile")
               if m in sys.modules)
names = [minisim.simulate, minisim.Spec, minisim.Recording, minisim.Sensor, minisim.build_spec]
later = sorted(m for m in ("numba", "matplotlib", "distributed", "tifffile") if m in sys.modules)
print(first, later)
"""


def test_import_minisim_loads_no_heavy_dependency():
    """``import minisim`` loads names on first use; building specs and recordings never needs the plotting,
    cluster, TIFF or compiler packages (they load when a plot, a cluster, a TIFF export or the sensor needs them).
    """
    out = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []"


def test_lazy_names_cover_all_and_resolve():
    import minisim

    assert set(minisim.__all__) <= set(minisim._LAZY)
    for name in minisim.__all__:
        assert getattr(minisim, name) is not None
    assert minisim.steps.sensor.Sensor is minisim.Sensor  # submodules resolve too
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        minisim.nonexistent  # noqa: B018


SHADOWED = """
import inspect
import minisim.sweep
import minisim
from minisim.sweep import run_sweep
print(inspect.isfunction(minisim.sweep), minisim.sweep.__module__, callable(run_sweep))
"""


def test_a_function_stays_bound_when_its_namesake_submodule_is_imported_first():
    """``import minisim.sweep`` binds ``minisim.sweep`` to the module; the lazy package rebinds the function,
    as 1.0's eager ``from minisim.sweep import sweep`` did (it broke ``ms.sweep(...)`` depending on import order).
    """
    out = subprocess.run([sys.executable, "-c", SHADOWED], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["True", "minisim.sweep", "True"]
