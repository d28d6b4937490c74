"""Export format ``zarr``: the self-describing minisim store (:func:`minisim.store.save`)."""

from __future__ import annotations

from minisim.exporters._options import function_exporter
from minisim.store import save

EXPORTER = function_exporter(
    "zarr",
    "one self-describing zarr store (format 2): movie, ground truth, spec; minisim.load reads it",
    "directory",
    save,
)
