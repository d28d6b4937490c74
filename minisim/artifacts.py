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
