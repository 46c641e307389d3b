"""Training clips: crops on a canvas, `finish_deferred` against a NumPy resize, clips per read."""
import numpy as np
import pytest
import tensorflow as tf

from tsn_tf.input.pipeline import crops, modalities, sampling, train_clips
from tsn_tf.ops import deferred
from conftest import write_records
from test_pipeline import _dataset, _flat_video, _index, _video

RNG = np.random.default_rng(7)


def np_resize(image, size):
    """Bilinear resize with half-pixel centres, taps clamped to the image (as tf.image.resize)."""
    def taps(extent):
        source = (np.arange(size) + 0.5) * extent / size - 0.5
        floor = np.floor(source)
        lower = np.clip(floor, 0, extent - 1).astype(int)
        upper = np.clip(floor + 1, 0, extent - 1).astype(int)
        return lower, upper, (source - floor).astype(np.float64)

    image = image.astype(np.float64)
    top, bottom, fy = taps(image.shape[0])
    rows = image[top] + (image[bottom] - image[top]) * fy[:, None, None]
    left, right, fx = taps(image.shape[1])
    return rows[:, left] + (rows[:, right] - rows[:, left]) * fx[None, :, None]


def np_finish(items, flip, modality, mean, std, size):
    """Reference of one clip: items (K, I, h, w, c) -> (K, S, S, C) normalized."""
    snippets = []
    for snippet in items:
        frames = [np_resize(item, size) for item in snippet]          # (S, S, c) each
        if flip:
            frames = [f[:, ::-1] for f in frames]
            if modality == "flow":
                frames = [255 - f if i % 2 == 0 else f for i, f in enumerate(frames)]
        stacked = np.concatenate(frames, axis=-1)
        if modality == "rgb_diff":
            stacked = np.concatenate([stacked[..., 3 * (i + 1):3 * (i + 2)]
                                      - stacked[..., 3 * i:3 * (i + 1)]
                                      for i in range(len(frames) - 1)], axis=-1)
        snippets.append(stacked)
    return (np.stack(snippets) - mean) / std


@pytest.mark.parametrize("modality,items,depth", [("rgb", 1, 3), ("flow", 4, 1),
                                                  ("rgb_diff", 3, 3)])
def test_both_finishes_match_numpy_resize_flip_and_normalization(modality, items, depth):
    """`finish_deferred` (batched: crop_and_resize, and matmul compiled by XLA) and
    `_finish_clip` (tf.data, per clip)."""
    output, canvas = 16, 26
    # crops smaller than, equal to and larger than the output; every other clip mirrored
    sizes = [(11, 13), (16, 16), (24, 19), (7, 24)]
    flips = [False, True, True, False]
    clips = [RNG.integers(0, 256, (2, items, h, w, depth)).astype(np.uint8) for h, w in sizes]
    canvases = [train_clips.on_canvas(tf.constant(c), canvas) for c in clips]
    mean = 0.0 if modality == "rgb_diff" else 100.0
    length = items // 2 if modality == "flow" else items - (modality == "rgb_diff")
    inputs = {"frames": tf.stack(canvases), "crop_size": tf.constant(sizes),
              "flip": tf.constant(flips)}
    finish = lambda method: deferred.finish_deferred(
            inputs, modality=modality, output_size=output, mean=mean, std=4.0,
            snippet_length=length, method=method)
    out = finish("crop_and_resize").numpy()
    by_matmul = tf.function(finish, jit_compile=True)("matmul").numpy()
    stream = modalities.get_stream(modality)
    vectors = modalities.normalization(mean, 4.0, modality, out.shape[-1])
    for got, matmul, clip, flip in zip(out, by_matmul, clips, flips):
        expected = np_finish(clip, flip, modality, mean, 4.0, output)
        np.testing.assert_allclose(got, expected, atol=2e-3)
        np.testing.assert_allclose(matmul, expected, atol=2e-3)
        in_pipeline = train_clips.finish_clip(
                tf.constant(clip), tf.constant(flip), stream=stream, modality=modality,
                length=length, output_size=output, mean_vector=vectors[0], std_vector=vectors[1])
        np.testing.assert_allclose(in_pipeline, expected, atol=2e-3)


def test_canvas_holds_the_crop_with_repeated_edges_then_zeros():
    items = tf.constant(RNG.integers(1, 256, (2, 3, 5, 7, 1)).astype(np.uint8))
    canvas = train_clips.on_canvas(items, 10).numpy()
    assert canvas.shape == (2, 3, 10, 10, 1)
    np.testing.assert_array_equal(canvas[:, :, 1:6, 1:8], items)
    np.testing.assert_array_equal(canvas[:, :, 0, 1:8], items[:, :, 0])
    np.testing.assert_array_equal(canvas[:, :, 6, 1:8], items[:, :, -1])
    np.testing.assert_array_equal(canvas[:, :, 1:6, 0], items[:, :, :, 0])
    np.testing.assert_array_equal(canvas[:, :, 1:6, 8], items[:, :, :, -1])
    assert not canvas[:, :, 7:].any() and not canvas[:, :, :, 9:].any()


def test_deferred_flow_canvas_is_a_tsn_crop_of_the_stored_frames(tmp_path):
    # every flow frame the same noise: the canvas must be one of the multi-scale crops
    flow_x = RNG.integers(0, 256, (48, 64), np.uint8)
    flow_y = RNG.integers(0, 256, (48, 64), np.uint8)
    rgb = [np.zeros((48, 64, 3), np.uint8)] * 12
    video = _video("v0", rgb, [flow_x] * 11, [flow_y] * 11)
    pattern = write_records(tmp_path / "a.tfrecord", [video])
    x = tf.io.decode_jpeg(video.flow_x_jpegs[0]).numpy()[..., 0]
    y = tf.io.decode_jpeg(video.flow_y_jpegs[0]).numpy()[..., 0]
    candidates = crops.np_multiscale_candidates(48, 64, 42, crops.MOTION_SCALES)
    seen_flips = set()
    for seed in range(4):
        inputs, _ = next(iter(_dataset(pattern, modality="flow", training=True, output_size=42,
                                       seed=seed, defer_resize=True)))
        frames = inputs["frames"].numpy()[0]
        assert frames.shape == (3, 10, 50, 50, 1)   # canvas 42 * 256/224 + 2
        h, w = inputs["crop_size"].numpy()[0]
        crop = frames[:, :, 1:h + 1, 1:w + 1, 0]
        matches = [(y0, x0) for y0, x0, ch, cw in candidates if (ch, cw) == (h, w)
                   and np.array_equal(crop[:, 0::2], np.broadcast_to(
                       x[y0:y0 + h, x0:x0 + w], (3, 5, h, w)))
                   and np.array_equal(crop[:, 1::2], np.broadcast_to(
                       y[y0:y0 + h, x0:x0 + w], (3, 5, h, w)))]
        assert matches, (h, w)
        seen_flips.add(bool(inputs["flip"].numpy()[0]))
    assert seen_flips == {True, False}


@pytest.mark.parametrize("modality", ["rgb", "flow", "rgb_diff"])
def test_finished_dataset_equals_finish_deferred_of_the_deferred_one(tmp_path, modality):
    pattern = write_records(tmp_path / "a.tfrecord", [
            _video("v0", _noise(12, 3), [f[..., 0] for f in _noise(11, 1)],
                   [f[..., 0] for f in _noise(11, 1)])])
    args = dict(modality=modality, training=True, seed=5, deterministic=True, mean=9.0,
                std=3.0, output_size=24)
    clips, _ = next(iter(_dataset(pattern, **args)))
    inputs, _ = next(iter(_dataset(pattern, defer_resize=True, canvas_size=34, **args)))
    finished = deferred.finish_deferred(inputs, modality=modality, output_size=24, mean=9.0,
                                        std=3.0)
    assert clips.shape == finished.shape
    np.testing.assert_allclose(clips, finished, atol=1e-3)


def _noise(count, channels):
    return list(RNG.integers(0, 256, (count, 32, 48, channels)).astype(np.uint8))


def test_frames_larger_than_the_canvas_are_shrunk_to_fit(tmp_path):
    pattern = write_records(tmp_path / "a.tfrecord", [_flat_video("v0", 20, size=(64, 96))])
    inputs, _ = next(iter(_dataset(pattern, modality="rgb", training=True, output_size=16,
                                   seed=0, defer_resize=True, canvas_size=20)))
    assert inputs["frames"].shape == (1, 3, 1, 20, 20, 3)
    assert max(inputs["crop_size"].numpy()[0]) == 18
    clips = deferred.finish_deferred(inputs, modality="rgb", output_size=16, mean=0.0, std=1.0)
    frames = _index(clips.numpy()[0].mean(axis=(1, 2, 3)))
    assert all(f in r for f, r in zip(frames, sampling.np_train_offset_support(20, 3, 1)))
    assert np.abs(clips.numpy()[0] - 10 * frames[:, None, None, None]).max() <= 2


def test_defer_resize_is_for_training_the_video_streams(tmp_path):
    pattern = write_records(tmp_path / "a.tfrecord", [_flat_video("v0", 5)])
    with pytest.raises(ValueError, match="defer_resize=True.*training=False"):
        _dataset(pattern, modality="rgb", training=False, defer_resize=True)
    with pytest.raises(ValueError, match="modality='audio'"):
        _dataset(pattern, modality="audio", training=True, defer_resize=True)


def test_finish_deferred_names_an_unknown_method():
    inputs = {"frames": tf.zeros([1, 1, 1, 6, 6, 3], tf.uint8), "crop_size": tf.constant([[4, 4]]),
              "flip": tf.constant([False])}
    with pytest.raises(ValueError, match="'bicubic'"):
        deferred.finish_deferred(inputs, modality="rgb", output_size=4, mean=0.0, std=1.0,
                                 method="bicubic")
