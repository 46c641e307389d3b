"""The synthetic dataset: real files, lists, determinism, the designed properties."""
import csv
import json

import cv2
import numpy as np
import pytest

from tsn_tf.input.ingestion import flow
from tsn_tf import synthetic

SIZE = (64, 48)
FRAMES = 12


def _decode(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return np.stack(frames)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("synthetic")
    lists = synthetic.make_synthetic_dataset(out_dir, videos_per_class=4, num_frames=FRAMES,
                                             size=SIZE, seed=3)
    return out_dir, lists


def test_lists_name_every_file_with_its_label(dataset):
    out_dir, lists = dataset
    rows = {split: list(csv.reader(open(lists[split]))) for split in ("train", "test")}
    assert len(rows["train"]) == 8 * 3 and len(rows["test"]) == 8 * 1
    written = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*.avi"))
    assert sorted(r[0] for r in rows["train"] + rows["test"]) == written
    for path, label in rows["train"] + rows["test"]:
        assert path.startswith(f"videos/{label}/{label}_")
    assert open(lists["classes"]).read().split() == list(synthetic.CLASSES)


def test_files_decode_to_requested_count_and_size(dataset):
    out_dir, _ = dataset
    for class_name in synthetic.CLASSES:
        frames = _decode(out_dir / "videos" / class_name / f"{class_name}_000.avi")
        assert frames.shape == (FRAMES, SIZE[1], SIZE[0], 3)


def test_same_seed_same_decoded_frames(dataset, tmp_path):
    out_dir, _ = dataset
    synthetic.make_synthetic_dataset(tmp_path, videos_per_class=1, num_frames=FRAMES,
                                     size=SIZE, seed=3)
    relative = "videos/up_and_left/up_and_left_000.avi"
    np.testing.assert_array_equal(_decode(tmp_path / relative), _decode(out_dir / relative))
    other = tmp_path / "other"
    synthetic.make_synthetic_dataset(other, videos_per_class=1, num_frames=FRAMES,
                                     size=SIZE, seed=4)
    assert np.abs(_decode(other / relative).astype(int) - _decode(out_dir / relative)).mean() > 5


def _mean_flow(frames, index):
    gray = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames[index:index + 2]]
    return flow.compute_flow(*gray, "dis").reshape(-1, 2).mean(axis=0)


def test_motion_pair_same_appearance_opposite_flow(dataset):
    out_dir, _ = dataset
    for index in range(4):
        left = _decode(out_dir / "videos/blob_left" / f"blob_left_{index:03d}.avi")
        right = _decode(out_dir / "videos/blob_right" / f"blob_right_{index:03d}.avi")
        np.testing.assert_array_equal(left[0], right[0])  # one frame cannot tell them apart
        assert abs(left.mean() - right.mean()) < 3.0  # only the covered background differs
        assert _mean_flow(left, 0)[0] < -0.02 < 0.02 < _mean_flow(right, 0)[0]


def test_appearance_pair_same_gray_different_colour(dataset):
    out_dir, _ = dataset
    red = _decode(out_dir / "videos/red_square/red_square_001.avi").astype(int)
    blue = _decode(out_dir / "videos/blue_square/blue_square_001.avi").astype(int)
    gray = [np.stack([cv2.cvtColor(f.astype(np.uint8), cv2.COLOR_BGR2GRAY) for f in v])
            .astype(int) for v in (red, blue)]
    assert np.abs(gray[0] - gray[1]).mean() < 1.0
    differs = np.abs(red - blue).max(axis=-1) > 60
    assert differs.mean() > 0.03  # the square, up to a tenth of the frame
    np.testing.assert_allclose(_mean_flow(red.astype(np.uint8), 0),
                               _mean_flow(blue.astype(np.uint8), 0), atol=0.05)


def test_order_pair_reverses_vertical_motion_between_halves(dataset):
    out_dir, _ = dataset
    up_down = _decode(out_dir / "videos/up_then_down/up_then_down_002.avi")
    down_up = _decode(out_dir / "videos/down_then_up/down_then_up_002.avi")
    early, late = 1, FRAMES - 3
    assert _mean_flow(up_down, early)[1] < -0.02 and _mean_flow(up_down, late)[1] > 0.02
    assert _mean_flow(down_up, early)[1] > 0.02 and _mean_flow(down_up, late)[1] < -0.02
    np.testing.assert_array_equal(up_down[0], down_up[0])


def test_untrimmed_segments_inside_duration(tmp_path):
    lists = synthetic.make_synthetic_dataset(tmp_path, videos_per_class=2, num_frames=60,
                                             size=SIZE, untrimmed=True, fps=20.0)
    database = json.load(open(lists["annotations"]))["database"]
    assert len(database) == 8
    assert {v["subset"] for v in database.values()} == {"training", "validation"}
    for video_id, entry in database.items():
        frames = _decode(tmp_path / "videos_untrimmed" / f"v_{video_id}.avi")
        assert frames.shape == (60, SIZE[1], SIZE[0], 3)
        assert entry["duration"] == pytest.approx(3.0)
        assert 1 <= len(entry["annotations"]) <= 2
        previous_end = 0.0
        for annotation in entry["annotations"]:
            start, end = annotation["segment"]
            assert previous_end <= start < end <= entry["duration"]
            assert annotation["label"] in synthetic.UNTRIMMED_CLASSES
            previous_end = end


def test_untrimmed_background_jitters_and_action_shows(tmp_path):
    lists = synthetic.make_synthetic_dataset(tmp_path, videos_per_class=1, num_frames=60,
                                             size=SIZE, untrimmed=True, fps=20.0, seed=5)
    video_id, entry = next(iter(json.load(open(lists["annotations"]))["database"].items()))
    frames = _decode(tmp_path / "videos_untrimmed" / f"v_{video_id}.avi").astype(int)
    action = np.zeros(60, bool)
    for annotation in entry["annotations"]:
        start, end = (int(round(t * 20)) for t in annotation["segment"])
        action[start:end] = True
    change = np.array([np.abs(frames[i + 1] - frames[i]).mean() for i in range(59)])
    background = change[~action[:-1] & ~action[1:]]
    inside = change[action[:-1] & action[1:]]
    assert len(background) and background.mean() > 0.3  # camera jitter: not frozen
    assert inside.mean() > background.mean() + 0.5  # the moving object adds change
