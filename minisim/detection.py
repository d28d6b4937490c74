"""Whether a planted cell is, in principle, detectable in the observed movie.

A cell counts as detectable when its brightest calcium transient stands out
of the shot and read noise of its own baseline by ``DETECT_SNR_THRESHOLD``
standard deviations, at the cell's center pixel.

The same test drives the "auto" focus scan of
:class:`~minisim.steps.optics.CellOptics` and the ground-truth
``detectable`` flag, so the auto-focused plane is the one that maximizes the
flagged count (vessel shadows aside, which the scan ignores). The rule is a
point-source peak test: it ignores soma size, bleaching, neuropil and
leakage backgrounds, and ADC clipping, and uses the cell's rest position
(motion is ignored). The threshold of 3 is minisim 1.0's provisional value.
"""

from __future__ import annotations

import numpy as np

from minisim.context import um_to_index

#: Peak transient SNR above which a cell counts as detectable (minisim 1.0 value).
DETECT_SNR_THRESHOLD = 3.0


def detection_snr(
    peak_dF: np.ndarray | float, baseline: np.ndarray | float, gain: np.ndarray | float, read_e: float
) -> np.ndarray:
    """Peak-transient SNR in the electron domain.

    ``snr = peak_dF * gain / sqrt(max(baseline, 0) * gain + read_e**2)``, with
    ``gain`` the photo-electrons per unit of trace at the cell center. Returns
    ``inf`` for a signal over a zero noise floor and 0 for no signal.
    """
    signal = np.asarray(peak_dF, dtype=float) * np.asarray(gain, dtype=float)
    noise = np.sqrt(np.maximum(np.asarray(baseline, dtype=float), 0) * np.asarray(gain, dtype=float) + read_e**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(noise > 0, signal / np.where(noise > 0, noise, 1), np.where(signal > 0, np.inf, 0.0))
    return np.where(signal > 0, snr, 0.0)


def electrons_per_unit(
    brightness: np.ndarray | float,
    field_at_cell: np.ndarray | float,
    photons_per_unit: float,
    quantum_efficiency: float,
) -> np.ndarray:
    """Photo-electrons per unit of trace at a cell's center pixel.

    The one cell-gain model shared by the "auto" focus scan and the
    ground-truth ``snr``: ``brightness`` is the cell's point-source peak
    brightness from :meth:`~minisim.acquisition.Acquisition.cell_optics`
    (defocus peak drop, attenuation at the cell's true depth, collection
    efficiency), ``field_at_cell`` the product of the multiplicative fields
    at its center (see :func:`sample_field_at`).
    """
    return (
        np.asarray(brightness, dtype=float)
        * np.asarray(field_at_cell, dtype=float)
        * float(photons_per_unit)
        * float(quantum_efficiency)
    )


def photon_field(*fields: np.ndarray | None) -> np.ndarray | None:
    """Product of the multiplicative sensor-frame fields present (e.g. illumination times vignette).

    ``None`` entries (effects absent) are skipped; returns ``None`` when all are.
    """
    present = [np.asarray(f, dtype=np.float64) for f in fields if f is not None]
    if not present:
        return None
    out = present[0].copy()
    for f in present[1:]:
        out *= f
    return out


def sample_field_at(field: np.ndarray | None, y_um: np.ndarray, x_um: np.ndarray, pixel_size_um: float) -> np.ndarray:
    """Nearest-pixel value of a sensor-frame ``field`` at optical-center µm positions.

    Positions outside the field are clamped to its edge; a ``None`` field
    (the effect is absent) is 1 everywhere.
    """
    y = np.asarray(y_um, dtype=float)
    x = np.asarray(x_um, dtype=float)
    if field is None:
        return np.ones(np.broadcast(y, x).shape)
    h, w = field.shape
    row_f, col_f = um_to_index(y, x, (h, w), pixel_size_um)
    row = np.clip(np.rint(row_f), 0, h - 1).astype(int)
    col = np.clip(np.rint(col_f), 0, w - 1).astype(int)
    return np.asarray(field)[row, col]
