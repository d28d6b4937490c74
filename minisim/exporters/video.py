"""Export format ``video``: an 8-bit grayscale AVI through OpenCV (:func:`minisim.export.write_video`)."""

from __future__ import annotations

from minisim.export import write_video
from minisim.exporters._options import function_exporter

EXPORTER = function_exporter("video", "8-bit grayscale AVI; lossless Y800 by default", "file", write_video)
