"""Evaluation views: decode the snippets, rescale the short side, cut the fixed
crops (1, 3 or 10) and their mirrors, normalize. Shared with serving
(`tsn_tf.ops.serving`), so evaluation and serving run one implementation.
"""
import tensorflow as tf

from tsn_tf.input.pipeline import crops
from tsn_tf.input.pipeline import modalities
from tsn_tf.input.pipeline import sampling


def eval_short_side(output_size: int) -> int:
    """Short side of evaluation frames for S x S inputs: tsn-pytorch's
    ``scale_size``, ``S * 256 // 224`` (256 for 224, 341 for 299)."""
    return output_size * 256 // 224


def rescaled_size(height, width, short_side: int):
    """int32 (2,) (height, width) after scaling the short side to `short_side`:
    the long side is ``short_side * long // short``, tsn-pytorch's
    ``int(size * h / w)`` (torchvision `Scale`) in integers, so min(H, W)
    becomes exactly `short_side`. Elementwise for arrays of sizes."""
    height, width = tf.cast(height, tf.int64), tf.cast(width, tf.int64)
    short = tf.cast(short_side, tf.int64)
    tall = width < height
    return tf.cast(tf.stack([tf.where(tall, short * height // width, short),
                             tf.where(tall, short, short * width // height)]), tf.int32)


def rescale_short_side(snippets, short_side: int):
    """(S, H, W, C) -> float32 with min(H, W) == short_side (kept when already so)."""
    shape = tf.shape(snippets)
    size = rescaled_size(shape[1], shape[2], short_side)
    return tf.cond(tf.reduce_all(size == shape[1:3]), lambda: tf.cast(snippets, tf.float32),
                   lambda: tf.image.resize(snippets, size))


def eval_clip(features, offsets, count, *, stream, length, **view_args):
    """Eval views of the snippets at `offsets` of the frames in ``features["frames"]``
    (a dict of string (N,) per stream key): float32 (crops, S, c, c, C·L)."""
    indices = tf.reshape(sampling.snippet_indices(offsets, length + stream.extra_frames,
                                                  count), [-1])
    jpegs = tf.stack([tf.gather(features["frames"][key], indices) for key in stream.keys])
    return eval_views(jpegs, stream=stream, length=length, **view_args)


def eval_views(jpegs, *, stream, modality, length, output_size, eval_crops, mean_vector,
                std_vector):
    """Eval views of snippets whose frames `jpegs` string (keys, S·items) holds in snippet
    order: float32 (crops, S, c, c, C·L)."""
    items = length + stream.extra_frames
    decoded = [modalities.decode_frames(jpegs[key], stream.jpeg_channels)
               for key in range(len(stream.keys))]
    snippets = rescale_short_side(
            modalities.items_to_channels(modalities.stack_snippets(decoded, items)),
            eval_short_side(output_size))
    shape = tf.shape(snippets)
    boxes, flips = crops.eval_views(shape[1], shape[2], output_size, eval_crops)
    views = []
    for view, flip in enumerate(flips):
        y, x = boxes[view, 0], boxes[view, 1]
        crop = snippets[:, y:y + output_size, x:x + output_size, :]
        views.append(modalities.flip_snippets(crop, False) if flip else crop)
    invert_x = tf.constant([flip and stream.inverts_x_on_flip for flip in flips])
    return modalities.normalize(modalities.differences(tf.stack(views), modality, length), mean_vector,
                                std_vector, invert_x)

