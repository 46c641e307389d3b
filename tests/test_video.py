"""Decoding real clips: frame counts, rates, timestamps, sizing, broken files."""
import cv2
import numpy as np
import pytest

from tsn_tf.input import video


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
    assert decoded.frame_rate == 30.0
    assert decoded.timestamps_us[:3] == [0, 33333, 66667]
    assert decoded.timestamps_us[-1] == round(31 * 1e6 / 30)
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
