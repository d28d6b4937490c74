"""The few zarr calls minisim makes, spelled for zarr-python 2.18 and 3 alike.

minian 2.x environments resolve to zarr-python 2.18 (rechunker pins
``zarr<3``) with an xarray older than 2026.04; current environments have
zarr-python 3. minisim writes zarr *format 2* in both, which each reads.
Only the API differs:

=====================  ===============================  ==============================
                       zarr-python 2.18                 zarr-python 3
=====================  ===============================  ==============================
format                 always 2 (no keyword)            ``zarr_format=2``
new array in a group   ``create_dataset(compressor=)``  ``create_array(compressors=)``
write all-fill chunks  ``write_empty_chunks=True``      ``config={"write_empty_chunks"}``
=====================  ===============================  ==============================

xarray's ``to_zarr(zarr_format=2)`` is accepted by every xarray minisim
supports (2024.10 and later), with either zarr.
"""

from __future__ import annotations

from typing import Any, Literal

import zarr

#: True under zarr-python 3 (or later).
ZARR3 = int(zarr.__version__.split(".")[0]) >= 3
Mode = Literal["r", "r+", "a", "w", "w-"]
#: Keywords selecting format 2 where zarr-python accepts a choice.
_FORMAT2: dict[str, Any] = {"zarr_format": 2} if ZARR3 else {}


def open_group(path: str, mode: Mode) -> Any:
    """Open the zarr format-2 group at ``path``."""
    return zarr.open_group(path, mode=mode, **_FORMAT2)


def open_array(store: str, path: str, mode: Mode, *, write_empty_chunks: bool = True) -> Any:
    """Open the format-2 array ``path`` in the store at ``store``, writing all-fill chunks too by default."""
    if ZARR3:
        arr = zarr.open_array(store, path=path, mode=mode, **_FORMAT2)
        return arr.with_config({"write_empty_chunks": write_empty_chunks})
    return zarr.open_array(store, path=path, mode=mode, write_empty_chunks=write_empty_chunks)


def create_array(
    group: Any,
    name: str,
    *,
    shape: tuple[int, ...],
    dtype: Any,
    chunks: tuple[int, ...],
    compressor: Any,
    fill_value: Any = None,
    write_empty_chunks: bool = True,
) -> Any:
    """Create a format-2 array in ``group`` with one numcodecs ``compressor``."""
    common = {"shape": shape, "dtype": dtype, "chunks": chunks, "fill_value": fill_value}
    if ZARR3:
        return group.create_array(
            name, compressors=compressor, config={"write_empty_chunks": write_empty_chunks}, **common
        )
    return group.create_dataset(name, compressor=compressor, write_empty_chunks=write_empty_chunks, **common)


def consolidate_metadata(path: str) -> Any:
    """Write the consolidated ``.zmetadata`` of the format-2 store at ``path``."""
    return zarr.consolidate_metadata(path, **_FORMAT2)


__all__ = ["ZARR3", "consolidate_metadata", "create_array", "open_array", "open_group"]
