"""Golden master: the bytes of a few small recordings, pinned per ``ENGINE_VERSION``.

Any change that alters a single byte of the observed movie or of a ground-truth
array must bump :data:`minisim.spec.ENGINE_VERSION` (so caches and stores of the
old engine are refused rather than silently mixed) and regenerate the digests:

    MINISIM_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_reproducibility.py

(``make golden`` does the same). The digests cover raw array bytes, so they do not
depend on zarr's on-disk encoding or on how the recording was chunked. They are
pinned for both sensor kernels (``MINISIM_SENSOR_KERNEL``: the compiled one and
the numpy fallback draw from different random streams, so their counts differ).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

import minisim as ms
from minisim.kernels import KERNELS, SENSOR_KERNEL_ENV
from minisim.spec import ENGINE_VERSION
from tests.conftest import small_spec

GOLDEN = Path(__file__).with_name("golden_digests.json")
UPDATE = os.environ.get("MINISIM_UPDATE_GOLDEN") == "1"


def full_chain_spec() -> ms.Spec:
    """Every physical step, at a size that simulates in about a second."""
    return ms.Spec(
        acquisition=ms.Acquisition(
            duration_s=1.0,
            image_sensor=ms.ImageSensor(n_px_height=48, n_px_width=40, pixel_pitch_um=8.0),
            optics=ms.Optics(field_curvature_radius_um=600.0),
        ),
        seed=11,
        steps=[
            ms.PlaceNeurons(density_per_mm3=60_000, soma_radius_um=5.0, depth_range_um=(40.0, 70.0)),
            ms.CellActivity(p_quiescent_to_active=0.1),
            ms.Bleaching(),
            ms.CellOptics(),
            ms.Composite(),
            ms.Neuropil(),
            ms.Vasculature(),
            ms.BrainMotion(),
            ms.IlluminationProfile(),
            ms.Vignette(),
            ms.Leakage(),
            ms.Sensor(),
        ],
    )


SPECS = {"small": lambda: small_spec(duration_s=1.0, n_px=40, seed=4), "full_chain": full_chain_spec}


def digest(value: object) -> str:
    arr = np.ascontiguousarray(np.asarray(value))
    h = hashlib.sha256(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(arr.tobytes())
    return h.hexdigest()


def recording_digests(rec: ms.Recording) -> dict[str, str]:
    """SHA-256 of the observed movie and of every ground-truth array that is set."""
    gt = rec.ground_truth
    out = {"observed": digest(rec.observed.values)}
    for name in sorted(f.name for f in gt.__dataclass_fields__.values()):
        value = getattr(gt, name)
        if value is None:
            continue
        if isinstance(value, ms.recording.Footprints):
            for part, arr in sorted(value.to_arrays().items()):
                out[f"{name}.{part}"] = digest(arr)
        else:
            out[name] = digest(value)
    return out


def kernel_digests(kernel: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, str]]:
    """The digests of every golden spec, simulated with the sensor kernel ``kernel``."""
    with monkeypatch.context() as m:
        m.setenv(SENSOR_KERNEL_ENV, kernel)
        return {name: recording_digests(ms.simulate(make())) for name, make in SPECS.items()}


def test_recording_bytes_match_the_golden_master_of_this_engine_version(monkeypatch):
    current = {kernel: kernel_digests(kernel, monkeypatch) for kernel in KERNELS}
    if UPDATE:
        GOLDEN.write_text(json.dumps({"engine_version": ENGINE_VERSION, "digests": current}, indent=1) + "\n")
        pytest.skip(f"wrote {GOLDEN.name} for engine {ENGINE_VERSION}")
    pinned = json.loads(GOLDEN.read_text())
    regenerate = "regenerate with `make golden` (MINISIM_UPDATE_GOLDEN=1 pytest tests/test_reproducibility.py)"
    if pinned["engine_version"] != ENGINE_VERSION:
        pytest.fail(
            f"ENGINE_VERSION is {ENGINE_VERSION} but {GOLDEN.name} pins {pinned['engine_version']}; "
            f"if the bump is intended, {regenerate} and commit the file with the bump"
        )
    changed = [
        f"{kernel}:{spec}:{array}"
        for kernel, specs in current.items()
        for spec, arrays in specs.items()
        for array in sorted(set(arrays) | set(pinned["digests"].get(kernel, {}).get(spec, {})))
        if arrays.get(array) != pinned["digests"].get(kernel, {}).get(spec, {}).get(array)
    ]
    assert not changed, (
        f"the bytes of {', '.join(changed)} changed under the same ENGINE_VERSION {ENGINE_VERSION}. "
        f"If the change is intended, bump ENGINE_VERSION in minisim/spec.py (caches and stores of the old "
        f"engine are then refused, not mixed) and {regenerate}; otherwise the change broke reproducibility."
    )


def test_the_kernels_differ_only_in_the_sensor_draws(monkeypatch):
    """Everything upstream of the sensor is the same bytes in both kernels; the counts are not."""
    numba, numpy = (kernel_digests(kernel, monkeypatch)["full_chain"] for kernel in KERNELS)
    assert numba["observed"] != numpy["observed"]
    assert {k: v for k, v in numba.items() if k != "observed"} == {k: v for k, v in numpy.items() if k != "observed"}


@pytest.mark.parametrize("kernel", KERNELS)
def test_digests_do_not_depend_on_chunking(kernel, monkeypatch):
    monkeypatch.setenv(SENSOR_KERNEL_ENV, kernel)
    spec = full_chain_spec()
    one = recording_digests(ms.simulate(spec))
    assert recording_digests(ms.simulate(spec, chunk_frames=3)) == one


def test_a_changed_seed_changes_the_digest():
    """The digest really sees the bytes: a different seed gives a different movie digest."""
    a = recording_digests(ms.simulate(small_spec(duration_s=1.0, n_px=40, seed=4)))
    b = recording_digests(ms.simulate(small_spec(duration_s=1.0, n_px=40, seed=5)))
    assert a["observed"] != b["observed"]
