"""Crop boxes against NumPy references of tsn-pytorch's crops."""
import numpy as np
import pytest
import tensorflow as tf

from tsn_tf.input import crops

RNG = np.random.default_rng(1)
SIZES = [(256, 340, 224), (240, 320, 224), (240, 426, 224), (48, 64, 32), (64, 48, 32),
         (30, 40, 32)] + [(int(RNG.integers(20, 300)), int(RNG.integers(20, 300)),
                           int(RNG.integers(16, 128))) for _ in range(12)]


def _boxes_in_map(height, width, output_size, scales, count):
    seeds = np.stack([np.arange(count), np.full(count, 9)], axis=1)
    dataset = tf.data.Dataset.from_tensor_slices(seeds).map(
            lambda seed: crops.multiscale_crop_box(height, width, output_size, scales, seed))
    return [tuple(box) for box in dataset.as_numpy_iterator()]


@pytest.mark.parametrize("height,width,output_size", SIZES)
@pytest.mark.parametrize("scales", [crops.RGB_SCALES, crops.MOTION_SCALES])
def test_multiscale_boxes_are_reference_candidates(height, width, output_size, scales):
    candidates = set(crops.np_multiscale_candidates(height, width, output_size, scales))
    boxes = _boxes_in_map(height, width, output_size, scales, 50)
    eager = tuple(crops.multiscale_crop_box(
            height, width, output_size, scales, np.array([0, 9], np.int64)).numpy())
    assert eager == boxes[0]
    for y, x, h, w in boxes:
        assert (y, x, h, w) in candidates
        assert 0 <= y and y + h <= height and 0 <= x and x + w <= width


def test_multiscale_boxes_reach_every_candidate():
    candidates = set(crops.np_multiscale_candidates(256, 340, 224, crops.RGB_SCALES))
    assert len(candidates) > 50
    assert set(_boxes_in_map(256, 340, 224, crops.RGB_SCALES, 3000)) == candidates


def test_crop_sizes_snap_to_output_within_3_px():
    # 256 * [1, .875, .75, .66] = 256, 224, 192, 168 (168.96 truncated)
    np.testing.assert_array_equal(crops.crop_sizes(256, 224, crops.RGB_SCALES), [256, 224, 192, 168])
    np.testing.assert_array_equal(crops.crop_sizes(256, 190, crops.RGB_SCALES), [256, 224, 190, 168])
    np.testing.assert_array_equal(crops.crop_sizes(256, 195, crops.RGB_SCALES), [256, 224, 192, 168])


def test_scale_pairs_follow_max_distort():
    assert crops.scale_pairs(3) == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 1), (2, 2)]
    assert len(crops.scale_pairs(4)) == 10


@pytest.mark.parametrize("height,width", [(256, 340), (340, 256), (37, 50), (32, 32)])
@pytest.mark.parametrize("num_crops", [1, 3, 10])
def test_eval_views_equal_reference(height, width, num_crops):
    boxes, flips = crops.eval_views(height, width, 32, num_crops)
    expected = crops.np_eval_views(height, width, 32, num_crops)
    assert [tuple(b) for b in boxes.numpy()] == [box for box, _ in expected]
    assert flips == [flip for _, flip in expected]
    mapped = tf.data.Dataset.from_tensors((height, width)).map(
            lambda h, w: crops.eval_views(h, w, 32, num_crops)[0])
    np.testing.assert_array_equal(next(iter(mapped)), boxes)


def test_ten_crop_views_are_corners_centre_then_mirrors():
    boxes, flips = crops.eval_views(256, 340, 224, 10)
    # ws = (340-224)//4 = 29, hs = (256-224)//4 = 8
    expected = [(0, 0), (0, 116), (32, 0), (32, 116), (16, 58)] * 2
    assert [(y, x) for y, x, _, _ in boxes.numpy()] == expected
    assert flips == [False] * 5 + [True] * 5


def test_eval_views_reject_other_counts():
    with pytest.raises(ValueError, match="Received: 5"):
        crops.eval_views(256, 340, 224, 5)
