"""Decoding real clips: frame counts, rates, timestamps, sizing, broken files."""
import cv2
import numpy as np
import pytest

from conftest import pyav_timestamps_us, write_vfr_video
from tsn_tf.input.ingestion import video


def _opencv_frames(path, limit):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return np.stack(frames)


def test_part_0_frames_rate_timestamps(data_dir):
    decoded = video.read_video(data_dir / "part_0.mp4")
    assert decoded.frames.shape == (32, 256, 340, 3)
    assert decoded.frames.dtype == np.uint8
    # The container's last PTS is 16384 / 15360 s (a frame skipped), not 31 / 30 s
    assert decoded.timestamps_us[:3] == [0, 33333, 66667]
    assert decoded.timestamps_us[-2:] == [1_000_000, 1_066_667]
    assert decoded.frame_rate == pytest.approx(31 / (16384 / 15360), rel=1e-12)  # 29.0625
    assert decoded.source_size == (340, 256)
    assert not decoded.truncated


def test_frames_are_rgb(data_dir):
    decoded = video.read_video(data_dir / "part_0.mp4", max_frames=2)
    np.testing.assert_array_equal(decoded.frames, _opencv_frames(data_dir / "part_0.mp4", 2))


def test_ntsc_rate_is_not_rounded(data_dir):
    decoded = video.read_video(data_dir / "test_video_structuralize.mp4", max_frames=4,
                               short_side=64)
    assert decoded.frame_rate == pytest.approx(30000 / 1001, rel=1e-9)
    assert decoded.timestamps_us == [0, 33367, 66733, 100100]
    assert not decoded.truncated  # stopped by max_frames, not by a cut


@pytest.mark.parametrize("name", ["part_0.mp4", "demo.mp4", "test.avi",
                                  "test_video_structuralize.mp4"])
def test_timestamps_are_the_containers_presentation_timestamps(data_dir, name):
    """PyAV's packet PTS from the first frame's as reference (the AVI's first is one period,
    its B-frame delay); the AVI's last frame has none in FFmpeg's decoder."""
    decoded = video.read_video(data_dir / name, size=(32, 24))
    pts = pyav_timestamps_us(data_dir / name)
    expected = [t - pts[0] for t in pts]
    assert decoded.timestamps_us == expected
    span_s = (expected[-1] - expected[0]) / 1e6
    assert decoded.frame_rate == pytest.approx((len(expected) - 1) / span_s, rel=1e-6)


def test_variable_frame_rate_file_keeps_its_gap(tmp_path):
    """30 fps with one 200 ms gap: exact times, the mean rate over the span."""
    path = write_vfr_video(tmp_path / "vfr.mp4", rate=30, num_frames=90, gap_after=45,
                           gap_ms=200)
    decoded = video.read_video(path)
    expected = [round(i * 1e6 / 30) if i < 45 else round((i - 1) * 1e6 / 30 + 200_000)
                for i in range(90)]
    assert decoded.timestamps_us == expected
    assert decoded.timestamps_us[45] - decoded.timestamps_us[44] == 200_000
    assert decoded.frame_rate == pytest.approx(89 / (44 / 30 + 0.2 + 44 / 30), rel=1e-9)


def test_presentation_times_fill_missing_and_backward_positions():
    times = video.presentation_times_us([40.0, 80.0, 0.0, 160.0, 160.0], container_rate=25.0)
    assert times == [40_000.0, 80_000.0, 120_000.0, 160_000.0, 200_000.0]
    assert video.rate_from_times([0.0, 500_000.0, 1_000_000.0], 30.0) == 2.0
    assert video.rate_from_times([7.0], 30.0) == 30.0


def test_full_frame_counts(data_dir):
    """Golden counts from PROVENANCE.md, by decoding every frame."""
    assert video.read_video(data_dir / "test_video_structuralize.mp4",
                            size=(32, 24)).num_frames == 300
    assert video.read_video(data_dir / "test.avi", size=(32, 24)).num_frames == 164


def test_short_side_keeps_aspect_with_even_sizes(data_dir):
    decoded = video.read_video(data_dir / "test_video_structuralize.mp4", short_side=128,
                               max_frames=1)
    assert decoded.frames.shape == (1, 128, 228, 3)  # 426x240 -> 227.2 -> even 228
    assert decoded.source_size == (426, 240)


def test_fixed_size_resizes_close_to_source(data_dir):
    decoded = video.read_video(data_dir / "test.avi", size=(340, 256), max_frames=1)
    assert decoded.frames.shape == (1, 256, 340, 3)
    reference = cv2.resize(_opencv_frames(data_dir / "test.avi", 1)[0], (340, 256))
    assert np.abs(decoded.frames[0].astype(int) - reference).mean() < 2.0


@pytest.mark.parametrize("source, size, short_side, expected", [
    ((426, 240), None, 256, (454, 256)),
    ((240, 426), None, 256, (256, 454)),
    ((320, 240), (340, 256), None, (340, 256)),
    ((320, 240), None, None, (320, 240)),
])
def test_output_size(source, size, short_side, expected):
    assert video.output_size(source, size, short_side) == expected


def test_output_size_rejects_both():
    with pytest.raises(ValueError, match="either size or short_side"):
        video.output_size((320, 240), (340, 256), 256)


def _broken(tmp_path, data_dir, kind):
    path = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(bytes(range(256)) * 64)
    elif kind == "truncated_mp4":
        data = (data_dir / "part_0.mp4").read_bytes()
        path.write_bytes(data[:len(data) // 2])
    elif kind == "zero_frames":
        path = tmp_path / "zero_frames.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
        writer.release()
    return path


@pytest.mark.parametrize("kind, reason", [
    ("missing", "does not exist"), ("empty", "empty"), ("garbage", "cannot open"),
    ("truncated_mp4", "moov"), ("zero_frames", "0 frames")])
def test_bad_files_raise_naming_path(tmp_path, data_dir, kind, reason):
    path = _broken(tmp_path, data_dir, kind)
    with pytest.raises(video.VideoDecodeError, match=reason) as error:
        video.read_video(path)
    assert str(path) in str(error.value)
    assert isinstance(error.value, ValueError)


def test_truncated_avi_decodes_prefix_and_is_flagged(tmp_path, data_dir):
    data = (data_dir / "test.avi").read_bytes()
    path = tmp_path / "cut.avi"
    path.write_bytes(data[:len(data) // 2])
    decoded = video.read_video(path, size=(32, 24))
    assert decoded.header_frame_count == 164
    assert 0 < decoded.num_frames < 164
    assert decoded.truncated


@pytest.mark.parametrize("decoded, header, truncated", [
    (164, 164, False), (162, 164, False), (77, 164, True), (10, 0, False)])
def test_is_truncated(decoded, header, truncated):
    assert video.is_truncated(decoded, header) == truncated


def test_parse_frame_size_as_both_tools_read_it():
    assert video.parse_frame_size("340x256") == (340, 256)
    assert video.parse_frame_size("340X256") == (340, 256)
    with pytest.raises(ValueError, match=r"WIDTHxHEIGHT like 340x256, got '340'"):
        video.parse_frame_size("340")
    with pytest.raises(ValueError, match=r"must be positive, got '0x256'"):
        video.parse_frame_size("0x256")
