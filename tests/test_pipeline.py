"""End to end: shards written here -> `make_dataset` -> which frames and pixels came out."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf

from conftest import write_records
from tsn_tf.input.pipeline import crops, records, sampling
from tsn_tf.input.contract import layout, schema
from tsn_tf.input import pipeline

RNG = np.random.default_rng(3)


def _video(media_id, rgb, flow_x=(), flow_y=(), labels=(3,), frame_rate=10.0):
    """VideoRecord of uint8 frames (lists of HxWx3 RGB and HxW flow arrays)."""
    height, width = rgb[0].shape[:2]
    return schema.VideoRecord(
            media_id=media_id, label_indices=list(labels), label_strings=["x"] * len(labels),
            height=height, width=width, frame_rate=frame_rate,
            rgb_jpegs=[schema.jpeg_bytes(f) for f in rgb],
            timestamps_us=[int(i * 1e6 / frame_rate) for i in range(len(rgb))],
            flow_x_jpegs=[schema.jpeg_bytes(f) for f in flow_x],
            flow_y_jpegs=[schema.jpeg_bytes(f) for f in flow_y])


def _flat_video(media_id, num_frames, labels=(3,), size=(32, 48)):
    """Frame i is flat: RGB 10 i, flow x 10 i, flow y 250 - 10 i (N-1 flow frames)."""
    rgb = [np.full(size + (3,), 10 * i, np.uint8) for i in range(num_frames)]
    flow_x = [np.full(size, 10 * i, np.uint8) for i in range(num_frames - 1)]
    flow_y = [np.full(size, 250 - 10 * i, np.uint8) for i in range(num_frames - 1)]
    return _video(media_id, rgb, flow_x, flow_y, labels)


def _dataset(pattern, **kwargs):
    args = dict(num_segments=3, batch_size=1, output_size=32, mean=0.0, std=1.0)
    return pipeline.make_dataset(pattern, **{**args, **kwargs})


def _index(values):
    return np.round(np.asarray(values) / 10.0).astype(int)


def test_training_rgb_samples_one_frame_per_segment_support(tmp_path):
    write_records(tmp_path / "a.tfrecord", [_flat_video("v0", 20), _flat_video("v1", 2)])
    clips, labels = next(iter(_dataset(str(tmp_path / "*.tfrecord"), modality="rgb",
                                       training=True, batch_size=2, seed=0)))
    assert clips.shape == (2, 3, 32, 32, 3) and clips.dtype == tf.float32
    np.testing.assert_array_equal(labels, [3, 3])
    for clip in clips.numpy():
        frames = _index(clip.mean(axis=(1, 2, 3)))
        num_frames = 20 if frames.max() > 1 else 2
        support = sampling.np_train_offset_support(num_frames, 3, 1)
        assert all(f in r for f, r in zip(frames, support)), frames
        assert np.abs(clip - 10 * frames[:, None, None, None]).max() <= 2


def test_training_flow_stacks_consecutive_fields_and_inverts_x_on_flip(tmp_path):
    write_records(tmp_path / "a.tfrecord", [_flat_video("v0", 20)])
    flips = set()
    for seed in range(6):
        clips, _ = next(iter(_dataset(str(tmp_path / "a.tfrecord"), modality="flow",
                                      training=True, seed=seed)))
        assert clips.shape == (1, 3, 32, 32, 10)
        values = clips.numpy()[0].mean(axis=(1, 2))          # (K, 10)
        frames = np.round((250 - values[:, 1::2]) / 10).astype(int)  # from y
        for snippet, support in zip(frames, sampling.np_train_offset_support(19, 3, 5)):
            assert snippet[0] in support
            np.testing.assert_array_equal(snippet, sampling.np_snippet_indices(
                    [snippet[0]], 5, 19)[0])
        x = values[:, 0::2]
        flipped = np.abs(x - (255 - 10 * frames)).max() <= 2
        assert flipped or np.abs(x - 10 * frames).max() <= 2
        flips.add(flipped)
    assert flips == {True, False}


def test_training_rgb_diff_gives_l_differences(tmp_path):
    write_records(tmp_path / "a.tfrecord", [_flat_video("v0", 20)])
    clips, _ = next(iter(_dataset(str(tmp_path / "a.tfrecord"), modality="rgb_diff",
                                  training=True, seed=1, std=2.0)))
    assert clips.shape == (1, 3, 32, 32, 15)
    assert np.abs(clips.numpy() - 5.0).max() <= 1.5  # (10 i+10 - 10 i) / 2


def _noise_frames(count, size, channels):
    frames = RNG.integers(0, 256, (count,) + size + (channels,)).astype(np.uint8)
    return [cv2.GaussianBlur(f, (0, 0), 1.5).reshape(size + (channels,)) for f in frames]


def _decoded(jpegs, channels):
    return np.stack([tf.io.decode_jpeg(j, channels=channels).numpy() for j in jpegs])


@pytest.mark.parametrize("modality", ["rgb", "flow"])
def test_eval_25_segments_10_crops_are_the_reference_pixel_blocks(tmp_path, modality):
    rgb = _noise_frames(30, (32, 48), 3)
    flow_x = [f[..., 0] for f in _noise_frames(29, (32, 48), 1)]
    flow_y = [f[..., 0] for f in _noise_frames(29, (32, 48), 1)]
    video = _video("v0", rgb, flow_x, flow_y)
    write_records(tmp_path / "a.tfrecord", [video])
    # output 28 -> frames are compared at short side 28 * 256/224 = 32: no resize
    clips, labels, extras = next(iter(_dataset(
            str(tmp_path / "a.tfrecord"), modality=modality, training=False, num_segments=25,
            eval_crops=10, output_size=28)))
    assert extras["media_id"].numpy().tolist() == [b"v0"]
    length = 1 if modality == "rgb" else 5
    if modality == "rgb":
        frames = _decoded(video.rgb_jpegs, 3)
    else:
        x, y = _decoded(video.flow_x_jpegs, 1), _decoded(video.flow_y_jpegs, 1)
        frames = np.concatenate([x, y], axis=-1)           # (N, H, W, 2)
    num_frames = len(frames)
    offsets = sampling.np_eval_offsets(num_frames, 25, length)
    indices = sampling.np_snippet_indices(offsets, length, num_frames)
    snippets = np.concatenate([frames[indices[:, l]] for l in range(length)], axis=-1)
    assert clips.shape == (1, 10, 25, 28, 28, snippets.shape[-1])
    for view, ((y0, x0, h, w), flip) in enumerate(crops.np_eval_views(32, 48, 28, 10)):
        expected = snippets[:, y0:y0 + h, x0:x0 + w].astype(np.float32)
        if flip:
            expected = expected[:, :, ::-1]
            if modality == "flow":
                expected[..., 0::2] = 255 - expected[..., 0::2]
        np.testing.assert_array_equal(clips[0, view], expected)


def test_real_clip_flow_short_video_rules(tmp_path, data_dir):
    capture = cv2.VideoCapture(str(data_dir / "part_0.mp4"))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    assert len(frames) == 32 and frames[0].shape == (256, 340, 3)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    video = _video("part_0", frames, flow_x=gray[1:], flow_y=gray[:-1], frame_rate=30.0)
    write_records(tmp_path / "real.tfrecord", [video])
    pattern = str(tmp_path / "real.tfrecord")
    clips, _, _ = next(iter(_dataset(pattern, modality="flow", training=False,
                                     num_segments=25, output_size=224, eval_crops=1)))
    x, y = _decoded(video.flow_x_jpegs, 1), _decoded(video.flow_y_jpegs, 1)
    offsets = sampling.np_eval_offsets(31, 25, 5)       # 31 < 25 + 5 - 1
    indices = sampling.np_snippet_indices(offsets, 5, 31)
    assert indices.max() == 30
    expected = np.stack([np.stack([x[indices[:, l], 16:240, 58:282, 0],
                                   y[indices[:, l], 16:240, 58:282, 0]], -1)
                         for l in range(5)], axis=-2).reshape(25, 224, 224, 10)
    np.testing.assert_array_equal(clips[0, 0], expected)
    train, _ = next(iter(_dataset(pattern, modality="flow", training=True, output_size=224,
                                  mean=128.0, std=1.0, seed=0)))
    assert train.shape == (1, 3, 224, 224, 10)
    assert -128.0 <= train.numpy().min() and train.numpy().max() <= 127.0


def test_multi_hot_labels_and_label_range_check(tmp_path):
    pattern = write_records(tmp_path / "a.tfrecord", [_flat_video("v0", 5, labels=(1, 4))])
    _, labels, _ = next(iter(_dataset(pattern, modality="rgb", training=False,
                                      multi_label=True, num_classes=5)))
    np.testing.assert_array_equal(labels, [[0, 1, 0, 0, 1]])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"outside \[0, 3\).*v0.*a.tfrecord"):
        next(iter(_dataset(pattern, modality="rgb", training=False, num_classes=3)))


def test_untrimmed_snippets_at_fixed_rate_with_timestamps(tmp_path):
    pattern = write_records(tmp_path / "a.tfrecord", [_flat_video("v0", 25), _flat_video("v1", 12)])
    clips, labels, extras = next(iter(_dataset(pattern, modality="rgb", training=False,
                                               untrimmed_fps=1.0, batch_size=2,
                                               deterministic=True)))
    # 10 fps: snippets at frames 0, 10, 20 and 0, 10
    assert clips.shape == (2, 1, 3, 32, 32, 3)
    np.testing.assert_array_equal(extras["num_snippets"], [3, 2])
    np.testing.assert_allclose(extras["timestamps"], [[0, 1, 2], [0, 1, 0]])
    np.testing.assert_array_equal(_index(clips.numpy()[0, 0].mean(axis=(1, 2, 3))), [0, 10, 20])
    np.testing.assert_array_equal(clips.numpy()[1, 0, 2], 0.0)  # padding


def test_same_seed_same_batches(tmp_path):
    for shard in range(3):
        write_records(tmp_path / f"s{shard}.tfrecord",
               [_flat_video(f"v{shard}{i}", 12 + 3 * i + shard) for i in range(2)])
    pattern = str(tmp_path / "*.tfrecord")

    def run(seed):
        dataset = _dataset(pattern, modality="rgb", training=True, batch_size=2, seed=seed,
                           deterministic=True, output_size=16)
        return np.concatenate([clips.numpy().ravel() for clips, _ in dataset])

    first = run(11)
    np.testing.assert_array_equal(first, run(11))
    assert not np.array_equal(first, run(12))


def test_missing_files_named():
    with pytest.raises(FileNotFoundError, match="nowhere-.*tfrecord"):
        _dataset("/nonexistent/nowhere-*.tfrecord", modality="rgb", training=True)


def _damage_frame(path, video, frame):
    """Flips a byte inside frame `frame` of the `video`-th video of shard `path`
    (its CRC no longer matches)."""
    index = layout.read_index(str(path))[video]
    offset = index.context.feature[schema.frame_offsets_key("image")].int64_list.value[frame]
    data = bytearray(path.read_bytes())
    data[offset + 12 + 5] ^= 0xFF
    path.write_bytes(bytes(data))


def _corrupt_shards(tmp_path):
    """good: g0, g1; truncated: its footer cut off; bad_frame: b1's frame 3 damaged."""
    good = write_records(tmp_path / "good.tfrecord", [_flat_video("g0", 6), _flat_video("g1", 6)])
    data = open(write_records(tmp_path / "tmp.tfrecord", [_flat_video("t0", 6)]), "rb").read()
    (tmp_path / "tmp.tfrecord").unlink()
    (tmp_path / "truncated.tfrecord").write_bytes(data[:len(data) - 100])
    bad = tmp_path / "bad_frame.tfrecord"
    write_records(bad, [_flat_video("b0", 6), _flat_video("b1", 6)])
    _damage_frame(bad, 1, 3)  # eval K=3 of 6 frames reads frames 1, 3, 5
    return good


def test_corrupt_shard_error_names_the_file_and_video(tmp_path):
    _corrupt_shards(tmp_path)
    dataset = _dataset(str(tmp_path / "truncated.tfrecord"), modality="rgb", training=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match="truncated.tfrecord.*relayout_main"):
        list(dataset)
    dataset = _dataset(str(tmp_path / "bad_frame.tfrecord"), modality="rgb", training=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match="video b1 of shard .*bad_frame"):
        list(dataset)


def test_a_frame_that_is_no_jpeg_is_named_with_its_stream_and_number(tmp_path):
    # 7 frames, 6 flow fields; eval K = 3, L = 1 reads fields 1, 3, 5 (tick 2), in
    # records x1 y1 x3 y3 x5 y5 (runs start at records 0, 2, 4).
    for name, broken, expected in [("x", [(schema.FLOW_X_ENCODED, 3)], "FLOW_X"),  # a run's 1st
                                   ("y", [(schema.FLOW_Y_ENCODED, 5)], "FLOW_Y"),  # its last
                                   ("xy", [(schema.FLOW_Y_ENCODED, 3),
                                           (schema.FLOW_X_ENCODED, 5)], "FLOW_Y")]:
        video = _flat_video("v", 7)
        for key, frame in broken:
            stream = video.flow_x_jpegs if key == schema.FLOW_X_ENCODED else video.flow_y_jpegs
            stream[frame] = b"GIF89a not a jpeg"
        shard = write_records(tmp_path / f"{name}.tfrecord", [_flat_video("good", 7), video])
        dataset = _dataset(shard, modality="flow", snippet_length=1, training=False)
        message = (f"shard {shard}, video v: {expected}/image/encoded frame {broken[0][1]} "
                   "is not a JPEG")
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            list(dataset)
    # RGB of the same video is intact; training of an RGB frame that is no JPEG
    video.rgb_jpegs = [b"\x89PNG"] * 7
    shard = write_records(tmp_path / "r.tfrecord", [video])
    dataset = _dataset(shard, modality="rgb", training=True, num_segments=1, seed=0)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=f"video v: {schema.IMAGE_ENCODED} frame [0-6] is not a JPEG"):
        list(dataset)


def test_skip_corrupt_keeps_the_good_videos(tmp_path):
    _corrupt_shards(tmp_path)
    dataset = _dataset(str(tmp_path / "*.tfrecord"), modality="rgb", training=False,
                       skip_corrupt=True)
    ids = sorted(extras["media_id"].numpy()[0] for _, _, extras in dataset)
    assert ids == [b"b0", b"g0", b"g1"]  # the truncated shard has no index, b1 a bad frame


def test_frames_not_sampled_are_not_read(tmp_path):
    path = tmp_path / "a.tfrecord"
    write_records(path, [_flat_video("v0", 20)])
    for frame in set(range(20)) - {3, 10, 16}:  # eval K=3 of 20 frames reads 3, 10, 16
        _damage_frame(path, 0, frame)
    clips, _, _ = next(iter(_dataset(str(path), modality="rgb", training=False)))
    np.testing.assert_array_equal(_index(clips.numpy()[0, 0].mean(axis=(1, 2, 3))), [3, 10, 16])


def test_old_layout_shard_is_refused_then_converted_by_the_command_it_names(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    path = str(old / "train-00000-of-00001.tfrecord")
    videos = [_flat_video("v0", 6), _flat_video("v1", 4, labels=(1,))]
    with tf.io.TFRecordWriter(path) as writer:
        for video in videos:
            writer.write(schema.to_sequence_example(video).SerializeToString())
    (old / "label_map.txt").write_text("a\nb\n")
    with pytest.raises(tf.errors.InvalidArgumentError, match="train-00000-of-00001.tfrecord.*"
                       "python -m tsn_tf.input.ingestion.relayout_main --input=GLOB --output=DIR"):
        list(_dataset(path, modality="rgb", training=True, seed=0))
    with pytest.raises(ValueError, match="00001.tfrecord has no readable .*relayout_main"):
        layout.read_index(path)
    result = subprocess.run([sys.executable, "-m", "tsn_tf.input.ingestion.relayout_main",
                             f"--input={old}/train-*", f"--output={tmp_path / 'new'}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    converted = str(tmp_path / "new" / "train-00000-of-00001.tfrecord")
    back = [schema.from_sequence_example(v) for v in layout.read_videos(converted)]
    assert [vars(v) for v in back] == [vars(v) for v in videos]
    assert (tmp_path / "new" / "label_map.txt").read_text() == "a\nb\n"
    _, labels, extras = next(iter(_dataset(converted, modality="rgb", training=False,
                                           batch_size=2)))
    assert extras["media_id"].numpy().tolist() == [b"v0", b"v1"]
    assert labels.numpy().tolist() == [3, 1]


def test_read_runs_returns_the_records_of_each_byte_run(tmp_path):
    path = str(tmp_path / "plain.tfrecord")
    data = [bytes([i]) * (i + 1) for i in range(6)]
    with tf.io.TFRecordWriter(path) as writer:
        for item in data:
            writer.write(item)
    ends = np.cumsum([len(d) + 16 for d in data])        # TFRecord framing: 16 bytes per record
    starts = ends - [len(d) + 16 for d in data]
    runs = ([starts[1], starts[4]], [ends[2], ends[4]], [2, 1])
    read = records.read_runs(path, *runs, "v")
    assert read.numpy().tolist() == [data[1], data[2], data[4]]
    dynamic = tf.function(lambda s, e, c: records.read_runs(path, s, e, c, "v"),
                          input_signature=[tf.TensorSpec([None], tf.int64)] * 2
                          + [tf.TensorSpec([None], tf.int32)])
    assert dynamic(*runs).numpy().tolist() == [data[1], data[2], data[4]]
    with pytest.raises(tf.errors.InvalidArgumentError, match="video v of shard .*plain"):
        records.read_runs(path, [starts[1]], [ends[1] + 1], [1], "v")   # wrong byte count


def test_layout_round_trip_and_index_without_frames(tmp_path):
    videos = [_flat_video("v0", 7), _flat_video("v1", 3, labels=(1, 2))]
    path = write_records(tmp_path / "a.tfrecord", videos)
    index = layout.read_index(path)
    assert [schema.media_id_of(video) for video in index] == ["v0", "v1"]
    assert not any(key.endswith("encoded") for video in index
                   for key in video.feature_lists.feature_list)
    offsets = index[1].context.feature["FLOW/frame/offset"].int64_list.value
    assert len(offsets) == 3                             # 2 flow frames, x and y each
    flow_bytes = [len(f) + 16 for pair in zip(videos[1].flow_x_jpegs, videos[1].flow_y_jpegs)
                  for f in pair]
    assert np.diff(offsets).tolist() == [flow_bytes[0] + flow_bytes[1],
                                         flow_bytes[2] + flow_bytes[3]]
    back = [schema.from_sequence_example(video) for video in layout.read_videos(path)]
    assert [vars(video) for video in back] == [vars(video) for video in videos]


def test_split_record_gives_split_videos_records_and_index(tmp_path):
    """Ingestion's fast path (no feature per frame) writes the shard the full
    SequenceExample writes, with every stream and audio, whatever the index's history."""
    video = _flat_video("v0", 6)
    video.warped_flow_x_jpegs, video.warped_flow_y_jpegs = video.flow_y_jpegs, video.flow_x_jpegs
    video.audio_present, video.audio_mel_bins, video.audio_feature_rate = True, 4, 100.0
    video.audio_log_mel = np.arange(12, dtype=np.float32).reshape(3, 4).tolist()
    video.audio_timestamps_us = [0, 10000, 20000]
    example = schema.to_sequence_example(video)
    records, index = layout.split_record(video)
    expected_records, expected_index = layout.split_video(example.SerializeToString())
    assert records == expected_records and index == expected_index
    with layout.ShardWriter(str(tmp_path / "split.tfrecord")) as writer:
        writer.add_split(records, index.SerializeToString())
    layout.write_shard_file(str(tmp_path / "full.tfrecord"), [example])
    assert (tmp_path / "split.tfrecord").read_bytes() == (tmp_path / "full.tfrecord").read_bytes()
    assert layout.read_videos(str(tmp_path / "split.tfrecord"))[0] == example


def test_training_and_eval_read_shards_on_a_tf_filesystem_url():
    root = f"ram://pipeline_test_{os.getpid()}"
    tf.io.gfile.makedirs(root)
    pattern = write_records(f"{root}/a.tfrecord", [_flat_video("v0", 20), _flat_video("v1", 9)])
    _, labels, extras = next(iter(_dataset(pattern, modality="flow", training=False,
                                           batch_size=2)))
    assert extras["media_id"].numpy().tolist() == [b"v0", b"v1"]
    clips, _ = next(iter(_dataset(pattern, modality="rgb", training=True, batch_size=2, seed=0)))
    assert clips.shape == (2, 3, 32, 32, 3)


def test_warped_flow_reads_its_own_group_beside_rgb_and_flow(tmp_path):
    video = _flat_video("v0", 20)
    size = (32, 48)
    video.warped_flow_x_jpegs = [schema.jpeg_bytes(np.full(size, 100 + 5 * i, np.uint8))
                                 for i in range(19)]
    video.warped_flow_y_jpegs = [schema.jpeg_bytes(np.full(size, 200 - 5 * i, np.uint8))
                                 for i in range(19)]
    pattern = write_records(tmp_path / "a.tfrecord", [video])
    clips, _, _ = next(iter(_dataset(pattern, modality="warped_flow", training=False)))
    values = clips.numpy()[0, 0].mean(axis=(1, 2))                        # (K, 10)
    indices = sampling.np_snippet_indices(sampling.np_eval_offsets(19, 3, 5), 5, 19)
    np.testing.assert_allclose(values[:, 0::2], 100 + 5 * indices, atol=1.5)
    np.testing.assert_allclose(values[:, 1::2], 200 - 5 * indices, atol=1.5)


def test_writer_refuses_streams_of_a_group_with_different_frame_counts(tmp_path):
    video = _flat_video("v0", 5)
    video.warped_flow_x_jpegs = video.flow_x_jpegs
    video.warped_flow_y_jpegs = video.flow_y_jpegs[:2]
    with pytest.raises(ValueError, match=r"v0: the streams .*WARPED_FLOW_X.* found \[4, 2\]"):
        write_records(tmp_path / "a.tfrecord", [video])
