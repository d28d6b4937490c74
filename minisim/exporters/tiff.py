"""Export format ``tiff``: multi-page TIFF, counts unchanged (:func:`minisim.export.write_tiff`)."""

from __future__ import annotations

from minisim.export import write_tiff
from minisim.exporters._options import function_exporter

EXPORTER = function_exporter("tiff", "multi-page TIFF, one page per frame, counts unchanged", "file", write_tiff)
