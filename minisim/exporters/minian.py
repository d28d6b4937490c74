"""Export format ``minian``: the zarr layout minian's ``open_minian`` reads (:func:`minisim.export_minian.to_minian`).

The options are :func:`write_minian`'s keyword-only parameters, read from its
signature: ``to_minian``'s own, except that its ``varr_range`` pair is given
as ``vmin`` / ``vmax``, the names the video format uses for the same mapping
of counts to 8 bits, so both formats share the ``--vmin`` / ``--vmax`` flags.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from minisim.export_minian import to_minian
from minisim.exporters._options import function_exporter

if TYPE_CHECKING:
    from minisim.recording import Recording


def write_minian(
    rec: Recording,
    directory: str | os.PathLike[str],
    *,
    chunk_frames: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    varr_dtype: str | None = None,
    vmin: float = 0.0,
    vmax: float | None = None,
) -> Path:
    """:func:`~minisim.export_minian.to_minian` with ``varr_range=(vmin, vmax)``.

    Parameters
    ----------
    varr_dtype : str, optional
        ``"uint8"`` writes varr as 8-bit (minian's default median denoise needs it), counts rescaled linearly from
        [vmin, vmax] to 0..255, the scale kept in varr's attributes.
    vmin : float
        With ``varr_dtype="uint8"``: the count mapped to 0.
    vmax : float, optional
        With ``varr_dtype="uint8"``: the count mapped to 255 (default: the movie's maximum).
    """
    return to_minian(
        rec,
        directory,
        chunk_frames=chunk_frames,
        overwrite=overwrite,
        progress=progress,
        varr_dtype=varr_dtype,
        varr_range=(vmin, vmax),
    )


EXPORTER = function_exporter(
    "minian",
    "a directory of zarr groups varr, true_A, true_C, true_S, true_motion that minian's open_minian reads",
    "directory",
    write_minian,
    help={
        "chunk_frames": "Frames per chunk of varr and of the traces (default: the movie's own chunks)",
        "overwrite": "Replace groups of the same names already in the directory",
        "progress": "Show a progress bar",
    },
)
