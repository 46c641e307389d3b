"""Evaluation frames: the short side S * 256 // 224 and the rescaled size, as tsn-pytorch.

References written here: torchvision's `Scale` (the resize of tsn-pytorch's
`GroupScale`): ``w < h: (int(size * h / w), size)`` else ``(size, int(size * w / h))``
in floating point, and OpenCV's bilinear resize for the pixels.
"""
import cv2
import numpy as np
import pytest
import tensorflow as tf

from conftest import write_records
from tsn_tf.input import pipeline
from tsn_tf.input.pipeline import eval_views
from tsn_tf.input.contract import schema

RNG = np.random.default_rng(15)


def _torchvision_scale_size(height, width, size):
    """(new height, new width) of torchvision `Scale(size)` (old torchvision, tsn-pytorch)."""
    tall = width < height
    new_height = np.where(tall, (size * height / width).astype(np.int64), size)
    new_width = np.where(tall, size, (size * width / height).astype(np.int64))
    return new_height, new_width


@pytest.mark.parametrize("output_size,short_side", [
        (224, 256), (299, 341), (32, 36), (28, 32), (42, 48), (112, 128), (256, 292)])
def test_eval_short_side_is_the_reference_floor(output_size, short_side):
    # by hand: 299 * 256 = 76544 = 341 * 224 + 160; 32 * 256 = 8192 = 36 * 224 + 128
    assert eval_views.eval_short_side(output_size) == short_side


@pytest.mark.parametrize("short_side", [256, 341, 36, 32])
def test_rescaled_size_equals_torchvision_for_every_size_up_to_2000(short_side):
    height, width = np.meshgrid(np.arange(1, 2001), np.arange(1, 2001), indexing="ij")
    height, width = height.ravel(), width.ravel()
    expected_height, expected_width = _torchvision_scale_size(height, width, short_side)
    size = eval_views.rescaled_size(height, width, short_side).numpy()
    np.testing.assert_array_equal(size[0], expected_height)
    np.testing.assert_array_equal(size[1], expected_width)
    assert np.all(np.minimum(size[0], size[1]) == short_side)


# (H, W, short side) -> the reference size, worked by hand; a float scale
# (short / min(H, W)) * long truncates the first four to 255 x 256, 256 x 511,
# 36 x 59 and 341 x 1022.
@pytest.mark.parametrize("height,width,short_side,expected", [
        (498, 498, 256, (256, 256)), (49, 98, 256, (256, 512)), (33, 55, 36, (36, 60)),
        (9, 27, 341, (341, 1023)), (55, 33, 36, (60, 36)), (256, 340, 256, (256, 340)),
        (240, 320, 36, (36, 48)), (50, 37, 32, (43, 32))])
def test_rescale_short_side_pixels_equal_opencv_bilinear(height, width, short_side, expected):
    frames = RNG.uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    rescaled = eval_views.rescale_short_side(tf.constant(frames.astype(np.uint8)), short_side)
    assert rescaled.dtype == tf.float32 and rescaled.shape == (2,) + expected + (3,)
    for frame, result in zip(frames.astype(np.uint8), rescaled.numpy()):
        reference = cv2.resize(frame.astype(np.float32), expected[::-1],
                               interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(result, reference, atol=1e-2)


def test_eval_centre_crop_comes_from_frames_at_36_for_32_inputs(tmp_path):
    """48x64 frames, S = 32: rescaled to 36x48 (not 37x49), centre crop at (2, 8)."""
    frames = [RNG.integers(0, 256, (48, 64, 3)).astype(np.uint8) for _ in range(4)]
    record = schema.VideoRecord(
            media_id="v", label_indices=[1], label_strings=["x"], height=48, width=64,
            frame_rate=10.0, rgb_jpegs=[schema.jpeg_bytes(f) for f in frames],
            timestamps_us=[i * 100000 for i in range(4)])
    pattern = write_records(tmp_path / "a.tfrecord", [record])
    clips, _, _ = next(iter(pipeline.make_dataset(
            pattern, modality="rgb", training=False, num_segments=4, batch_size=1,
            output_size=32, mean=0.0, std=1.0, eval_crops=1)))
    assert clips.shape == (1, 1, 4, 32, 32, 3)
    for segment, jpeg in enumerate(record.rgb_jpegs):   # tick 1: segment i reads frame i
        decoded = tf.io.decode_jpeg(jpeg).numpy().astype(np.float32)
        reference = cv2.resize(decoded, (48, 36), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(clips[0, 0, segment], reference[2:34, 8:40], atol=1e-2)
