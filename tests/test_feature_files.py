"""Snippet feature files for BSN / BMN / G-TAD: the rescalings against NumPy
transcriptions of the originals written here, the files read back the way those
projects read them, and resuming from the manifest."""
import json
import math
import os

import numpy as np
import pandas as pd
import pytest

from tsn_tf import feature_rescaling
from tsn_tf.export import feature_files
from tsn_tf.export.feature_files import FeatureWriter
from tsn_tf.input.ingestion import storage


# --- transcriptions of the originals ---------------------------------------------

def interp1d(x, y, axis=0):
    """scipy.interpolate.interp1d(x, y, axis=0) as BSN and mmaction2 call it (linear,
    out-of-range points an error), following scipy's _call_linear; scipy is not a
    dependency of tsn-tf."""
    assert axis == 0
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)

    def f(x_new):
        x_new = np.asarray(x_new, np.float64)
        if x_new.min() < x[0] or x_new.max() > x[-1]:
            raise ValueError("A value in x_new is out of the interpolation range.")
        hi = np.clip(np.searchsorted(x, x_new), 1, len(x) - 1)
        lo = hi - 1
        slope = (y[hi] - y[lo]) / (x[hi] - x[lo])[:, None]
        return slope * (x_new - x[lo])[:, None] + y[lo]
    return f


def bsn_pool_data(data, video_anno, interval, num_prop=100, num_bin=1, num_sample_bin=3):
    """BSN's poolData (data/activitynet_feature_cuhk/data_process.py, pool_type
    "mean"), its 16-frame snippets and 400 dims replaced by `interval` and D."""
    dims = data.shape[1]
    feature_frame = len(data) * interval
    video_frame = video_anno['duration_frame']
    video_second = video_anno['duration_second']
    corrected_second = float(feature_frame) / video_frame * video_second
    fps = float(video_frame) / video_second
    st = interval / fps

    if len(data) == 1:
        video_feature = np.stack([data] * num_prop)
        video_feature = np.reshape(video_feature, [num_prop, dims])
        return video_feature

    x = [st / 2 + ii * st for ii in range(len(data))]
    f = interp1d(x, data, axis=0)

    video_feature = []
    zero_sample = np.zeros(num_bin * dims)
    tmp_anchor_xmin = [1.0 / num_prop * i for i in range(num_prop)]
    tmp_anchor_xmax = [1.0 / num_prop * i for i in range(1, num_prop + 1)]

    num_sample = num_bin * num_sample_bin
    for idx in range(num_prop):
        xmin = max(x[0] + 0.0001, tmp_anchor_xmin[idx] * corrected_second)
        xmax = min(x[-1] - 0.0001, tmp_anchor_xmax[idx] * corrected_second)
        if xmax < x[0]:
            video_feature.append(zero_sample)
            continue
        if xmin > x[-1]:
            video_feature.append(zero_sample)
            continue

        plen = (xmax - xmin) / (num_sample - 1)
        x_new = [xmin + plen * ii for ii in range(num_sample)]
        y_new = f(x_new)
        y_new_pool = []
        for b in range(num_bin):
            tmp_y_new = np.mean(y_new, axis=0)  # sic: all of y_new, not the bin's slice
            y_new_pool.append(tmp_y_new)
        y_new_pool = np.stack(y_new_pool)
        y_new_pool = np.reshape(y_new_pool, [-1])
        video_feature.append(y_new_pool)
    video_feature = np.stack(video_feature)
    return video_feature


def mmaction2_pool_feature(data, num_proposals=100, num_sample_bins=3):
    """mmaction2's pool_feature (tools/data/activitynet/
    activitynet_feature_postprocessing.py, pool_type 'mean')."""
    if len(data) == 1:
        return np.concatenate([data] * num_proposals)
    x_range = list(range(len(data)))
    f = interp1d(x_range, data, axis=0)
    eps = 1e-4
    start, end = eps, len(data) - 1 - eps
    anchor_size = (end - start) / num_proposals
    ptr = start
    feature = []
    for _ in range(num_proposals):
        x_new = [ptr + i / num_sample_bins * anchor_size for i in range(num_sample_bins)]
        y_new = f(x_new)
        feature.append(np.mean(y_new, axis=0))
        ptr += anchor_size
    return np.stack(feature)


def bmn_load_file(feature_path, video_name, temporal_scale=100):
    """BMN's VideoDataSet._load_file (dataset.py), torch left out: (D, P)."""
    video_df = pd.read_csv(feature_path + "csv_mean_" + str(temporal_scale) + "/"
                           + video_name + ".csv")
    video_data = video_df.values[:, :]
    return np.transpose(np.asarray(video_data, np.float32), (1, 0))


def bsn_tie_rows(data, interval, frame_rate, num_prop=100):
    """{bin: row} of the bins whose edge falls exactly on the first or last snippet
    centre (when 2T divides num_prop). BSN's float rounding decides whether such a
    bin lies outside (a zero row) or is the mean of points from the centre to 1e-4
    inside it, which is the snippet's feature interpolated 0.5e-4 s inside."""
    if len(data) == 1:
        return {}
    last, step = len(data), interval / frame_rate
    rows = {}
    for i in range(num_prop):
        if 2 * last * (i + 1) == num_prop:  # (i + 1) / P == 0.5 / T: ends on x_0
            rows[i] = data[0] + (data[1] - data[0]) * 0.5e-4 / step
        if 2 * last * i == num_prop * (2 * last - 1):  # i / P == 1 - 0.5 / T: starts on x_{T-1}
            rows[i] = data[-1] + (data[-2] - data[-1]) * 0.5e-4 / step
    return rows


def video_anno(num_frames, frame_rate):
    """What BSN's getDatasetDict takes from video_info.csv."""
    return {"duration_frame": num_frames, "duration_second": num_frames / frame_rate}


def random_features(num_snippets, dims, seed=0):
    return np.random.default_rng(seed).normal(size=(num_snippets, dims)).astype(np.float32)


# --- rescaling -------------------------------------------------------------------

@pytest.mark.parametrize("frame_rate", [30.0, 29.97, 25.0])
@pytest.mark.parametrize("interval", [16, 5])
@pytest.mark.parametrize("num_snippets", [1, 2, 7, 30, 50, 51, 130, 400])
def test_bsn_rescale_is_bsn_pool_data(num_snippets, interval, frame_rate):
    dims = 2 + num_snippets % 5
    features = random_features(num_snippets, dims, seed=num_snippets + interval)
    num_frames = num_snippets * interval + interval // 3  # a few frames no snippet covers
    expected = bsn_pool_data(features.astype(np.float64), video_anno(num_frames, frame_rate),
                             interval)
    got = feature_rescaling.bsn_rescale(features, interval=interval, frame_rate=frame_rate)
    assert got.shape == (100, dims)
    ties = bsn_tie_rows(features.astype(np.float64), interval, frame_rate)
    assert bool(ties) == (num_snippets in (2, 50))
    for row, tie_row in ties.items():  # either outcome is BSN's, by rounding
        for pooled in (expected[row], got[row]):
            assert not pooled.any() or np.allclose(pooled, tie_row, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.delete(got, list(ties), axis=0),
                               np.delete(expected, list(ties), axis=0), rtol=0, atol=1e-6)


@pytest.mark.parametrize("num_snippets", [3, 7, 30])
def test_bsn_rescale_gives_zero_rows_at_both_ends_of_short_videos(num_snippets):
    features = random_features(num_snippets, 3) + 5.0  # no value near zero
    expected = bsn_pool_data(features.astype(np.float64), video_anno(1000, 30.0), 16)
    got = feature_rescaling.bsn_rescale(features, interval=16, frame_rate=30.0)
    zero_rows = np.flatnonzero(~expected.any(axis=1))
    # bins before the first snippet centre (the first 0.5/T of the video), and after the last
    assert zero_rows[0] == 0 and zero_rows[-1] == 99
    assert len(zero_rows) >= 2 * (math.ceil(50 / num_snippets) - 1)
    np.testing.assert_array_equal(np.flatnonzero(~got.any(axis=1)), zero_rows)
    assert np.all(np.abs(np.delete(got, zero_rows, axis=0)) > 1.0)


def test_bsn_rescale_has_no_zero_rows_from_51_snippets():
    got = feature_rescaling.bsn_rescale(random_features(51, 3) + 5.0, interval=16,
                                        frame_rate=30.0)
    assert got.all()


@pytest.mark.parametrize("num_positions,samples", [(100, 3), (10, 2), (7, 5)])
@pytest.mark.parametrize("num_snippets", [1, 2, 7, 30, 130])
def test_mmaction2_rescale_is_pool_feature(num_snippets, num_positions, samples):
    features = random_features(num_snippets, 4, seed=num_snippets)
    expected = mmaction2_pool_feature(features.astype(np.float64), num_positions, samples)
    got = feature_rescaling.mmaction2_rescale(features, num_positions, samples)
    assert got.shape == (num_positions, 4)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_other_numbers_of_positions_follow_bsn_too():
    features = random_features(37, 3)
    expected = bsn_pool_data(features.astype(np.float64), video_anno(600, 25.0), 8,
                             num_prop=64, num_sample_bin=4)
    got = feature_rescaling.bsn_rescale(features, interval=8, frame_rate=25.0,
                                        num_positions=64, samples_per_position=4)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("rescale", [
    lambda f: feature_rescaling.bsn_rescale(f, interval=16, frame_rate=30.0),
    feature_rescaling.mmaction2_rescale])
def test_rescaling_no_snippets_is_a_one_line_error(rescale):
    with pytest.raises(ValueError, match=r"no snippets \(T = 0") as error:
        rescale(np.zeros((0, 4), np.float32))
    assert "\n" not in str(error.value)


# --- files -----------------------------------------------------------------------

RUN = dict(streams=[
    {"name": "rgb", "model_dir": "models/rgb", "modality": "rgb", "kind": "features",
     "columns": [0, 3]},
    {"name": "flow", "model_dir": "models/flow", "modality": "flow", "kind": "features",
     "columns": [3, 5]}], views=1)


def writer_in(folder, **kwargs):
    kwargs = {"interval": 16, "subset": "validation", "file_name": "v_{media_id}", **kwargs}
    writer = FeatureWriter(str(folder), **kwargs)
    writer.check_writable()
    writer.set_run(**RUN)
    return writer


def write_video(writer, media_id, num_snippets, seed=0, frame_rate=30.0):
    features = random_features(num_snippets, 5, seed)
    times = (8 + 16 * np.arange(num_snippets)) / frame_rate
    num_frames = num_snippets * 16 + 3
    writer.write(media_id, features, times, num_frames=num_frames, frame_rate=frame_rate)
    return features, times, num_frames


def test_file_stem_flattens_paths_and_applies_the_template():
    assert feature_files.file_stem("abc") == "abc"
    assert feature_files.file_stem("--0edUL8zmA", "v_{media_id}") == "v_--0edUL8zmA"
    assert feature_files.file_stem("Diving/clip 1.mp4", "v_{media_id}") == "v_Diving__clip 1.mp4"
    with pytest.raises(ValueError, match="no usable file name"):
        feature_files.file_stem("..")


def test_csv_mean_loads_as_bmn_loads_it(tmp_path):
    writer = writer_in(tmp_path)
    features, _, num_frames = write_video(writer, "--0edUL8zmA", 37)
    video_data = bmn_load_file(str(tmp_path) + "/", "v_--0edUL8zmA")
    assert video_data.shape == (5, 100)
    assert list(pd.read_csv(tmp_path / "csv_mean_100" / "v_--0edUL8zmA.csv").columns) == \
        [f"f{i}" for i in range(5)]
    expected = bsn_pool_data(features.astype(np.float64), video_anno(num_frames, 30.0), 16)
    np.testing.assert_allclose(video_data.T, expected, rtol=0, atol=1e-6)


def test_csv_mean_with_mmaction2_rescaling_and_other_positions(tmp_path):
    writer = writer_in(tmp_path, rescaling="mmaction2", num_positions=50, formats=["csv_mean"])
    features, _, _ = write_video(writer, "x", 9)
    video_data = bmn_load_file(str(tmp_path) + "/", "v_x", temporal_scale=50)
    np.testing.assert_allclose(video_data.T, mmaction2_pool_feature(
        features.astype(np.float64), 50), rtol=0, atol=1e-6)
    assert sorted(os.listdir(tmp_path)) == ["csv_mean_50", "manifest.json", "times",
                                            "video_info.csv"]


def test_unrescaled_csv_npy_and_times_round_trip(tmp_path):
    writer = writer_in(tmp_path)
    features, times, _ = write_video(writer, "Diving/a.mp4", 13)
    table = pd.read_csv(tmp_path / "csv" / "v_Diving__a.mp4.csv")
    assert list(table.columns) == [f"f{i}" for i in range(5)]
    assert table.values.shape == (13, 5)
    np.testing.assert_array_equal(table.values.astype(np.float32), features)
    saved = np.load(tmp_path / "npy" / "v_Diving__a.mp4.npy")
    assert saved.dtype == np.float32
    np.testing.assert_array_equal(saved, features)
    saved_times = np.load(tmp_path / "times" / "v_Diving__a.mp4.npy")
    assert saved_times.dtype == np.float64
    np.testing.assert_array_equal(saved_times, times)
    assert not [name for _, _, names in os.walk(tmp_path) for name in names
                if ".tmp" in name]


def test_video_info_has_bsn_columns(tmp_path):
    writer = writer_in(tmp_path)
    write_video(writer, "b", 20, frame_rate=29.97)
    write_video(writer, "a", 7, frame_rate=25.0)
    info = pd.read_csv(tmp_path / "video_info.csv")
    assert list(info.columns) == ["video", "numFrame", "seconds", "fps", "rfps", "subset",
                                  "featureFrame"]
    assert list(info.video.values) == ["v_b", "v_a"]
    assert list(info.numFrame.values) == [20 * 16 + 3, 7 * 16 + 3]
    np.testing.assert_allclose(info.seconds.values, [323 / 29.97, 115 / 25.0], rtol=1e-12)
    assert list(info.fps.values) == [29.97, 25.0] and list(info.rfps.values) == [29.97, 25.0]
    assert list(info.subset.values) == ["validation", "validation"]
    assert list(info.featureFrame.values) == [20 * 16, 7 * 16]


def test_manifest_is_rewritten_after_every_video_and_resumes(tmp_path):
    writer = writer_in(tmp_path)
    assert not writer.done("a")
    write_video(writer, "a", 5)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert list(manifest["videos"]) == ["a"]
    assert manifest["videos"]["a"] == {
        "status": "done", "stem": "v_a", "num_snippets": 5, "dim": 5, "num_frames": 83,
        "frame_rate": 30.0, "seconds": 83 / 30.0, "feature_frames": 80,
        "subset": "validation"}
    assert manifest["run"]["streams"][1]["columns"] == [3, 5]
    assert (manifest["run"]["interval"], manifest["run"]["rescaling"],
            manifest["run"]["num_positions"]) == (16, "bsn", 100)
    write_video(writer, "b", 6)
    assert list(json.loads((tmp_path / "manifest.json").read_text())["videos"]) == ["a", "b"]

    resumed = writer_in(tmp_path)
    assert resumed.done("a") and resumed.done("b") and not resumed.done("c")
    os.remove(tmp_path / "npy" / "v_b.npy")
    assert not resumed.done("b")
    assert not writer_in(tmp_path, file_name="{media_id}").done("a")  # files under v_a


def test_failures_are_retried_and_skips_are_not(tmp_path):
    writer = writer_in(tmp_path)
    writer.record_failure("bad", "could not decode frame 12")
    writer.record_skip("short", "shorter than one snippet")
    resumed = writer_in(tmp_path)
    assert not resumed.done("bad") and resumed.done("short")
    videos = json.loads((tmp_path / "manifest.json").read_text())["videos"]
    assert videos == {"bad": {"status": "failed", "reason": "could not decode frame 12"},
                      "short": {"status": "skipped", "reason": "shorter than one snippet"}}
    assert not (tmp_path / "npy").exists()
    assert len(pd.read_csv(tmp_path / "video_info.csv")) == 0
    write_video(resumed, "bad", 4)
    assert resumed.done("bad")
    assert list(pd.read_csv(tmp_path / "video_info.csv").video) == ["v_bad"]


def test_two_media_ids_with_one_file_name_are_refused(tmp_path):
    write_video(writer_in(tmp_path), "a/b", 3)
    with pytest.raises(ValueError, match=r"'a/b' and 'a__b' both give the file name 'v_a__b'"):
        write_video(writer_in(tmp_path), "a__b", 3)


def test_features_not_matching_the_run_are_refused(tmp_path):
    writer = writer_in(tmp_path)
    with pytest.raises(ValueError, match="'x': features have 4 columns; the run's streams give 5"):
        writer.write("x", np.zeros((3, 4)), np.zeros(3), num_frames=50, frame_rate=30.0)
    with pytest.raises(ValueError, match=r"features must be \(T, D\) with T >= 1"):
        writer.write("x", np.zeros((0, 5)), np.zeros(0), num_frames=50, frame_rate=30.0)
    with pytest.raises(ValueError, match="stream columns must tile"):
        writer.set_run(streams=[{"name": "rgb", "columns": [0, 3]},
                                {"name": "flow", "columns": [4, 6]}], views=1)
    write_video(writer, "a", 3)
    with pytest.raises(ValueError, match=r"holds features of another run \(interval differ\)"):
        writer_in(tmp_path, interval=8)


def test_an_interrupted_write_leaves_no_file(tmp_path):
    path = str(tmp_path / "x.npy")

    def killed(file):
        file.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        storage.write_atomic(path, killed, "wb")
    assert os.listdir(tmp_path) == []


def test_a_broken_manifest_is_a_one_line_error(tmp_path):
    (tmp_path / "manifest.json").write_text('{"videos": ')
    with pytest.raises(ValueError, match="is not a feature manifest") as error:
        FeatureWriter(str(tmp_path), interval=16)
    assert "\n" not in str(error.value)


def test_check_writable_creates_the_folder(tmp_path):
    FeatureWriter(str(tmp_path / "a" / "b"), interval=16).check_writable()
    assert (tmp_path / "a" / "b").is_dir()


def test_check_writable_under_a_regular_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match="'.*file/out' does not exist and cannot be created"):
        FeatureWriter(str(tmp_path / "file" / "out"), interval=16).check_writable()
    with pytest.raises(OSError, match="'.*file' is not a folder"):
        FeatureWriter(str(tmp_path / "file"), interval=16).check_writable()


def test_check_writable_on_a_read_only_folder(tmp_path):
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("this user (root?) can write to a read-only folder")
        with pytest.raises(PermissionError, match="'.*read_only' is not writable") as error:
            FeatureWriter(str(folder), interval=16).check_writable()
        assert "\n" not in str(error.value)
    finally:
        folder.chmod(0o755)
