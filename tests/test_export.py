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
from minisim.exporters import Exporter, function_exporter
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


# --------------------------------------------------------------------------- the exporter table


def _write_npy(recording, path, *, scale: int = 1, progress: bool = True):
    """A third-party format for the tests: the movie as one ``.npy`` file.

    Parameters
    ----------
    scale : int
        Factor the counts are multiplied by.
    progress : bool
        Ignored.
    """
    from pathlib import Path

    np.save(path, np.asarray(recording.observed.values, np.int64) * scale)
    return Path(path)


NPY_EXPORTER = function_exporter("npy", "the movie as one .npy file", "file", _write_npy)


def _fake_entry_points(monkeypatch, *values: tuple[str, str]) -> None:
    import importlib.metadata as md

    eps = [md.EntryPoint(name=n, value=v, group="minisim.exporters") for n, v in values]
    real = md.entry_points

    def entry_points(**kw):
        return md.EntryPoints(eps) if kw.get("group") == "minisim.exporters" else real(**kw)

    monkeypatch.setattr(md, "entry_points", entry_points)


def test_table_lists_builtin_formats_with_typed_options():
    from minisim.exporters import exporters, get_exporter

    table = exporters()
    assert list(table)[:4] == ["zarr", "video", "tiff", "minian"]
    for name, exporter in table.items():
        assert isinstance(exporter, Exporter) and exporter.name == name
        assert exporter.options.model_config["extra"] == "forbid" and exporter.options.model_config["frozen"]
    tiff = get_exporter("tiff").options
    assert tiff.model_fields["frames_per_file"].default is None and "Frames per file" in str(
        tiff.model_fields["frames_per_file"].description
    )
    # the minian exporter's options are to_minian's keywords, its varr_range pair given as the video's vmin/vmax
    import inspect

    from minisim.export_minian import to_minian

    kw = [p.name for p in inspect.signature(to_minian).parameters.values() if p.kind is p.KEYWORD_ONLY]
    options = list(get_exporter("minian").options.model_fields)
    assert options == [k for k in kw if k != "varr_range"] + ["vmin", "vmax"]
    assert get_exporter("minian").options.model_fields["vmin"].annotation is float


def test_export_is_the_single_entry_point_and_aliases_agree(tmp_path, rec8):
    files = rec8.export("tiff", tmp_path / "a.tif", frames_per_file=8, progress=False)
    n = rec8.observed.shape[0]
    assert [p.name for p in files] == [f"a{i + 1}.tif" for i in range(-(-n // 8))]
    alias = rec8.write_tiff(tmp_path / "b.tif", progress=False)
    both = np.concatenate([tifffile.imread(p) for p in files])
    np.testing.assert_array_equal(both, tifffile.imread(alias[0]))
    np.testing.assert_array_equal(both, rec8.observed.values)
    store = rec8.export("zarr", tmp_path / "r.zarr")
    np.testing.assert_array_equal(ms.Recording.load(store).observed.values, rec8.observed.values)
    with pytest.raises(ValueError, match=r"unknown export format 'nwb'.*'minian'.*'tiff'"):
        rec8.export("nwb", tmp_path / "x.nwb")
    with pytest.raises(TypeError, match=r"'tiff' export has no option\(s\) \['fps'\].*frames_per_file"):
        rec8.export("tiff", tmp_path / "c.tif", fps=3)
    with pytest.raises(ValueError, match="frames_per_file"):  # typed: pydantic rejects a non-integer
        rec8.export("tiff", tmp_path / "c.tif", frames_per_file="many")
    assert not (tmp_path / "c.tif").exists()


def test_entry_point_format_plugs_into_export_and_the_cli(tmp_path, rec8, monkeypatch, capsys):
    from minisim.cli import main
    from minisim.exporters import exporters

    _fake_entry_points(monkeypatch, ("npy", "tests.test_export:NPY_EXPORTER"), ("bad", "tests.nowhere:EXPORTER"))
    with pytest.warns(UserWarning, match=r"'bad' export format .*failed to load"):
        table = exporters()
    assert "npy" in table and "bad" not in table
    with pytest.warns(UserWarning, match="failed to load"):
        out = rec8.export("npy", tmp_path / "m.npy", scale=2)
    np.testing.assert_array_equal(np.load(out), 2 * rec8.observed.values.astype(np.int64))
    store = rec8.save(tmp_path / "rec.zarr")
    with pytest.warns(UserWarning, match="failed to load"):
        status = main(["export", str(store), "--to", "npy", "--out", str(tmp_path / "c.npy"), "--scale", "3"])
    assert status == 0
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), 3 * rec8.observed.values.astype(np.int64))
    with pytest.warns(UserWarning, match="failed to load"):  # a flag of another format is refused by name
        status = main(["export", str(store), "--to", "npy", "--out", str(tmp_path / "d.npy"), "--fps", "3"])
    assert status == 2 and "--fps is not an option of the npy format (its options: --scale)" in capsys.readouterr().err
    assert not (tmp_path / "d.npy").exists()


def test_entry_point_cannot_replace_a_builtin(monkeypatch):
    from minisim.exporters import exporters, get_exporter

    _fake_entry_points(monkeypatch, ("tiff", "tests.test_export:NPY_EXPORTER"))
    with pytest.warns(UserWarning, match="reuses the format name 'tiff'"):
        table = exporters()
    assert table["tiff"] is get_exporter("tiff") and table["tiff"].summary.startswith("multi-page TIFF")


def test_cli_export_to_zarr_flags_from_the_table(tmp_path, rec8):
    from minisim.cli import build_parser, main

    help_text = build_parser()._subparsers._group_actions[0].choices["export"].format_help()
    for flag in ("--frames-per-file", "--fps", "--codec", "--stages", "--resume", "--chunk-frames"):
        assert flag in help_text
    assert "--perf" not in help_text  # an option with no command-line form stays in the Python API
    store = rec8.save(tmp_path / "rec.zarr")
    assert main(["export", str(store), "--to", "zarr", "--out", str(tmp_path / "copy.zarr"), "--no-progress"]) == 0
    np.testing.assert_array_equal(ms.Recording.load(tmp_path / "copy.zarr").ground_truth.C, rec8.ground_truth.C)
