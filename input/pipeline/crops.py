"""Crop boxes of TSN: multi-scale training crops and evaluation views.

A box is int32 ``(y, x, h, w)`` in pixels of the stored frame, the argument
order of `tf.io.decode_and_crop_jpeg`.

Training (tsn-pytorch `GroupMultiScaleCrop`): ``base = min(H, W)``; sizes
``int(base * s)`` for each scale, replaced by the output size when less than
3 px from it; a (w, h) pair of sizes whose scale indices differ by at most 1,
drawn uniformly from the list of such pairs; then one of 13 fixed offsets
with ``ws = (W - cw)//4``, ``hs = (H - ch)//4``: (0,0) (4ws,0) (0,4hs)
(4ws,4hs) (2ws,2hs) (0,2hs) (4ws,2hs) (2ws,4hs) (2ws,0) (ws,hs) (3ws,hs)
(ws,3hs) (3ws,3hs), as (x, y). A snapped size larger than the frame (frames
smaller than the output) is clamped to the frame.

Evaluation views of ``crop_size`` squares:
- 1: the centre crop ``((H - c)//2, (W - c)//2)``.
- 3: start, centre and end along the longer side, centred on the shorter.
- 10: 4 corners + centre (the first 5 fixed offsets, in that order), then the
  same 5 flipped horizontally (`eval_views` returns which views are flipped).
"""
import itertools

import tensorflow as tf

RGB_SCALES = (1.0, 0.875, 0.75, 0.66)
MOTION_SCALES = (1.0, 0.875, 0.75)  # flow, warped flow, RGB difference
MAX_DISTORT = 1
SNAP_PIXELS = 3

# (x, y) multipliers of (ws, hs) for the 13 fixed offsets; the first 5 are
# the corners and the centre used by 10-crop evaluation.
FIXED_OFFSET_STEPS = (
    (0, 0), (4, 0), (0, 4), (4, 4), (2, 2),
    (0, 2), (4, 2), (2, 4), (2, 0),
    (1, 1), (3, 1), (1, 3), (3, 3),
)


def scale_pairs(num_scales: int, max_distort: int = MAX_DISTORT):
    """(h index, w index) pairs allowed by the aspect rule, tsn-pytorch order."""
    return [(i, j) for i, j in itertools.product(range(num_scales), repeat=2)
            if abs(i - j) <= max_distort]


def crop_sizes(base, output_size: int, scales):
    """int32 (S,) crop sides ``int(base*s)``, snapped to `output_size` within 3 px."""
    sizes = tf.cast(tf.cast(base, tf.float64) * tf.constant(scales, tf.float64), tf.int32)
    return tf.where(tf.abs(sizes - output_size) < SNAP_PIXELS, output_size, sizes)


def multiscale_crop_box(height, width, output_size: int, scales, seed):
    """One random multi-scale crop with a fixed offset.

    Args:
      height, width: int32 scalars, frame size H, W.
      output_size: side the crop is resized to afterwards.
      scales: crop scales, e.g. `RGB_SCALES`.
      seed: (2,) int tensor for stateless random ops.
    Returns:
      int32 (4,) box (y, x, h, w).
    """
    height = tf.cast(height, tf.int32)
    width = tf.cast(width, tf.int32)
    sizes = crop_sizes(tf.minimum(height, width), output_size, scales)
    pairs = tf.constant(scale_pairs(len(scales)), tf.int32)
    seed_pair, seed_offset = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    pair = pairs[tf.random.stateless_uniform(
            [], seed_pair, 0, len(scale_pairs(len(scales))), dtype=tf.int32)]
    crop_h = tf.minimum(sizes[pair[0]], height)
    crop_w = tf.minimum(sizes[pair[1]], width)
    steps = tf.constant(FIXED_OFFSET_STEPS, tf.int32)
    step = steps[tf.random.stateless_uniform(
            [], seed_offset, 0, len(FIXED_OFFSET_STEPS), dtype=tf.int32)]
    x = step[0] * ((width - crop_w) // 4)
    y = step[1] * ((height - crop_h) // 4)
    return tf.stack([y, x, crop_h, crop_w])


def eval_views(height, width, crop_size: int, num_crops: int):
    """Evaluation crop boxes and flips.

    Args:
      height, width: int32 scalars, frame size (at least `crop_size`).
      crop_size: side of every square crop.
      num_crops: 1, 3 or 10.
    Returns:
      boxes: int32 (num_crops, 4) boxes (y, x, h, w).
      flips: Python list of num_crops bools, True where the view is mirrored.
    """
    height = tf.cast(height, tf.int32)
    width = tf.cast(width, tf.int32)
    if num_crops == 1:
        corners = [((height - crop_size) // 2, (width - crop_size) // 2)]
        flips = [False]
    elif num_crops == 3:
        long_steps = [0, 1, 2]  # start, centre, end (in halves of the slack)
        y_slack, x_slack = height - crop_size, width - crop_size
        tall = height > width
        corners = [(tf.where(tall, y_slack * s // 2, y_slack // 2),
                    tf.where(tall, x_slack // 2, x_slack * s // 2)) for s in long_steps]
        flips = [False] * 3
    elif num_crops == 10:
        ws, hs = (width - crop_size) // 4, (height - crop_size) // 4
        corners = [(mh * hs, mw * ws) for mw, mh in FIXED_OFFSET_STEPS[:5]] * 2
        flips = [False] * 5 + [True] * 5
    else:
        raise ValueError(f"eval_crops must be 1, 3 or 10. Received: {num_crops}")
    boxes = tf.stack([tf.stack([y, x, crop_size, crop_size]) for y, x in corners])
    return tf.cast(boxes, tf.int32), flips


# --- NumPy references --------------------------------------------------------

def np_fixed_offsets(width, height, crop_w, crop_h, more_fix_crop=True):
    """tsn-pytorch `fill_fix_offset`: list of (x, y)."""
    ws, hs = (width - crop_w) // 4, (height - crop_h) // 4
    steps = FIXED_OFFSET_STEPS if more_fix_crop else FIXED_OFFSET_STEPS[:5]
    return [(mw * ws, mh * hs) for mw, mh in steps]


def np_multiscale_candidates(height, width, output_size, scales):
    """Every (y, x, h, w) box tsn-pytorch's multi-scale crop can return (with repeats)."""
    base = min(height, width)
    sizes = [int(base * s) for s in scales]
    sizes = [output_size if abs(s - output_size) < SNAP_PIXELS else s for s in sizes]
    boxes = []
    for i, j in scale_pairs(len(scales)):
        crop_h, crop_w = min(sizes[i], height), min(sizes[j], width)
        for x, y in np_fixed_offsets(width, height, crop_w, crop_h):
            boxes.append((y, x, crop_h, crop_w))
    return boxes


def np_eval_views(height, width, crop_size, num_crops):
    """NumPy reference of `eval_views`: list of ((y, x, h, w), flipped)."""
    c = crop_size
    if num_crops == 1:
        return [(((height - c) // 2, (width - c) // 2, c, c), False)]
    if num_crops == 3:
        if height > width:
            ys = [0, (height - c) // 2, height - c]
            return [((y, (width - c) // 2, c, c), False) for y in ys]
        xs = [0, (width - c) // 2, width - c]
        return [(((height - c) // 2, x, c, c), False) for x in xs]
    five = [(y, x, c, c) for x, y in np_fixed_offsets(width, height, c, c, False)]
    return [(box, False) for box in five] + [(box, True) for box in five]
