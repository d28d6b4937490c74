"""The optical-centre <-> pixel conversion, written once in minisim.context and used everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import minisim as ms
from minisim.context import Geometry, index_to_um, optical_center_px, um_to_index
from minisim.detection import sample_field_at
from minisim.steps.fields import pixel_coords_um
from tests.conftest import small_spec


def test_optical_axis_is_the_image_middle_and_round_trips():
    assert optical_center_px((5, 8)) == (2.0, 3.5)
    row, col = um_to_index(np.array([0.0, -4.0]), np.array([0.0, 6.0]), (5, 8), 2.0)
    np.testing.assert_array_equal(row, [2.0, 0.0])
    np.testing.assert_array_equal(col, [3.5, 6.5])
    y, x = index_to_um(row, col, (5, 8), 2.0)
    np.testing.assert_array_equal(y, [0.0, -4.0])
    np.testing.assert_array_equal(x, [0.0, 6.0])
    geo = Geometry((4, 6), 3, 2.0)  # canvas 10 x 12
    np.testing.assert_array_equal(geo.canvas_index(0.0, 0.0), (4.5, 5.5))


def test_every_user_agrees_with_the_helper():
    spec = small_spec(duration_s=0.2, n_px=24)
    acq = spec.acquisition
    y_um, x_um = np.array([-30.0, 1.3, 17.0]), np.array([5.0, -12.2, 0.0])
    np.testing.assert_array_equal(
        acq.um_to_index(y_um, x_um), um_to_index(y_um, x_um, acq.fov_shape, acq.pixel_size_um)
    )
    field = np.arange(24 * 24, dtype=float).reshape(24, 24)
    r, c = um_to_index(y_um, x_um, (24, 24), acq.pixel_size_um)
    want = field[np.clip(np.rint(r), 0, 23).astype(int), np.clip(np.rint(c), 0, 23).astype(int)]
    np.testing.assert_array_equal(sample_field_at(field, y_um, x_um, acq.pixel_size_um), want)
    yy, xx = pixel_coords_um((24, 24), acq.pixel_size_um)
    np.testing.assert_array_equal(um_to_index(yy[:, 0], xx[0], (24, 24), acq.pixel_size_um)[0], np.arange(24))
    # a planted cell's footprint is centred where the helper puts its centre
    rec = ms.simulate(spec, until="place_neurons")
    gt = rec.ground_truth
    i = int(np.argmax([p.sum() for p in gt.planted.patches]))
    dense = gt.planted.to_dense()[i]
    rows, cols = np.nonzero(dense)
    row, col = um_to_index(gt.centers_um[i, 1], gt.centers_um[i, 2], dense.shape, acq.pixel_size_um)
    assert abs(np.average(rows, weights=dense[rows, cols]) - row) < 1.5
    assert abs(np.average(cols, weights=dense[rows, cols]) - col) < 1.5


def test_the_conversion_is_written_once():
    root = Path(ms.__file__).parent
    pattern = re.compile(r"\((?:h|w|height|width) - 1\) / 2")
    found = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if "_compat" not in p.parts and p.name != "context.py" and pattern.search(p.read_text())
    ]
    assert not found, f"optical-centre arithmetic outside minisim.context: {found}; use minisim.context.um_to_index"
