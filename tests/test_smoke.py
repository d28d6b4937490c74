import numpy as np

import minisim as ms
from tests.conftest import small_spec


def test_simulate_small_recording_has_cells_and_counts():
    rec = ms.simulate(small_spec())
    movie = rec.observed.values
    assert movie.dtype == np.uint8
    assert movie.shape == (40, 64, 64)
    assert rec.ground_truth.n_units > 0
    assert movie.max() > movie.min()
