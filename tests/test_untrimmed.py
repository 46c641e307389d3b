"""Untrimmed evaluation: chunked snippet scoring, aggregation table, bounded memory."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tsn_tf import temporal_integration
from tsn_tf.input.contract import layout, schema
from tsn_tf.input import pipeline
from tsn_tf.model import build_tsn
from tsn_tf.trainers import untrimmed

CLASSES, SIZE = 3, 32


def write_untrimmed_shard(path, lengths, fps=2.0, size=(40, 32)):
    """Videos of `lengths` frames at `fps`; video i has label i % CLASSES."""
    rng = np.random.default_rng(0)
    width, height = size
    with layout.ShardWriter(str(path)) as writer:
        for index, length in enumerate(lengths):
            frames = [schema.jpeg_bytes(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
                      for _ in range(length)]
            record = schema.VideoRecord(
                media_id=f"long_{index}", label_indices=[index % CLASSES],
                label_strings=[f"c{index % CLASSES}"], height=height, width=width,
                frame_rate=fps, rgb_jpegs=frames,
                timestamps_us=[int(i * 1e6 / fps) for i in range(length)])
            writer.add(schema.to_sequence_example(record))
    return str(path)


def _dataset(shard, chunk, crops=3):
    return pipeline.make_dataset(shard, modality="rgb", num_segments=1, training=False,
                                 batch_size=1, mean=127.5, std=127.5, output_size=SIZE,
                                 eval_crops=crops, untrimmed_fps=1.0, num_classes=CLASSES,
                                 multi_label=True, deterministic=True, snippets_per_chunk=chunk)


def _model():
    model = build_tsn(CLASSES, backbone="tiny", num_segments=1, input_size=SIZE)
    model.get_layer("classifier").layer.kernel.assign(
        np.random.default_rng(1).normal(size=(32, CLASSES)).astype("float32"))
    return model


def test_chunked_scores_equal_whole_video_scores(tmp_path):
    shard = write_untrimmed_shard(tmp_path / "u.tfrecord", lengths=[9, 22])
    model = _model()
    chunked = list(untrimmed.video_snippet_scores(model, _dataset(shard, chunk=4)))
    assert [v[0] for v in chunked] == ["long_0", "long_1"]
    for (media_id, labels, timestamps, scores), (clips, _, extras) in zip(
            chunked, _dataset(shard, chunk=None)):
        snippets = int(extras["num_snippets"][0])
        assert snippets == len(scores) == {"long_0": 5, "long_1": 11}[media_id]  # ceil(N / 2)
        np.testing.assert_allclose(timestamps, np.arange(snippets), atol=1e-6)
        whole = model(tf.reshape(clips[0, :, :snippets], (-1, 1, *clips.shape[3:])), training=False)
        expected = tf.reduce_max(tf.reshape(whole, (3, snippets, CLASSES)), axis=0)
        np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5)
        assert labels.shape == (CLASSES,) and labels.sum() == 1


def test_aggregation_table_uses_each_method(tmp_path):
    rng = np.random.default_rng(0)
    background = rng.normal(0, 0.5, (200, 4)).astype("float32")
    burst = background.copy()
    burst[90:110, 2] += 3.0  # a 20 s action of class 2 in a long background
    videos = [("a", np.eye(4)[2], np.arange(200.0), burst),
              ("b", np.eye(4)[0], np.arange(200.0), background + np.eye(4)[0])]
    table, ids, probabilities = untrimmed.evaluate_videos(videos)
    assert list(ids) == ["a", "b"] and set(table) == set(untrimmed.AGGREGATIONS)
    np.testing.assert_allclose(probabilities["mtwi"][0], temporal_integration.mtwi(burst), rtol=1e-6)
    np.testing.assert_allclose(probabilities["average"][0], tf.nn.softmax(burst.mean(0)), rtol=1e-5)
    assert probabilities["mtwi"][0][2] > probabilities["average"][0][2]
    assert table["mtwi"]["top1"] == 100.0
    with pytest.raises(ValueError, match="median"):
        untrimmed.aggregate(burst, "median")


MEMORY_SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    from test_untrimmed import _dataset, _model
    from tsn_tf.trainers import untrimmed
    model = _model()
    chunk = None if sys.argv[2] == "none" else int(sys.argv[2])
    dataset = _dataset(sys.argv[1], chunk, crops=10)
    count = sum(len(v[3]) for v in untrimmed.video_snippet_scores(model, dataset))
    # VmHWM: this process's own peak (ru_maxrss would carry the forking parent's over exec).
    peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status")
                   if line.startswith("VmHWM:"))
    print(json.dumps({{"snippets": count, "max_rss_mb": peak_kb / 1024}}))
""")


@pytest.mark.slow
def test_memory_stays_flat_as_the_video_grows(tmp_path):
    """Peak RSS of scoring a 60 vs a 480 snippet video: flat with chunks, growing without."""
    script = MEMORY_SCRIPT.format(tests=str(__import__("pathlib").Path(__file__).parent))
    peaks = {}
    for seconds in (60, 480):
        shard = write_untrimmed_shard(tmp_path / f"v{seconds}.tfrecord", [seconds], fps=1.0)
        for chunk in ("16", "none"):
            out = subprocess.run([sys.executable, "-c", script, shard, chunk], check=True,
                                 capture_output=True, text=True, timeout=600)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            assert result["snippets"] == seconds
            peaks[seconds, chunk] = result["max_rss_mb"]
    print("peak RSS MB (seconds, chunk):", peaks)
    # 420 more snippets x 10 crops x 32x32x3 floats x (frames, views, activations) is
    # well over 100 MB when everything is decoded at once.
    assert peaks[480, "none"] - peaks[60, "none"] > 100, peaks
    assert peaks[480, "16"] - peaks[60, "16"] < 40, peaks


@pytest.mark.slow
def test_tsn_eval_untrimmed_prints_the_aggregation_table(tiny_shards, tmp_path):
    model_dir = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "tsn_tf.trainers.train", f"--train_shards={tiny_shards}",
                    f"--model_dir={model_dir}", "--backbone=tiny", "--input_size=32",
                    "--num_segments=2", "--batch_size=4", "--train_steps=3", "--noprogress"],
                   check=True, capture_output=True, timeout=300)
    shard = write_untrimmed_shard(tmp_path / "u.tfrecord", lengths=[9, 22, 14])
    out = subprocess.run([sys.executable, "-m", "tsn_tf.trainers.evaluate", "--untrimmed",
                          f"--model_dir={model_dir}", f"--eval_shards={shard}", "--eval_crops=1",
                          "--snippets_per_chunk=4"], check=True, capture_output=True, text=True,
                         timeout=300)
    table = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(table) == set(untrimmed.AGGREGATIONS)
    for row in table.values():
        assert 0 <= row["mAP"] <= 100
        assert any(row["top1"] == pytest.approx(100 * hits / 3) for hits in range(4))
    saved = json.loads((model_dir / "eval" / "metrics_untrimmed.json").read_text())
    assert saved == table


def test_snippet_times_are_the_stored_presentation_timestamps(tmp_path):
    # A variable-rate video: 2 frames/s with a 2.5 s gap after frame 4. Nine
    # frames over 6 s make a mean rate of 8 / 6, so at 1 snippet/s snippets
    # start every 4/3 frames: frames 0, 1, 2, 4, 5, 6, 8. tsn-predict reports
    # their presentation times; offset / rate would say 0, .75, 1.5, 3, 3.75, 4.5, 6.
    stamps = [0, 500_000, 1_000_000, 1_500_000, 2_000_000, 4_500_000, 5_000_000,
              5_500_000, 6_000_000]
    rng = np.random.default_rng(0)
    record = schema.VideoRecord(
        media_id="vfr", label_indices=[0], label_strings=["c0"], height=32, width=40,
        frame_rate=8 / 6, timestamps_us=stamps,
        rgb_jpegs=[schema.jpeg_bytes(rng.integers(0, 255, (32, 40, 3), dtype=np.uint8))
                   for _ in stamps])
    shard = str(tmp_path / "vfr.tfrecord")
    with layout.ShardWriter(shard) as writer:
        writer.add(schema.to_sequence_example(record))
    for chunk in (None, 3):
        times = np.concatenate([extras["timestamps"][0, :int(extras["num_snippets"][0])]
                                for _, _, extras in _dataset(shard, chunk, crops=1)])
        np.testing.assert_allclose(times, [0, 0.5, 1.0, 2.0, 4.5, 5.0, 6.0], atol=1e-6)


def test_snippet_scores_file_round_trips_per_video(tmp_path):
    rng = np.random.default_rng(3)
    videos = [(f"v{i}", np.eye(CLASSES)[i % CLASSES], np.arange(n) * 0.64,
               rng.normal(size=(n, CLASSES)).astype("float32")) for i, n in enumerate((3, 1, 5))]
    path = str(tmp_path / "snippet_scores_rgb.npz")
    untrimmed.save_snippet_scores(path, videos)
    loaded = untrimmed.load_snippet_scores(path)
    assert list(loaded) == ["v0", "v1", "v2"]
    for media_id, _, times, scores in videos:
        np.testing.assert_array_equal(loaded[media_id][0], times)
        np.testing.assert_array_equal(loaded[media_id][1], scores)


def test_timestamp_rate_is_snippets_per_second():
    assert untrimmed.timestamp_rate(np.arange(10) * 16 / 30) == pytest.approx(30 / 16)
    assert untrimmed.timestamp_rate([4.0]) == 1.0
