"""Crop boxes against tsn-pytorch's formulas, written again here (not from crops.py's tables).

tsn-pytorch `GroupMultiScaleCrop`: ``base = min(H, W)``; sizes ``int(base * s)``
for s in [1, .875, .75, .66] (RGB) or [1, .875, .75] (flow, RGB difference),
replaced by the output size when less than 3 px from it; (w, h) pairs whose
scale indices differ by at most 1, one drawn uniformly; then one of the 13
offsets of `fill_fix_offset` drawn uniformly, with ``ws = (W - cw)//4`` and
``hs = (H - ch)//4``.
"""
import collections

import numpy as np
import pytest
import tensorflow as tf

from distribution import assert_fits
from tsn_tf.input.pipeline import crops

REFERENCE_RGB_SCALES = [1, .875, .75, .66]
REFERENCE_MOTION_SCALES = [1, .875, .75]
SCALES = {"rgb": (crops.RGB_SCALES, REFERENCE_RGB_SCALES),
          "motion": (crops.MOTION_SCALES, REFERENCE_MOTION_SCALES)}

RNG = np.random.default_rng(1)
SIZES = [(256, 340, 224), (240, 320, 224), (240, 426, 224), (48, 64, 32), (64, 48, 32),
         (30, 40, 32)] + [(int(RNG.integers(20, 300)), int(RNG.integers(20, 300)),
                           int(RNG.integers(16, 128))) for _ in range(12)]


def _reference_offsets(width, height, crop_w, crop_h):
    """tsn-pytorch `fill_fix_offset(more_fix_crop=True)`: 13 (x, y) in its order."""
    ws, hs = (width - crop_w) // 4, (height - crop_h) // 4
    return [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs),
            (0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0),
            (1 * ws, 1 * hs), (3 * ws, 1 * hs), (1 * ws, 3 * hs), (3 * ws, 3 * hs)]


def _reference_box_probabilities(height, width, output_size, scales):
    """{(y, x, h, w): probability} of tsn-pytorch's multi-scale crop (sizes
    larger than the frame clamped to it, for frames smaller than the output)."""
    base = min(height, width)
    sizes = [int(base * s) for s in scales]
    sizes = [output_size if abs(size - output_size) < 3 else size for size in sizes]
    pairs = [(sizes[j], sizes[i]) for i in range(len(sizes)) for j in range(len(sizes))
             if abs(i - j) <= 1]                                   # (w, h), its loop order
    probabilities = collections.Counter()
    for crop_w, crop_h in pairs:
        crop_w, crop_h = min(crop_w, width), min(crop_h, height)
        for x, y in _reference_offsets(width, height, crop_w, crop_h):
            probabilities[(y, x, crop_h, crop_w)] += 1 / (13 * len(pairs))
    return probabilities


def _boxes_in_map(height, width, output_size, scales, count):
    seeds = np.stack([np.arange(count), np.full(count, 9)], axis=1)
    dataset = tf.data.Dataset.from_tensor_slices(seeds).map(
            lambda seed: crops.multiscale_crop_box(height, width, output_size, scales, seed))
    return [tuple(box) for box in dataset.as_numpy_iterator()]


@pytest.mark.parametrize("base,output_size,kind,expected", [
        (256, 224, "rgb", [256, 224, 192, 168]),      # 168.96 truncated
        (256, 224, "motion", [256, 224, 192]),
        (240, 224, "rgb", [240, 210, 180, 158]),      # none within 3 px of 224
        (48, 32, "rgb", [48, 42, 36, 32]),            # 31 (31.68) snaps to 32
        (30, 32, "rgb", [32, 26, 22, 19]),            # 30 snaps up to 32
        (256, 190, "rgb", [256, 224, 190, 168]),      # 192 snaps down to 190
        (256, 195, "rgb", [256, 224, 192, 168]),      # 192 is 3 px away: kept
        (100, 66, "motion", [100, 87, 75])])
def test_crop_sizes_by_hand(base, output_size, kind, expected):
    scales, _ = SCALES[kind]
    np.testing.assert_array_equal(crops.crop_sizes(base, output_size, scales), expected)


def test_scale_pairs_follow_max_distort():
    assert crops.scale_pairs(3) == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 1), (2, 2)]
    assert len(crops.scale_pairs(4)) == 10


# (H, W, S, crop h, crop w) -> the 13 offsets (x, y), worked by hand in tsn-pytorch's order
FIXED_OFFSETS = [
    # ws = (340 - 224)//4 = 29, hs = (256 - 224)//4 = 8
    ((256, 340, 224, 224, 224), [(0, 0), (116, 0), (0, 32), (116, 32), (58, 16), (0, 16),
                                 (116, 16), (58, 32), (58, 0), (29, 8), (87, 8), (29, 24),
                                 (87, 24)]),
    # ws = (340 - 224)//4 = 29, hs = (256 - 256)//4 = 0: all on one row
    ((256, 340, 224, 256, 224), [(0, 0), (116, 0), (0, 0), (116, 0), (58, 0), (0, 0),
                                 (116, 0), (58, 0), (58, 0), (29, 0), (87, 0), (29, 0),
                                 (87, 0)]),
    # ws = (64 - 42)//4 = 5, hs = (48 - 36)//4 = 3
    ((48, 64, 32, 36, 42), [(0, 0), (20, 0), (0, 12), (20, 12), (10, 6), (0, 6), (20, 6),
                            (10, 12), (10, 0), (5, 3), (15, 3), (5, 9), (15, 9)]),
    # portrait: ws = (256 - 168)//4 = 22, hs = (340 - 192)//4 = 37
    ((340, 256, 224, 192, 168), [(0, 0), (88, 0), (0, 148), (88, 148), (44, 74), (0, 74),
                                 (88, 74), (44, 148), (44, 0), (22, 37), (66, 37), (22, 111),
                                 (66, 111)]),
]


@pytest.mark.parametrize("size,expected", FIXED_OFFSETS)
def test_fixed_offsets_by_hand(size, expected):
    height, width, output_size, crop_h, crop_w = size
    assert _reference_offsets(width, height, crop_w, crop_h) == expected
    drawn = {(x, y) for y, x, h, w in _boxes_in_map(height, width, output_size,
                                                    crops.RGB_SCALES, 4000)
             if (h, w) == (crop_h, crop_w)}
    assert drawn == set(expected)


@pytest.mark.parametrize("height,width,output_size", SIZES)
@pytest.mark.parametrize("kind", ["rgb", "motion"])
def test_multiscale_boxes_are_reference_candidates(height, width, output_size, kind):
    scales, reference_scales = SCALES[kind]
    candidates = _reference_box_probabilities(height, width, output_size, reference_scales)
    boxes = _boxes_in_map(height, width, output_size, scales, 50)
    eager = tuple(crops.multiscale_crop_box(
            height, width, output_size, scales, np.array([0, 9], np.int64)).numpy())
    assert eager == boxes[0]
    for y, x, h, w in boxes:
        assert (y, x, h, w) in candidates
        assert 0 <= y and y + h <= height and 0 <= x and x + w <= width


@pytest.mark.parametrize("height,width,output_size,kind", [
        (256, 340, 224, "rgb"), (256, 340, 224, "motion"), (340, 256, 224, "rgb"),
        (48, 64, 32, "rgb"), (30, 40, 32, "motion")])
def test_multiscale_boxes_follow_the_reference_distribution(height, width, output_size, kind):
    """Pair and offset uniform and independent: chi-square over every box."""
    scales, reference_scales = SCALES[kind]
    probabilities = _reference_box_probabilities(height, width, output_size, reference_scales)
    drawn = collections.Counter(_boxes_in_map(height, width, output_size, scales, 6000))
    assert set(drawn) <= set(probabilities)
    cells = sorted(probabilities)
    assert_fits([drawn[cell] for cell in cells], [probabilities[cell] for cell in cells])


# (H, W, crop, views) -> (y, x) of each view, worked by hand
EVAL_VIEWS = [
    ((256, 340, 224, 1), [(16, 58)]),
    ((256, 340, 224, 3), [(16, 0), (16, 58), (16, 116)]),
    ((340, 256, 224, 3), [(0, 16), (58, 16), (116, 16)]),
    # ws = (340-224)//4 = 29, hs = (256-224)//4 = 8: corners, centre; then mirrored
    ((256, 340, 224, 10), [(0, 0), (0, 116), (32, 0), (32, 116), (16, 58)] * 2),
    ((37, 50, 32, 1), [(2, 9)]),
    ((37, 50, 32, 3), [(2, 0), (2, 9), (2, 18)]),
    ((50, 37, 32, 3), [(0, 2), (9, 2), (18, 2)]),
    # ws = (50-32)//4 = 4, hs = (37-32)//4 = 1
    ((37, 50, 32, 10), [(0, 0), (0, 16), (4, 0), (4, 16), (2, 8)] * 2),
    ((32, 32, 32, 3), [(0, 0)] * 3),
    ((40, 40, 32, 3), [(4, 0), (4, 4), (4, 8)]),   # square: along the width
    ((32, 32, 32, 10), [(0, 0)] * 10),
]


@pytest.mark.parametrize("view,expected", EVAL_VIEWS)
def test_eval_views_by_hand(view, expected):
    height, width, crop_size, num_crops = view
    boxes, flips = crops.eval_views(height, width, crop_size, num_crops)
    assert [tuple(box) for box in boxes.numpy()] == [(y, x, crop_size, crop_size)
                                                     for y, x in expected]
    assert flips == ([False] * 5 + [True] * 5 if num_crops == 10 else [False] * num_crops)
    mapped = tf.data.Dataset.from_tensors((height, width)).map(
            lambda h, w: crops.eval_views(h, w, crop_size, num_crops)[0])
    np.testing.assert_array_equal(next(iter(mapped)), boxes)


def test_eval_views_reject_other_counts():
    with pytest.raises(ValueError, match="Received: 5"):
        crops.eval_views(256, 340, 224, 5)
