"""The artifacts steps pass to each other, and which ground-truth fields they become.

Kept below the recording, the store and the exporters, so each reads these
lists from here instead of from :mod:`minisim.recording`.
"""

from __future__ import annotations

#: Artifacts with one row per placed cell; subset together when cells are dropped.
PER_UNIT = (
    "C",
    "S",
    "centers_um",
    "amplitude_per_cell",
    "in_focus",
    "observed_sigma_px",
    "observed_gain",
    "optical_brightness",
    "population_id",
    "bleaching",
    "vessel_overlap_fraction",
)

#: Ground-truth fields held lazily until read (see :class:`minisim.recording.GroundTruth`).
LAZY_FIELDS = ("C", "S", "bleaching")

#: ``(long_name, units)`` of every labelled output: the movie and the ground-truth variables of
#: ``GroundTruth.to_dataset``. Movie stages before the sensor are in fluorescence units, each worth
#: the sensor's ``photons_per_unit`` photons at the sensor; the sensor's output is in ADU.
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "observed": ("observed movie (sensor output)", "ADU"),
    "stage": ("movie after a step, before the sensor", "fluorescence_unit"),
    "A": ("footprint as imaged (optics applied), weight per pixel", "1"),
    "A_planted": ("planted footprint, weight per pixel", "1"),
    "C": ("calcium trace, unbleached", "fluorescence_unit"),
    "S": ("spike count per frame", "count"),
    "centers_um": ("cell center (z depth, y, x from the optical axis)", "um"),
    "detectable": ("cell detectable (peak SNR above the threshold)", "1"),
    "in_focus": ("cell within the depth of field", "1"),
    "shifts": ("applied brain-motion displacement (dy, dx), positive down/right", "px"),
}


def attrs_of(name: str) -> dict[str, str]:
    """The ``long_name`` and ``units`` attributes of a labelled output (empty if not described)."""
    if name not in DESCRIPTIONS:
        return {}
    long_name, units = DESCRIPTIONS[name]
    return {"long_name": long_name, "units": units}
