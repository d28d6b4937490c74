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

#: The first xarray release whose zarr backend needs zarr-python 3.
XARRAY_NEEDS_ZARR3 = (2026, 4)
#: What to install in a minian environment (docs/howto/switching_from_1_0.md).
MINIAN_FIX = 'pip install "minisim[minian]" (it pins xarray<2026.4 beside zarr-python 2)'


def broken_xarray_zarr_pair() -> str | None:
    """Why xarray's zarr calls fail in this environment, or None when they work.

    xarray 2026.04 and later pass ``zarr_format`` to zarr-python, which
    zarr-python 2 (the version minian's rechunker pins) does not accept: every
    ``to_zarr`` / ``open_zarr`` then fails with ``unexpected keyword argument
    'zarr_format'``. The check reads package metadata only (no import of xarray).
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        xr_version = version("xarray")
    except PackageNotFoundError:
        return None
    year_month = tuple(int(p) for p in xr_version.split(".")[:2] if p.isdigit())
    if ZARR3 or len(year_month) < 2 or year_month < XARRAY_NEEDS_ZARR3:
        return None
    return (
        f"xarray {xr_version} needs zarr-python 3 but zarr-python {zarr.__version__} is installed "
        f"(minian's rechunker pins zarr<3), so xarray's zarr reads and writes fail here; fix: {MINIAN_FIX}"
    )


class BrokenZarrPairWarning(UserWarning):
    """xarray's zarr calls fail in this environment (xarray >= 2026.04 beside zarr-python 2)."""


def warn_if_broken_pair(what: str, *, stacklevel: int = 3) -> None:
    """Warn, naming the fix, when ``what`` (a minisim zarr call) works here but xarray's do not.

    minisim's store reads and writes with zarr-python directly, so ``save`` and
    ``load`` still work with the broken pair; the user's next xarray call on the
    result (``rec.observed.to_zarr``, ``xr.open_zarr``, minian's ``save_minian``)
    would not, so this says so up front.
    """
    broken = broken_xarray_zarr_pair()
    if broken is None:
        return
    import warnings

    warnings.warn(
        f"{what} works (minisim uses zarr-python directly), but xr.open_zarr, DataArray.to_zarr, "
        f"rec.to_minian and minian's open_minian/save_minian will fail here: {broken}",
        BrokenZarrPairWarning,
        stacklevel=stacklevel,
    )


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


__all__ = [
    "MINIAN_FIX",
    "ZARR3",
    "BrokenZarrPairWarning",
    "broken_xarray_zarr_pair",
    "warn_if_broken_pair",
    "consolidate_metadata",
    "create_array",
    "open_array",
    "open_group",
]
