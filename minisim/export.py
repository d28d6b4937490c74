"""Exports of a recording: 8-bit video and multi-page TIFF (minian's layout: :mod:`minisim.export_minian`).

Every writer walks the lazy observed movie one frame chunk (dask block) at a
time, computed with the active dask scheduler, so memory stays bounded by
about two chunks whatever the recording's length. Files are written under
temporary names and renamed into place only when complete
(:mod:`minisim._atomic`): a failed export leaves any earlier file untouched.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask.array as da
import numpy as np

from minisim._atomic import atomic_file, atomic_files
from minisim._gray import to_uint8
from minisim._store_format import refuse_inside_store
from minisim.perf import PerfTracker, measure

if TYPE_CHECKING:
    from minisim.recording import Recording
    from minisim.spec import Spec

# --------------------------------------------------------------------------- shared streaming


def iter_blocks(
    movie: da.Array, chunk_frames: int | None = None, perf: PerfTracker | None = None
) -> Iterator[np.ndarray]:
    """Yield the frames of a lazy ``(frame, h, w)`` movie chunk by chunk, in order.

    Each chunk is computed with the active dask scheduler while the previous
    one is being consumed (one chunk of read-ahead), so at most two chunks
    are in memory. ``chunk_frames`` re-chunks along frames first.
    """
    if chunk_frames is not None:
        if int(chunk_frames) < 1:
            raise ValueError(f"chunk_frames = {chunk_frames!r} must be a positive number of frames")
        movie = movie.rechunk({0: int(chunk_frames)})
    n = movie.numblocks[0]
    if n == 0 or movie.shape[0] == 0:
        return

    def render(i: int) -> np.ndarray:
        with measure(perf, "render"):
            return np.asarray(movie.blocks[i].compute())

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(render, 0)
        for i in range(n):
            block = pending.result()
            if i + 1 < n:
                pending = pool.submit(render, i + 1)
            yield block


def _frame_bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=not enabled)


def _movie(rec: Recording) -> da.Array:
    data = rec.observed.data
    movie = data if isinstance(data, da.Array) else da.from_array(np.asarray(data))
    if movie.ndim != 3 or 0 in movie.shape:
        raise ValueError(
            f"this recording's movie has shape {tuple(movie.shape)}: no frames to export (a spec without movie "
            "steps, or simulate(until=) a cell-phase step, has no movie); fix: simulate up to a movie step"
        )
    return movie


def check_output_file(path: str | os.PathLike[str]) -> Path:
    """Refuse an export path that is a directory, lies inside a minisim store, or has no directory."""
    p = Path(path)
    refuse_inside_store(p, "export path")
    if p.is_dir():
        raise ValueError(
            f"export path {str(p)!r} is a directory; a video or TIFF export writes one file and never replaces a "
            "directory (even with overwrite); fix: give a file name such as movie.tif"
        )
    if not p.parent.is_dir():
        raise ValueError(f"the directory of {str(p)!r} does not exist; fix: create it first")
    return p


# --------------------------------------------------------------------------- video


def video_range(spec: Spec, vmin: float, vmax: float | None) -> tuple[float, float]:
    """The (vmin, vmax) mapped to black and white; vmax defaults to the sensor's full scale."""
    if vmax is None:
        if spec.step("sensor") is None:
            raise ValueError(
                "this spec has no sensor step, so its movie has no natural full scale; "
                "fix: pass vmax= (the intensity to show as white) or add a Sensor step"
            )
        vmax = float(spec.acquisition.image_sensor.max_count)
    if not vmax > vmin:
        raise ValueError(f"vmax = {vmax!r} must be greater than vmin = {vmin!r}; fix: widen the display range")
    return float(vmin), float(vmax)


def write_video(
    rec: Recording,
    path: str | os.PathLike[str],
    *,
    chunk_frames: int | None = None,
    fps: float | None = None,
    vmin: float = 0.0,
    vmax: float | None = None,
    codec: str = "Y800",
    progress: bool = True,
    perf: PerfTracker | None = None,
) -> Path:
    """Stream a recording's observed movie to an 8-bit grayscale video with OpenCV.

    Parameters
    ----------
    rec : Recording
        Its ``observed`` movie is computed chunk by chunk, never whole.
    path : path
        Output file; ``.avi`` suits the default codec.
    chunk_frames : int, optional
        Frames per computed chunk (default: the movie's own chunks).
    fps : float, optional
        Frame rate written in the file; default the acquisition's ``fps``.
    vmin, vmax : float
        Values shown as black and white (clipped outside). ``vmax`` defaults
        to the sensor's full scale ``2**bit_depth - 1``; a spec without a
        sensor has no such scale and needs ``vmax``.
    codec : str
        Four-character OpenCV fourcc. ``"Y800"``: uncompressed 8-bit gray, so
        an 8-bit sensor's counts decode back exactly (file size about
        ``frames * height * width`` bytes). ``"MJPG"``: small but lossy.
        OpenCV writes only even frame sizes: an odd height or width is padded
        with one black row/column at the bottom/right (with a warning).
    progress : bool
        Show a progress bar over frames.
    perf : PerfTracker, optional
        Records ``render`` (computing chunks) and ``encode`` (writing) time.

    Returns
    -------
    Path
        ``path``.
    """
    vmin, vmax = video_range(rec.spec, vmin, vmax)
    if not isinstance(codec, str) or len(codec) != 4:
        raise ValueError(f"codec = {codec!r} must be a 4-character fourcc such as 'Y800' (lossless) or 'MJPG' (lossy)")
    fps = float(fps if fps is not None else rec.spec.acquisition.fps)
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps = {fps!r} frames/s must be a positive finite frame rate; fix: pass e.g. fps=20")
    movie = _movie(rec)
    _n, h, w = movie.shape
    path = check_output_file(path)
    ph, pw = h + h % 2, w + w % 2
    if (ph, pw) != (h, w):
        warnings.warn(
            f"OpenCV's video writer needs even frame sizes: the {h}x{w} px movie is written as {ph}x{pw} px, "
            "padded with black at the bottom/right; crop frames to [:height, :width] after reading",
            UserWarning,
            stacklevel=2,
        )
    with atomic_file(path) as tmp:
        _encode(movie, tmp, path, codec, fps, (h, w, ph, pw), vmin, vmax, chunk_frames, progress, perf)
    return path


def _encode(
    movie: da.Array,
    tmp: Path,
    path: Path,
    codec: str,
    fps: float,
    sizes: tuple[int, int, int, int],
    vmin: float,
    vmax: float,
    chunk_frames: int | None,
    progress: bool,
    perf: PerfTracker | None,
) -> None:
    import cv2

    n = movie.shape[0]
    h, w, ph, pw = sizes
    fourcc = cv2.VideoWriter_fourcc(*codec)  # type: ignore[attr-defined]
    writer = cv2.VideoWriter(str(tmp), fourcc, fps, (pw, ph), isColor=False)
    if not writer.isOpened():
        raise RuntimeError(
            f"OpenCV could not open a {codec!r} video writer for {str(path)!r} (fps {fps:g}, {pw}x{ph} px); "
            "fix: use an .avi file with codec 'Y800' or 'MJPG'"
        )
    try:
        with _frame_bar(n, f"video {path.name}", progress) as bar:
            for block in iter_blocks(movie, chunk_frames, perf):
                with measure(perf, "encode"):
                    gray = to_uint8(block, vmin, vmax)
                    if (ph, pw) != (h, w):
                        gray = np.pad(gray, ((0, 0), (0, ph - h), (0, pw - w)))
                    for frame in gray:
                        writer.write(np.ascontiguousarray(frame))
                bar.update(len(block))
    finally:
        writer.release()


def simulate_video(
    spec: Spec,
    path: str | os.PathLike[str],
    *,
    chunk_frames: int | None = None,
    fps: float | None = None,
    vmin: float = 0.0,
    vmax: float | None = None,
    codec: str = "Y800",
    progress: bool = True,
    perf: PerfTracker | None = None,
) -> Path:
    """Simulate ``spec`` straight to a grayscale video file, in bounded memory.

    The movie graph is built lazily and rendered one frame chunk at a time
    (``chunk_frames`` frames, default about 24 MiB of float32 canvas, ``engine.TARGET_CHUNK_BYTES``), each chunk
    encoded as soon as it is computed; the frames written are exactly
    ``simulate(spec).observed`` mapped by ``vmin``/``vmax``. See
    :func:`write_video` for the other parameters. ``perf`` also records the
    cell phase of the simulation.

    Returns
    -------
    Path
        ``path``.
    """
    from minisim.engine import simulate

    video_range(spec, vmin, vmax)  # fail before simulating
    rec = simulate(spec, chunk_frames=chunk_frames, perf=perf)
    return write_video(rec, path, fps=fps, vmin=vmin, vmax=vmax, codec=codec, progress=progress, perf=perf)


# --------------------------------------------------------------------------- TIFF


def write_tiff(
    rec: Recording,
    path: str | os.PathLike[str],
    *,
    frames_per_file: int | None = None,
    chunk_frames: int | None = None,
    progress: bool = True,
) -> list[Path]:
    """Stream the observed movie to multi-page TIFF (one page per frame), values unchanged.

    Counts keep their integer type (uint8 or uint16); a sensorless movie is
    written as float32. Pages are written as chunks are computed.

    Parameters
    ----------
    rec : Recording
    path : path
        Output file. With ``frames_per_file`` the movie is split into
        numbered files ``<stem>1<suffix>``, ``<stem>2<suffix>``, ... (the
        ``msCam1.avi`` style minian's loader sorts naturally); loaders such as
        minian make one task per page, so split very long movies.
    frames_per_file : int, optional
        Frames per file; default everything in one file (BigTIFF above 4 GB).
    chunk_frames : int, optional
        Frames per computed chunk.
    progress : bool
        Show a progress bar over frames.

    Returns
    -------
    list of Path
        The files written, in frame order.
    """
    import tifffile

    movie = _movie(rec)
    n, h, w = movie.shape
    per_file = n if frames_per_file is None else int(frames_per_file)
    if per_file < 1:
        raise ValueError(f"frames_per_file = {frames_per_file!r} must be a positive number of frames")
    path = check_output_file(path)
    starts = list(range(0, n, per_file))
    if frames_per_file is None:
        paths = [path]
    else:
        paths = [path.with_name(f"{path.stem}{i + 1}{path.suffix}") for i in range(len(starts))]
    for p in paths[1:]:
        check_output_file(p)
    frames = _frames(iter_blocks(movie, chunk_frames))
    with atomic_files(paths) as tmps, _frame_bar(n, f"tiff {path.name}", progress) as bar:
        for out, start in zip(tmps, starts, strict=True):
            count = min(per_file, n - start)
            nbytes = count * h * w * movie.dtype.itemsize
            pages = (next(frames) for _ in range(count))
            with tifffile.TiffWriter(out, bigtiff=nbytes > 2**32 - 2**25) as tif:
                tif.write(_counted(pages, bar), shape=(count, h, w), dtype=movie.dtype, photometric="minisblack")
    return paths


def _frames(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    for block in blocks:
        yield from block


def _counted(pages: Iterator[np.ndarray], bar: Any) -> Iterator[np.ndarray]:
    for page in pages:
        bar.update(1)
        yield np.ascontiguousarray(page)


from minisim.export_minian import to_minian  # noqa: E402 - re-exported here

__all__ = ["iter_blocks", "simulate_video", "to_minian", "to_uint8", "video_range", "write_tiff", "write_video"]
