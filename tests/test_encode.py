"""The per-video ingestion function on real clips and broken files."""
import json
import pathlib
import pickle

import cv2
import numpy as np
import pytest
import tensorflow as tf

from tsn_tf.input.ingestion import encode, flow, video
from tsn_tf.input.contract import schema

DIS = encode.IngestOptions(flow_algorithm="dis")
DATA_DIR = pathlib.Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def part_0_record():
    return encode.ingest_video(DATA_DIR / "part_0.mp4", media_id="part_0", label_indices=[3],
                               label_strings=["arm wrestling"], options=DIS)


def test_part_0_counts_and_metadata(part_0_record, data_dir):
    record = part_0_record
    assert len(record.rgb_jpegs) == 32 and len(record.timestamps_us) == 32
    assert len(record.flow_x_jpegs) == len(record.flow_y_jpegs) == 31
    assert record.warped_flow_x_jpegs == []
    assert (record.height, record.width) == (256, 340)
    assert record.timestamps_us[-1] == round(16384 / 15360 * 1e6)  # the container's last PTS
    assert record.frame_rate == pytest.approx(31 / (16384 / 15360))
    assert (record.flow_bound, record.flow_algorithm) == (20.0, "dis")
    assert record.data_path == str(data_dir / "part_0.mp4")


def test_rgb_jpegs_decode_with_tf_close_to_source(part_0_record, data_dir):
    source = video.read_video(data_dir / "part_0.mp4", size=(340, 256)).frames
    for index in (0, 31):
        decoded = tf.io.decode_jpeg(part_0_record.rgb_jpegs[index]).numpy()
        assert decoded.shape == (256, 340, 3)
        assert np.abs(decoded.astype(int) - source[index]).mean() < 3.0


def test_flow_jpegs_match_direct_computation(part_0_record, data_dir):
    frames = video.read_video(data_dir / "part_0.mp4").frames
    gray = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames[9:11]]
    expected_x, expected_y = flow.quantize_flow(flow.compute_flow(*gray, "dis"), 20.0)
    stored_x = tf.io.decode_jpeg(part_0_record.flow_x_jpegs[9]).numpy()[..., 0]
    stored_y = tf.io.decode_jpeg(part_0_record.flow_y_jpegs[9]).numpy()[..., 0]
    assert stored_x.shape == (256, 340)
    assert np.abs(stored_x.astype(int) - expected_x).mean() < 1.5
    assert np.abs(stored_y.astype(int) - expected_y).mean() < 1.5


def test_sequence_example_round_trip(part_0_record):
    serialized = schema.to_sequence_example(part_0_record).SerializeToString()
    restored = schema.from_sequence_example(serialized)
    assert restored.rgb_jpegs == part_0_record.rgb_jpegs
    assert restored.flow_y_jpegs == part_0_record.flow_y_jpegs
    assert restored.timestamps_us == part_0_record.timestamps_us
    assert restored.flow_algorithm == "dis" and restored.label_strings == ["arm wrestling"]
    assert (restored.resize, restored.jpeg_quality) == ("340x256", 90)
    parameters = json.loads(restored.flow_parameters)  # OpenCV's DIS preset MEDIUM
    assert parameters["algorithm"] == "dis" and parameters["PatchSize"] == 8
    assert parameters["PatchStride"] == 3 and parameters["GradientDescentIterations"] == 25
    rgb_only = encode.IngestOptions(modalities=("rgb",), size=None, short_side=48,
                                    jpeg_quality=75, max_frames=2)
    record = encode.ingest_video(DATA_DIR / "part_0.mp4", media_id="p", label_indices=[0],
                                 label_strings=["a"], options=rgb_only)
    context = schema.to_sequence_example(record).context.feature
    assert context[schema.IMAGE_RESIZE].bytes_list.value == [b"short_side=48"]
    assert context[schema.IMAGE_JPEG_QUALITY].int64_list.value == [75]
    assert schema.FLOW_PARAMETERS not in context and schema.FLOW_ALGORITHM not in context


def test_ntsc_short_side_and_warped_flow_default_tvl1(data_dir):
    options = encode.IngestOptions(modalities=("rgb", "flow", "warped_flow"), size=None,
                                   short_side=48, max_frames=3)
    record = encode.ingest_video(data_dir / "test_video_structuralize.mp4", media_id="s",
                                 label_indices=[0], label_strings=["x"], options=options)
    assert (record.height, record.width) == (48, 86)  # 426x240 at short side 48
    assert record.frame_rate == pytest.approx(29.97002997)
    assert record.timestamps_us == [0, 33367, 66733]
    assert len(record.flow_x_jpegs) == len(record.warped_flow_y_jpegs) == 2
    assert record.flow_algorithm == "tvl1"
    assert tf.io.decode_jpeg(record.warped_flow_x_jpegs[0]).shape == (48, 86, 1)


def test_segments_in_microseconds(data_dir):
    record = encode.ingest_video(
            data_dir / "part_0.mp4", media_id="p", label_indices=[1, 2],
            label_strings=["a", "b"], segments=[(0.1, 0.5, 1, "a"), (0.6, 1.0333, 2, "b")],
            options=encode.IngestOptions(modalities=("rgb",), size=(32, 24)))
    assert record.segment_start_us == [100000, 600000]
    assert record.segment_end_us == [500000, 1033300]
    assert record.segment_label_strings == ["a", "b"]
    assert record.flow_x_jpegs == [] and record.flow_algorithm == ""
    example = schema.to_sequence_example(record)
    assert list(example.context.feature[schema.SEGMENT_END].int64_list.value) == \
        [500000, 1033300]


def test_bad_segment_names_video(data_dir):
    with pytest.raises(ValueError, match="vid7"):
        encode.ingest_video(data_dir / "part_0.mp4", media_id="vid7", label_indices=[0],
                            label_strings=["a"], segments=[(2.0, 1.0, 0, "a")])


@pytest.mark.parametrize("kind", ["empty", "garbage", "truncated_mp4", "truncated_avi"])
def test_bad_videos_raise_naming_path(tmp_path, data_dir, kind):
    if kind == "empty":
        path, data = tmp_path / "empty.mp4", b""
    elif kind == "garbage":
        path, data = tmp_path / "garbage.avi", bytes(range(256)) * 64
    else:
        source = data_dir / ("part_0.mp4" if kind == "truncated_mp4" else "test.avi")
        path, data = tmp_path / f"cut{source.suffix}", source.read_bytes()
        data = data[:len(data) // 2]
    path.write_bytes(data)
    with pytest.raises(video.VideoDecodeError) as error:
        encode.ingest_video(path, media_id="bad", label_indices=[0], label_strings=["a"],
                            options=encode.IngestOptions(modalities=("rgb",), size=(32, 24)))
    assert str(path) in str(error.value)
    if kind == "truncated_avi":
        assert "truncated" in str(error.value) and "of the 164 frames" in str(error.value)


def test_truncated_avi_allowed_keeps_prefix(tmp_path, data_dir):
    data = (data_dir / "test.avi").read_bytes()
    path = tmp_path / "cut.avi"
    path.write_bytes(data[:len(data) // 2])
    options = encode.IngestOptions(modalities=("rgb",), size=(32, 24), allow_truncated=True)
    record = encode.ingest_video(path, media_id="cut", label_indices=[0], label_strings=["a"],
                                 options=options)
    assert 0 < len(record.rgb_jpegs) < 164


@pytest.mark.parametrize("kwargs, message", [
    (dict(modalities=("rgb", "depth")), "modalities"), (dict(modalities=()), "modalities"),
    (dict(flow_algorithm="raft"), "raft"), (dict(short_side=256), "size=None"),
    (dict(flow_bound=0), "flow_bound"), (dict(jpeg_quality=101), "jpeg_quality")])
def test_options_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        encode.IngestOptions(**kwargs)


def test_function_and_options_pickle():
    options = encode.IngestOptions(modalities=["rgb"], short_side=128, size=None)
    assert pickle.loads(pickle.dumps(options)) == options
    assert pickle.loads(pickle.dumps(encode.ingest_video)) is encode.ingest_video
