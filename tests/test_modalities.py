"""Snippet assembly, flip, normalization and cropped decode on tiny tensors."""
import numpy as np
import pytest
import tensorflow as tf

from tsn_tf.input.pipeline import modalities
from tsn_tf.input.contract import schema

RNG = np.random.default_rng(2)


def _eager_and_mapped(fn, *tensors):
    """fn(*tensors) eagerly and inside Dataset.map; asserts both agree, returns it."""
    eager = fn(*tensors)
    mapped = next(iter(tf.data.Dataset.from_tensors(tensors).map(fn)))
    np.testing.assert_array_equal(eager, mapped)
    return np.asarray(eager)


def _stack(decoded, items_per_snippet):
    return modalities.items_to_channels(modalities.stack_snippets(decoded, items_per_snippet))


def test_stacked_items_are_item_major():
    items = RNG.integers(0, 255, (6, 2, 3, 3)).astype(np.uint8)  # S=2 snippets of L=3
    stacked = _eager_and_mapped(lambda x: _stack([x], 3), items)
    expected = np.concatenate([items[0::3], items[1::3], items[2::3]], axis=-1)
    np.testing.assert_array_equal(stacked, expected)
    assert stacked.shape == (2, 2, 3, 9)
    np.testing.assert_array_equal(_stack([items], 1), items)


def test_flow_channels_are_x_y_interleaved_per_frame():
    flow_x = np.arange(4, dtype=np.uint8).reshape(4, 1, 1, 1) * 10      # frame i: 10 i
    flow_y = 100 + np.arange(4, dtype=np.uint8).reshape(4, 1, 1, 1)     # frame i: 100 + i
    stacked = _eager_and_mapped(lambda x, y: _stack([x, y], 2), flow_x, flow_y)
    np.testing.assert_array_equal(stacked[:, 0, 0], [[0, 100, 10, 101], [20, 102, 30, 103]])
    pixels_x = RNG.integers(0, 256, (6, 2, 3, 1)).astype(np.uint8)
    pixels_y = RNG.integers(0, 256, (6, 2, 3, 1)).astype(np.uint8)
    stacked = _eager_and_mapped(lambda x, y: _stack([x, y], 3), pixels_x, pixels_y)
    expected = np.concatenate([np.concatenate([pixels_x[l::3], pixels_y[l::3]], -1)
                               for l in range(3)], axis=-1)
    np.testing.assert_array_equal(stacked, expected)


def test_rgb_difference_is_later_minus_earlier():
    frames = RNG.uniform(0, 255, (2, 3, 4, 3, 3)).astype(np.float32)  # (S, H, W, L+1=3, rgb)
    snippets = frames.reshape(2, 3, 4, 9)
    diffs = _eager_and_mapped(lambda x: modalities.rgb_difference(x, 3), snippets)
    expected = np.concatenate([frames[..., 1, :] - frames[..., 0, :],
                               frames[..., 2, :] - frames[..., 1, :]], axis=-1)
    np.testing.assert_allclose(diffs, expected, rtol=1e-6)


def test_flip_inverts_flow_x_and_nothing_else():
    snippets = RNG.integers(0, 256, (2, 3, 4, 10)).astype(np.float32)
    flipped = _eager_and_mapped(lambda x: modalities.flip_snippets(x, True), snippets)
    mirrored = snippets[:, :, ::-1, :]
    np.testing.assert_array_equal(flipped[..., 0::2], 255 - mirrored[..., 0::2])
    np.testing.assert_array_equal(flipped[..., 1::2], mirrored[..., 1::2])
    rgb = _eager_and_mapped(lambda x: modalities.flip_snippets(x, False), snippets[..., :3])
    np.testing.assert_array_equal(rgb, mirrored[..., :3])
    twice = modalities.flip_snippets(modalities.flip_snippets(snippets, True), True)
    np.testing.assert_array_equal(twice, snippets)


def test_normalization_tiles_per_channel_values():
    mean, std = modalities.normalization((1.0, 2.0, 3.0), 2.0, "rgb", 6)
    np.testing.assert_array_equal(mean, [1, 2, 3, 1, 2, 3])
    np.testing.assert_array_equal(std, [2] * 6)
    mean, _ = modalities.normalization(128.0, 1.0, "rgb_diff", 15)
    np.testing.assert_array_equal(mean, np.zeros(15))
    snippets = np.full((1, 1, 1, 6), 7.0, np.float32)
    out = _eager_and_mapped(lambda x: modalities.normalize(x, *modalities.normalization(
            (1.0, 2.0, 3.0), 2.0, "rgb", 6)), snippets)
    np.testing.assert_array_equal(out[0, 0, 0], [3, 2.5, 2, 3, 2.5, 2])
    with pytest.raises(ValueError, match=r"flow: mean has 3 values.*10 channels"):
        modalities.normalization((1.0, 2.0, 3.0), 1.0, "flow", 10)


def test_get_stream_names_known_modalities():
    assert modalities.get_stream("flow").keys == (schema.FLOW_X_ENCODED, schema.FLOW_Y_ENCODED)
    with pytest.raises(ValueError, match="'depth'.*rgb_diff"):
        modalities.get_stream("depth")


@pytest.mark.parametrize("channels", [1, 3])
def test_decode_with_box_equals_slice_of_full_decode(channels):
    images = RNG.integers(0, 256, (3, 24, 40, channels)).astype(np.uint8)
    jpegs = np.array([schema.jpeg_bytes(image[..., 0] if channels == 1 else image)
                      for image in images], dtype=object)
    full = _eager_and_mapped(lambda j: modalities.decode_frames(j, channels), jpegs)
    box = np.array([5, 8, 16, 24], np.int32)
    cropped = _eager_and_mapped(lambda j: modalities.decode_frames(j, channels, box), jpegs)
    assert full.shape == (3, 24, 40, channels) and cropped.shape == (3, 16, 24, channels)
    expected = full[:, 5:21, 8:32]
    # libjpeg's cropped decode upsamples chroma without the pixels right of
    # the window: colour frames may differ in the last column only.
    np.testing.assert_array_equal(cropped[:, :, :-1], expected[:, :, :-1])
    if channels == 1:
        np.testing.assert_array_equal(cropped, expected)


@pytest.mark.parametrize("invert_x", [False, True])
def test_normalize_equals_formula_with_optional_x_inversion(invert_x):
    snippets = RNG.integers(0, 256, (2, 3, 5, 10)).astype(np.uint8)
    mean = RNG.uniform(0, 255, 10).astype(np.float32)
    std = RNG.uniform(1, 64, 10).astype(np.float32)
    out = _eager_and_mapped(lambda x: modalities.normalize(
            x, tf.constant(mean), tf.constant(std), tf.constant(invert_x)), snippets)
    values = snippets.astype(np.float32)
    if invert_x:
        values[..., 0::2] = 255 - values[..., 0::2]
    np.testing.assert_allclose(out, (values - mean) / std, rtol=1e-5, atol=1e-4)


def test_normalize_inverts_x_per_leading_item():
    snippets = RNG.integers(0, 256, (3, 2, 4, 5, 10)).astype(np.uint8)
    mean = RNG.uniform(0, 255, 10).astype(np.float32)
    std = RNG.uniform(1, 64, 10).astype(np.float32)
    invert = np.array([True, False, True])
    out = _eager_and_mapped(lambda x: modalities.normalize(
            x, tf.constant(mean), tf.constant(std), tf.constant(invert)), snippets)
    values = snippets.astype(np.float32)
    values[invert, ..., 0::2] = 255 - values[invert, ..., 0::2]
    np.testing.assert_allclose(out, (values - mean) / std, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("modality, keys, jpeg_channels, length, extra, scales, inverts", [
    ("rgb", (schema.IMAGE_ENCODED,), 3, 1, 0, (1, .875, .75, .66), False),
    ("flow", (schema.FLOW_X_ENCODED, schema.FLOW_Y_ENCODED), 1, 5, 0, (1, .875, .75), True),
    ("warped_flow", (schema.WARPED_FLOW_X_ENCODED, schema.WARPED_FLOW_Y_ENCODED), 1, 5, 0,
     (1, .875, .75), True),
    ("rgb_diff", (schema.IMAGE_ENCODED,), 3, 5, 1, (1, .875, .75), False),
])
def test_streams_are_the_reference_settings(modality, keys, jpeg_channels, length, extra,
                                            scales, inverts):
    """tsn-pytorch: new_length 1 RGB, 5 flow and RGB diff (6 frames -> 5 diffs); crop scales
    [1, .875, .75, .66] for RGB, [1, .875, .75] otherwise; flip inverts flow x only."""
    stream = modalities.get_stream(modality)
    assert (stream.keys, stream.jpeg_channels, stream.default_length, stream.extra_frames,
            stream.scales, stream.inverts_x_on_flip) == (keys, jpeg_channels, length, extra,
                                                         scales, inverts)


def test_flip_mirrors_the_width_axis_at_any_rank():
    """(..., H, W, C): also a single image (rank 3) and eval views (rank 5)."""
    for shape in [(3, 4, 10), (2, 2, 3, 4, 10)]:
        snippets = RNG.integers(0, 256, shape).astype(np.float32)
        flipped = modalities.flip_snippets(snippets, True).numpy()
        mirrored = snippets[..., ::-1, :]
        np.testing.assert_array_equal(flipped[..., 1::2], mirrored[..., 1::2])
        np.testing.assert_array_equal(flipped[..., 0::2], 255 - mirrored[..., 0::2])


def test_normalization_names_a_bad_std():
    with pytest.raises(ValueError, match=r"flow: std has 3 values.*10 channels"):
        modalities.normalization(128.0, (1.0, 2.0, 3.0), "flow", 10)
