"""Labelled outputs carry ``units`` and ``long_name`` attributes (minisim.artifacts.DESCRIPTIONS)."""

from __future__ import annotations

import minisim as ms
from minisim.artifacts import DESCRIPTIONS
from tests.conftest import small_spec


def test_movie_and_truth_carry_units_and_long_name():
    spec = small_spec(duration_s=0.3, n_px=24)
    rec = ms.simulate(spec)
    assert rec.observed.attrs == {"long_name": "observed movie (sensor output)", "units": "ADU"}
    assert rec.stage("cells_only").attrs == {"long_name": "movie after cells_only", "units": "fluorescence_unit"}
    ds = rec.ground_truth.to_dataset()
    for name, var in ds.data_vars.items():
        assert (var.attrs["long_name"], var.attrs["units"]) == DESCRIPTIONS[name], name
    assert ds["centers_um"].attrs["units"] == "um" and ds["S"].attrs["units"] == "count"
    no_sensor = ms.Spec(acquisition=spec.acquisition, seed=0, steps=[s for s in spec.steps if s.kind != "sensor"])
    obs = ms.simulate(no_sensor).observed
    assert obs.attrs["units"] == "fluorescence_unit" and "no sensor" in obs.attrs["long_name"]
