"""Exports round-trip: Y800 video, multi-page TIFF, minian's zarr layout, and the CLI."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tifffile
import xarray as xr
from dask.callbacks import Callback

import minisim as ms
from minisim.export import to_uint8
from tests.conftest import small_spec


def read_video(path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_CONVERT_RGB, 0)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame if frame.ndim == 2 else frame[..., 0])
    cap.release()
    return np.array(frames)


class LargestResult(Callback):
    """Records the most frames any single dask task returned."""

    def __init__(self):
        super().__init__()
        self.most = 0

    def _posttask(self, key, result, dsk, state, worker_id):
        if isinstance(result, np.ndarray) and result.ndim == 3:
            self.most = max(self.most, result.shape[0])


@pytest.fixture(scope="module")
def rec8() -> ms.Recording:
    return ms.simulate(small_spec(duration_s=1.5, n_px=32), chunk_frames=8)


def sensorless() -> ms.Spec:
    spec = small_spec(duration_s=0.5, n_px=32)
    return ms.Spec(acquisition=spec.acquisition, seed=1, steps=[s for s in spec.steps if s.kind != "sensor"])


def test_to_uint8_maps_clips_and_rounds():
    x = np.array([[[-5.0, 0.0, 20.0, 49.9, 50.2, 100.0, 1e9]]])
    assert to_uint8(x, 0.0, 100.0).tolist() == [[[0, 0, 51, 127, 128, 255, 255]]]
    counts = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    assert to_uint8(counts, 0, 255) is counts
    assert np.array_equal(to_uint8(counts.astype(np.uint16), 0, 255), counts)


def test_simulate_video_y800_decodes_to_observed_streaming(tmp_path):
    spec = small_spec(duration_s=1.5, n_px=32)
    observed = ms.simulate(spec).observed.values
    assert observed.dtype == np.uint8 and observed.max() > 0
    watch = LargestResult()
    with watch:
        out = ms.simulate_video(spec, tmp_path / "movie.avi", chunk_frames=7, progress=False)
    assert out == tmp_path / "movie.avi"
    assert np.array_equal(read_video(out), observed)  # lossless, whatever the chunking
    assert 0 < watch.most <= 7  # never more than one chunk of frames computed at once


def test_write_video_method_scaling_fps_and_odd_size(tmp_path, rec8):
    obs = rec8.observed.values
    rec8.write_video(tmp_path / "a.avi", vmax=127.0, fps=7.5, progress=False)
    back = read_video(tmp_path / "a.avi")
    assert np.array_equal(back, to_uint8(obs, 0.0, 127.0))
    assert cv2.VideoCapture(str(tmp_path / "a.avi")).get(cv2.CAP_PROP_FPS) == pytest.approx(7.5)
    odd = ms.simulate(small_spec(duration_s=0.5, n_px=33))
    with pytest.warns(UserWarning, match="even frame sizes"):
        odd.write_video(tmp_path / "odd.avi", progress=False)
    back = read_video(tmp_path / "odd.avi")
    assert back.shape[1:] == (34, 34)
    assert np.array_equal(back[:, :33, :33], odd.observed.values) and not back[:, 33].any()


def test_video_of_sensorless_spec_needs_vmax(tmp_path):
    with pytest.raises(ValueError, match="vmax"):
        ms.simulate_video(sensorless(), tmp_path / "x.avi", progress=False)
    assert not (tmp_path / "x.avi").exists()
    rec = ms.simulate(sensorless())
    top = float(rec.observed.max())
    ms.simulate_video(sensorless(), tmp_path / "x.avi", vmax=top, progress=False)
    assert np.array_equal(read_video(tmp_path / "x.avi"), to_uint8(rec.observed.values, 0.0, top))
    with pytest.raises(ValueError, match="4-character"):
        rec.write_video(tmp_path / "y.avi", vmax=1.0, codec="H26", progress=False)


def test_tiff_single_and_split_files_round_trip(tmp_path, rec8):
    obs = rec8.observed.values
    (one,) = rec8.write_tiff(tmp_path / "m.tif", progress=False)
    with tifffile.TiffFile(one) as tif:
        assert len(tif.pages) == obs.shape[0]
        back = tif.asarray()
    assert back.dtype == np.uint8 and np.array_equal(back, obs)
    rec16 = ms.simulate(small_spec(duration_s=0.5, n_px=32).model_copy(), chunk_frames=4)
    rec16 = ms.simulate(
        ms.Spec.model_validate(
            {
                **rec16.spec.model_dump(),
                "acquisition": {
                    **rec16.spec.acquisition.model_dump(),
                    "image_sensor": {**rec16.spec.acquisition.image_sensor.model_dump(), "bit_depth": 12},
                },
            }
        ),
        chunk_frames=4,
    )
    files = rec16.write_tiff(tmp_path / "msCam.tif", frames_per_file=4, progress=False)
    assert [f.name for f in files] == ["msCam1.tif", "msCam2.tif", "msCam3.tif"]
    back = np.concatenate([tifffile.imread(f) for f in files])
    assert back.dtype == np.uint16 and np.array_equal(back, rec16.observed.values)
    rec_f = ms.simulate(sensorless())
    (flt,) = rec_f.write_tiff(tmp_path / "f.tif", progress=False)
    assert np.array_equal(tifffile.imread(flt), rec_f.observed.values)


def open_layout(directory) -> xr.Dataset:
    """What minian's open_minian does: every sub-directory is a group; merge them."""
    parts = [xr.open_zarr(p) for p in sorted(directory.iterdir()) if p.is_dir()]
    return xr.merge(parts, compat="no_conflicts", join="outer")


def test_minian_layout_round_trips_movie_and_truth(tmp_path):
    spec = small_spec(duration_s=1.0, n_px=32)
    spec = ms.Spec(
        acquisition=spec.acquisition,
        seed=3,
        steps=[*spec.steps, ms.BrainMotion(model="walk", walk_step_um=0.5, max_shift_um=1.5)],
    )
    rec = ms.simulate(spec, chunk_frames=6)
    gt = rec.ground_truth
    assert gt.shifts is not None and np.abs(gt.shifts).max() > 0.5
    out = rec.to_minian(tmp_path / "truth", progress=False)
    names = ["true_A.zarr", "true_C.zarr", "true_S.zarr", "true_motion.zarr", "varr.zarr"]
    assert sorted(p.name for p in out.iterdir()) == names  # never minian's own result names
    for name in ("varr", "true_A", "true_C", "true_S", "true_motion"):
        assert (out / f"{name}.zarr" / ".zgroup").exists()  # zarr format 2
        assert (out / f"{name}.zarr" / name / ".zarray").exists()
    ds = open_layout(out)
    n, h, w = rec.observed.shape
    assert ds.varr.dims == ("frame", "height", "width") and ds.varr.dtype == np.uint8
    assert ds.varr.data.chunks[0][0] == 6 and ds.varr.data.chunks[1:] == ((h,), (w,))
    np.testing.assert_array_equal(ds.varr.values, rec.observed.values)
    for dim, size in (("frame", n), ("height", h), ("width", w), ("true_unit_id", gt.n_units)):
        np.testing.assert_array_equal(ds[dim].values, np.arange(size))
    assert ds.true_A.dims == ("true_unit_id", "height", "width")
    assert ds.true_C.dims == ds.true_S.dims == ("true_unit_id", "frame")
    np.testing.assert_array_equal(ds.true_A.values, gt.A_observed.astype(np.float32))
    np.testing.assert_array_equal(ds.true_C.values, gt.C)
    np.testing.assert_array_equal(ds.true_S.values, gt.S)
    assert ds.true_motion.dims == ("frame", "shift_dim") and list(ds.shift_dim.values) == ["height", "width"]
    np.testing.assert_array_equal(ds.true_motion.values, -gt.shifts)  # minian stores the correction


def test_minian_layout_no_motion_is_zero_and_refuses_to_clobber(tmp_path, rec8):
    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    rec8.to_minian(target, progress=False)
    ds = open_layout(target)
    assert ds.true_motion.shape == (rec8.observed.shape[0], 2) and not ds.true_motion.values.any()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        rec8.to_minian(target, progress=False)
    rec8.to_minian(target, overwrite=True, progress=False)
    assert (target / "notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary leftovers
    np.testing.assert_array_equal(open_layout(target).varr.values, rec8.observed.values)


def test_cli_export_each_format_from_a_saved_recording(tmp_path, rec8, capsys):
    from minisim.cli import main

    store = rec8.save(tmp_path / "rec.zarr")
    obs = rec8.observed.values
    args = [str(store), "--no-progress", "--chunk-frames", "5"]
    assert main(["export", *args, "--to", "video", "--out", str(tmp_path / "m.avi")]) == 0
    assert np.array_equal(read_video(tmp_path / "m.avi"), obs)
    assert main(["export", *args, "--to", "tiff", "--out", str(tmp_path / "m.tif")]) == 0
    assert np.array_equal(tifffile.imread(tmp_path / "m.tif"), obs)
    assert main(["export", *args, "--to", "minian", "--out", str(tmp_path / "mn")]) == 0
    ds = open_layout(tmp_path / "mn")
    np.testing.assert_array_equal(ds.varr.values, obs)
    np.testing.assert_array_equal(ds.true_C.values, rec8.ground_truth.C)
    np.testing.assert_array_equal(ds.true_A.values, rec8.ground_truth.A_observed.astype(np.float32))
    assert "wrote" in capsys.readouterr().out
    # bad input: a clear message and exit status 2, nothing overwritten
    assert main(["export", *args, "--to", "tiff", "--out", str(tmp_path / "m.tif")]) == 2
    assert main(["export", *args, "--to", "minian", "--out", str(tmp_path / "mn")]) == 2
    assert main(["export", str(tmp_path / "nope.zarr"), "--to", "video", "--out", str(tmp_path / "n.avi")]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "overwrite=True" in err and "nope.zarr" in err
