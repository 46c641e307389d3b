"""Imported frame folders train the model the source videos' shards train (issue 23).

tsn-ingest of tests/data clips (DIS flow, short side 72) -> their stored JPEG bytes
written out as a dense_flow folder tree (img_/flow_x_/flow_y_%05d.jpg from 1, N RGB
and N - 1 flow) with TSN-caffe lists (`<folder> <num_frames> <label>`) -> tsn-ingest
--frames_dir. The two shard sets hold the same frames byte for byte, so tsn-train
(deterministic, same seed) and tsn-eval give the same scores on both.
"""
import pathlib

import numpy as np
import pytest

from export_helpers import run_module
from tsn_tf.input.contract import layout, schema
from tsn_tf.trainers import reports

DATA_DIR = pathlib.Path(__file__).parent / "data"
LIST = ("part_0.mp4,arm wrestling,train\ntest.avi,talking,train\n"
        "test_video_structuralize.mp4,talking,test\n")


def _ok(result):
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def read_records(folder: pathlib.Path, split: str):
    return {record.media_id: record for path in sorted(folder.glob(f"{split}-*.tfrecord"))
            for record in map(schema.from_sequence_example, layout.read_videos(str(path)))}


def write_dense_flow_tree(records, label_map, frames: pathlib.Path, list_file: pathlib.Path):
    """Each record's frames as dense_flow's `-o dir` files, and a TSN list of them."""
    lines = []
    for record in records.values():
        folder = frames / record.media_id
        folder.mkdir(parents=True)
        for stream, frames_of in (("img", record.rgb_jpegs), ("flow_x", record.flow_x_jpegs),
                                  ("flow_y", record.flow_y_jpegs)):
            for number, data in enumerate(frames_of, 1):
                (folder / f"{stream}_{number:05d}.jpg").write_bytes(data)
        lines.append(f"{folder} {len(record.rgb_jpegs)} {label_map[record.label_strings[0]]}\n")
    list_file.write_text("".join(lines))
    return str(list_file)


@pytest.fixture(scope="module")
def shard_sets(tmp_path_factory):
    """(shards from the videos, shards from their frames written out as folders)."""
    base = tmp_path_factory.mktemp("roundtrip")
    (base / "list.csv").write_text(LIST)
    videos = base / "from_videos"
    _ok(run_module("tsn_tf.input.ingestion.ingest_main", f"--video_dir={DATA_DIR}",
                   "--list_format=csv", f"--list_files={base / 'list.csv'}",
                   f"--output={videos}", "--flow=dis", "--short_side=72", "--workers=0",
                   "--num_shards=1"))
    label_map = {name: i for i, name in
                 enumerate((videos / "label_map.txt").read_text().splitlines())}
    lists = [write_dense_flow_tree(read_records(videos, split), label_map, base / "frames",
                                   base / f"clips_rgb_{split}_split_1.txt")
             for split in ("train", "test")]
    frames = base / "from_frames"
    result = _ok(run_module("tsn_tf.input.ingestion.ingest_main",
                            f"--frames_dir={base / 'frames'}", "--list_format=rawframes",
                            f"--list_files={','.join(lists)}",
                            f"--class_index={videos / 'label_map.txt'}", "--imported_flow=dis",
                            "--jpeg_quality=90", f"--output={frames}", "--workers=0",
                            "--num_shards=1"))
    assert "JPEG bytes copied unchanged" in result.stderr
    return videos, frames


def test_imported_shards_hold_the_videos_frames_byte_for_byte(shard_sets):
    videos, frames = shard_sets
    for split in ("train", "test"):
        expected, imported = read_records(videos, split), read_records(frames, split)
        assert sorted(imported) == sorted(expected) and expected
        for media_id, record in imported.items():
            source = expected[media_id]
            assert record.rgb_jpegs == source.rgb_jpegs and len(record.rgb_jpegs) > 30
            assert record.flow_x_jpegs == source.flow_x_jpegs
            assert record.flow_y_jpegs == source.flow_y_jpegs
            assert len(record.flow_x_jpegs) == len(record.rgb_jpegs) - 1
            assert record.label_indices == source.label_indices
            assert (record.width, record.height) == (source.width, source.height)
            assert record.flow_algorithm == "imported:dis" and record.flow_bound == 20.0
    assert (frames / "label_map.txt").read_text() == (videos / "label_map.txt").read_text()


def train_and_eval(shards: pathlib.Path, modality: str, out: pathlib.Path):
    run_dir = out / f"run_{modality}"
    _ok(run_module("tsn_tf.trainers.train", f"--train_shards={shards}/train-*",
                   f"--model_dir={run_dir}", f"--modality={modality}", "--backbone=tiny",
                   "--input_size=32", "--num_segments=2", "--batch_size=2", "--train_steps=3",
                   "--learning_rate=0.1", "--seed=7", "--deterministic", "--noprogress"))
    _ok(run_module("tsn_tf.trainers.evaluate", f"--model_dir={run_dir}",
                   f"--eval_shards={shards}/test-*", "--eval_crops=1", "--eval_segments=5",
                   f"--output_dir={out / 'eval'}"))
    ids, scores, *_ = reports.load_stream(out / "eval" / f"scores_{modality}.npz")
    return list(ids), scores


@pytest.mark.slow
@pytest.mark.parametrize("modality", ["rgb", "flow"])
def test_models_trained_on_either_shard_set_score_the_same(shard_sets, modality, tmp_path):
    videos, frames = shard_sets
    ids, from_videos = train_and_eval(videos, modality, tmp_path / "videos")
    imported_ids, from_frames = train_and_eval(frames, modality, tmp_path / "frames")
    assert ids == imported_ids == ["test_video_structuralize"]
    assert np.abs(from_videos).max() > 0
    np.testing.assert_array_equal(from_frames, from_videos)
