"""Snippet features of shards (trainers/snippet_features.py): the snippets BSN/BMN use,
equal to tsn-eval's per-snippet scores and the backbone's features; failures named."""
import numpy as np
import pytest
import tensorflow as tf

from conftest import write_records
from export_helpers import make_run_dir
from tsn_tf.input import pipeline
from tsn_tf.input.contract import schema
from tsn_tf.input.pipeline import sampling
from tsn_tf.trainers import snippet_features, untrimmed
from tsn_tf.trainers.model_dir import RunConfig, restore_model

WIDTH, HEIGHT = 48, 36  # short side 36 = 32 * 256 // 224: eval views need no rescale
FPS = 25.0
INTERVAL = 8
LENGTHS = (30, 45, 61)


def _record(media_id, num_frames, seed, broken_frame=None, broken_flow=None):
    rng = np.random.default_rng(seed)

    def jpeg(channels):
        return schema.jpeg_bytes(rng.integers(0, 255, (HEIGHT, WIDTH, channels), np.uint8))

    rgb = [jpeg(3) for _ in range(num_frames)]
    if broken_frame is not None:
        rgb[broken_frame] = b"\xff\xd8 not a jpeg"  # JPEG magic, then garbage
    flow_x = [jpeg(1) for _ in range(num_frames - 1)]
    if broken_flow is not None:
        flow_x[broken_flow] = b"\xff\xd8 not a jpeg"
    return schema.VideoRecord(
            media_id=media_id, label_indices=[seed % 3], label_strings=[f"c{seed % 3}"],
            height=HEIGHT, width=WIDTH, frame_rate=FPS, rgb_jpegs=rgb,
            timestamps_us=[int(i * 1e6 / FPS) for i in range(num_frames)],
            flow_x_jpegs=flow_x,
            flow_y_jpegs=[jpeg(1) for _ in range(num_frames - 1)],
            flow_bound=20.0, flow_algorithm="synthetic")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("features")
    records = [_record(f"video_{i}", n, i) for i, n in enumerate(LENGTHS)]
    shards = write_records(folder / "untrimmed-00000-of-00001.tfrecord", records)
    return (shards, records, make_run_dir(folder / "rgb", "rgb", seed=1),
            make_run_dir(folder / "flow", "flow", seed=2))


def _streams(runs):
    _, _, rgb, flow = runs
    return [snippet_features.load_stream(rgb, "rgb"), snippet_features.load_stream(flow, "flow")]


def _eval_snippet_scores(run_dir, shards, crops=1):
    """tsn-eval --untrimmed --snippet_interval's scores: {media_id: (times, scores)}."""
    config = RunConfig.load(run_dir)
    mean, std = config.normalization()
    dataset = pipeline.make_dataset(shards, modality=config.modality, num_segments=1,
                                    training=False, batch_size=1, mean=mean, std=std,
                                    output_size=config.input_size, eval_crops=crops,
                                    snippet_interval=INTERVAL, multi_label=True,
                                    num_classes=config.num_classes, snippets_per_chunk=32)
    videos = untrimmed.video_snippet_scores(restore_model(run_dir, 1), dataset)
    return {media_id: (times, scores) for media_id, _, times, scores in videos}


def test_scores_equal_eval_snippet_scores(runs):
    shards, _, rgb, flow = runs
    results = list(snippet_features.video_features(
            _streams(runs), shards, [f"video_{i}" for i in range(3)], interval=INTERVAL,
            snippets_per_chunk=3))
    assert [r.media_id for r in results] == ["video_0", "video_1", "video_2"]
    for index, run_dir in enumerate((rgb, flow)):
        expected = _eval_snippet_scores(run_dir, shards)
        for result, length in zip(results, LENGTHS):
            times, scores = expected[result.media_id]
            count = len(result.times)
            # BSN's readData: the streams cut to the shortest (flow has N - 1 frames)
            assert count == len(np.arange(INTERVAL // 2, length - 1, INTERVAL))
            np.testing.assert_allclose(result.outputs[index]["scores"], scores[:count],
                                       rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(result.times, times[:count], atol=1e-6)
    centres = np.arange(INTERVAL // 2, LENGTHS[1] - 1, INTERVAL)
    np.testing.assert_allclose(results[1].times, centres / FPS, atol=1e-6)


def test_features_are_the_backbone_output_on_the_centre_crops(runs):
    shards, records, rgb, _ = runs
    stream = _streams(runs)[0]
    result = next(iter(snippet_features.video_features(
            [stream], shards, ["video_1"], interval=INTERVAL, snippets_per_chunk=4)))
    centres = np.arange(INTERVAL // 2, LENGTHS[1], INTERVAL)  # mmaction2's clip centres
    frames = np.stack([tf.io.decode_jpeg(records[1].rgb_jpegs[c]).numpy()  # TF's IDCT, as training
                       for c in centres]).astype(np.float32)
    top, left = (HEIGHT - 32) // 2, (WIDTH - 32) // 2
    config = RunConfig.load(rgb)
    crops = (frames[:, top:top + 32, left:left + 32] - np.float32(config.rgb_mean)) \
        / np.float32(config.rgb_std)
    backbone = restore_model(rgb, 1).get_layer("backbone").layer
    expected = backbone(crops, training=False).numpy()
    features, scores = result.outputs[0]["features"], result.outputs[0]["scores"]
    assert features.shape == (len(centres), expected.shape[1])
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)
    classifier = restore_model(rgb, 1).get_layer("classifier").layer
    np.testing.assert_allclose(classifier(features).numpy(), scores, rtol=1e-4, atol=1e-5)


def test_a_broken_video_is_named_and_the_others_continue(runs, tmp_path):
    _, records, _, _ = runs
    broken = _record("broken", 40, 7, broken_frame=INTERVAL // 2 + INTERVAL)  # a centre frame
    shards = write_records(tmp_path / "mixed-00000-of-00001.tfrecord",
                           [records[0], broken, records[2]])
    results = list(snippet_features.video_features(
            _streams(runs)[:1], shards, ["video_0", "broken", "video_2"], interval=INTERVAL,
            snippets_per_chunk=1))
    assert [type(r).__name__ for r in results] == ["VideoFeatures", "VideoFailed",
                                                   "VideoFeatures"]
    assert results[1].media_id == "broken" and "broken" in str(results[1].error)
    clean = list(snippet_features.video_features(
            _streams(runs)[:1], runs[0], ["video_0", "video_2"], interval=INTERVAL))
    for got, expected in zip((results[0], results[2]), clean):
        np.testing.assert_allclose(got.outputs[0]["scores"], expected.outputs[0]["scores"],
                                   atol=1e-6)


def test_media_ids_select_videos_in_shard_order(runs):
    shards = runs[0]
    assert [v.media_id for v in pipeline.list_videos(shards, "flow")] == \
        ["video_0", "video_1", "video_2"]
    assert [v.num_frames for v in pipeline.list_videos(shards, "flow")] == \
        [n - 1 for n in LENGTHS]
    dataset = pipeline.make_dataset(shards, modality="rgb", num_segments=1, training=False,
                                    batch_size=1, mean=0, std=1, output_size=32,
                                    snippet_interval=INTERVAL, media_ids=["video_2", "video_0"])
    assert [e["media_id"][0].numpy().decode() for _, _, e in dataset] == ["video_0", "video_2"]


def test_interval_count_counts_the_centres():
    for frames in range(0, 50):
        for interval in (5, 8, 16):
            assert sampling.interval_count(frames, interval) == \
                len(np.arange(interval // 2, frames, interval))


def test_a_model_of_another_modality_is_refused(runs):
    with pytest.raises(ValueError, match="is a flow model, given as the rgb stream"):
        snippet_features.load_stream(runs[3], "rgb")
    with pytest.raises(ValueError, match="interval must be >= 5, the frames a flow snippet reads"):
        pipeline.make_dataset(runs[0], modality="flow", num_segments=1, training=False,
                              batch_size=1, mean=0, std=1, snippet_interval=4)


def test_flow_features_read_the_five_flow_frames_around_each_centre(runs):
    """The flow stack cut by hand: flow frames c - 2 .. c + 2 (the last repeated past the
    end, as mmaction2 clips the indices), x and y interleaved, centre crop, normalized."""
    _, records, _, flow = runs
    result = next(iter(snippet_features.video_features(
            [snippet_features.load_stream(flow, "flow")], runs[0], ["video_1"],
            interval=INTERVAL, snippets_per_chunk=2)))
    count = LENGTHS[1] - 1  # flow frames
    centres = np.arange(INTERVAL // 2, count, INTERVAL)
    top, left = (HEIGHT - 32) // 2, (WIDTH - 32) // 2
    config = RunConfig.load(flow)

    def plane(jpeg):
        return tf.io.decode_jpeg(jpeg).numpy()[top:top + 32, left:left + 32, 0].astype("float32")

    stacks = np.stack([np.stack([plane(jpegs[min(max(c + d, 0), count - 1)])
                                 for d in range(-2, 3)
                                 for jpegs in (records[1].flow_x_jpegs, records[1].flow_y_jpegs)],
                                axis=-1) for c in centres])
    stacks = (stacks - np.float32(config.flow_mean)) / np.float32(config.flow_std)
    expected = restore_model(flow, 1).get_layer("backbone").layer(stacks, training=False)
    np.testing.assert_allclose(result.outputs[0]["features"], expected, rtol=1e-4, atol=1e-5)


def test_ten_crops_are_averaged(runs):
    shards, _, rgb, _ = runs
    result = next(iter(snippet_features.video_features(
            _streams(runs)[:1], shards, ["video_0"], interval=INTERVAL, eval_crops=10)))
    config = RunConfig.load(rgb)
    mean, std = config.normalization()
    clips, _, _ = next(iter(pipeline.make_dataset(
            shards, modality="rgb", num_segments=1, training=False, batch_size=1, mean=mean,
            std=std, output_size=32, eval_crops=10, snippet_interval=INTERVAL,
            media_ids=["video_0"])))
    views = clips[0].numpy()  # (10, T, 32, 32, 3)
    model = restore_model(rgb, 1)
    backbone, classifier = model.get_layer("backbone").layer, model.get_layer("classifier").layer
    per_view = np.stack([backbone(view, training=False).numpy() for view in views])
    np.testing.assert_allclose(result.outputs[0]["features"], per_view.mean(0), rtol=1e-4,
                               atol=1e-5)
    scores = np.stack([classifier(features).numpy() for features in per_view])
    np.testing.assert_allclose(result.outputs[0]["scores"], scores.mean(0), rtol=1e-4, atol=1e-5)
    assert not np.allclose(scores.mean(0), scores.max(0), atol=1e-3)  # the mean, not the max


def test_a_failure_in_the_second_stream_names_its_video(runs, tmp_path):
    _, records, _, _ = runs
    broken = _record("bad_flow", 40, 8, broken_flow=INTERVAL // 2 - 1)  # in the first stack
    shards = write_records(tmp_path / "flow-00000-of-00001.tfrecord",
                           [records[0], broken, records[2]])
    results = list(snippet_features.video_features(
            _streams(runs), shards, ["video_0", "bad_flow", "video_2"], interval=INTERVAL))
    assert [(type(r).__name__, r.media_id) for r in results] == [
            ("VideoFeatures", "video_0"), ("VideoFailed", "bad_flow"),
            ("VideoFeatures", "video_2")]


def test_a_media_id_twice_in_the_shards_is_refused(runs, tmp_path):
    _, records, _, _ = runs
    shards = write_records(tmp_path / "twice-00000-of-00001.tfrecord",
                           [records[0], records[1], records[0]])
    with pytest.raises(ValueError, match="'video_0' is in the shards twice"):
        snippet_features.shard_videos(shards, _streams(runs)[:1], INTERVAL)


def test_shards_without_timestamps_time_snippets_by_the_frame_rate(runs, tmp_path):
    _, records, _, _ = runs
    record = _record("no_times", 30, 9)
    record.rgb_jpegs, record.timestamps_us = [], []  # flow ingested alone
    shards = write_records(tmp_path / "flow_only-00000-of-00001.tfrecord", [record])
    assert snippet_features.shard_videos(shards, _streams(runs)[1:], INTERVAL)[0].num_frames \
        == 30
    result = next(iter(snippet_features.video_features(
            _streams(runs)[1:], shards, ["no_times"], interval=INTERVAL)))
    np.testing.assert_allclose(result.times, np.arange(INTERVAL // 2, 29, INTERVAL) / FPS,
                               atol=1e-6)
