"""Our minian export through minian 2.0.2 itself, unpatched: 8-bit ``varr``, truth beside minian's results.

Run by ``make test-minian`` in ``.venv-minian`` (zarr-python 2.18, the xarray that
``minisim[minian]`` pins), after minian's own test suite.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from minian.preprocessing import denoise
from minian.utilities import open_minian, save_minian

import minisim as ms
from minisim.export_minian import MinianDtypeWarning
from minisim.testing import Estimate, score
from tests.conftest import small_spec


@pytest.fixture(scope="module")
def rec16() -> ms.Recording:
    data = small_spec(duration_s=0.6, n_px=32).model_dump()
    data["acquisition"]["image_sensor"]["bit_depth"] = 16
    spec = ms.Spec.model_validate(data)
    return ms.simulate(spec.model_copy(update={"steps": [*spec.steps[:-1], ms.Sensor(photons_per_unit=20_000)]}))


def test_minian_median_denoise_needs_the_uint8_export_of_a_16_bit_movie(tmp_path, rec16):
    with pytest.warns(MinianDtypeWarning, match="varr_dtype='uint8'"):
        rec16.to_minian(tmp_path / "raw", progress=False)
    raw = open_minian(str(tmp_path / "raw"))["varr"]
    assert raw.dtype == np.uint16
    with pytest.raises(Exception, match=r"(?i)depth|unsupported|medianBlur"):  # what the warning predicts
        denoise(raw, method="median", ksize=7).compute()
    with warnings.catch_warnings():
        warnings.simplefilter("error", MinianDtypeWarning)
        rec16.to_minian(tmp_path / "u8", varr_dtype="uint8", progress=False)
    varr = open_minian(str(tmp_path / "u8"))["varr"]
    out = denoise(varr, method="median", ksize=7).compute()
    assert out.dtype == np.uint8 and out.shape == rec16.observed.shape and int(out.max()) > 0


def test_truth_survives_minians_save_and_scores_minians_layout(tmp_path):
    rec = ms.testing.make_recording(n_cells=6, n_px=64, duration_s=1.0, seed=2, motion=True)
    d = rec.to_minian(tmp_path / "mn", progress=False)
    truth = open_minian(str(d))
    order = np.arange(truth.sizes["true_unit_id"])[::-1]
    for name in ("A", "C", "S"):
        arr = truth[f"true_{name}"].isel(true_unit_id=order).rename(true_unit_id="unit_id")
        save_minian(arr.assign_coords(unit_id=order + 10).rename(name), str(d), overwrite=True)
    save_minian(truth["true_motion"].rename("motion"), str(d), overwrite=True)
    ds = open_minian(str(d))
    np.testing.assert_array_equal(ds["true_C"].values, rec.ground_truth.C)  # untouched by save_minian
    C = ds["C"].sortby("unit_id")  # another unit order than A's
    report = score(Estimate(A=ds["A"], C=C, S=ds["S"], shifts=ds["motion"]), rec)
    assert report.recall == 1.0 and report.trace_corr > 0.999 and report.shift_rmse < 1e-6
