"""Export format ``minian``: the zarr layout minian's ``open_minian`` reads (:func:`minisim.export_minian.to_minian`).

The options are ``to_minian``'s keyword-only parameters, read from its
signature, so an option added there is available here and on the command
line with no other edit.
"""

from __future__ import annotations

from minisim.export_minian import to_minian
from minisim.exporters._options import function_exporter

EXPORTER = function_exporter(
    "minian",
    "a directory of zarr groups varr, true_A, true_C, true_S, true_motion that minian's open_minian reads",
    "directory",
    to_minian,
    help={
        "chunk_frames": "Frames per chunk of varr and of the traces (default: the movie's own chunks)",
        "overwrite": "Replace groups of the same names already in the directory",
        "progress": "Show a progress bar",
    },
)
