"""Finishing deferred training clips inside the training step, on the accelerator.

The pipeline (`tsn_tf.input.pipeline.train_clips.deferred_clip`) leaves each
clip's uint8 crops on a canvas; this resizes, mirrors and normalizes them
with plain TF ops, so it runs on GPU/TPU (and, with ``method="matmul"``,
compiles with XLA).
"""
from typing import Optional

import tensorflow as tf

from tsn_tf.input.pipeline import modalities


def _crop_boxes(crop_size, flip, canvas_size: int, output_size: int):
    """`crop_and_resize` boxes (B, 4) sampling crops at (1, 1) of the canvas
    with half-pixel centres, ``(i + 0.5) * extent / S - 0.5``; x reversed
    where `flip`."""
    scale = tf.cast(crop_size, tf.float32) / output_size                # (B, 2)
    start = 0.5 + 0.5 * scale
    end = start + (output_size - 1) * scale
    x_start = tf.where(flip, end[:, 1], start[:, 1])
    x_end = tf.where(flip, start[:, 1], end[:, 1])
    boxes = tf.stack([start[:, 0], x_start, end[:, 0], x_end], axis=1)
    return boxes / (canvas_size - 1)


def _taps(start, step, count: int, canvas_size: int):
    """Bilinear interpolation matrices (B, count, P): row i samples canvas
    coordinate ``start + i * step`` (start, step: (B,)) between its two taps."""
    coords = start[:, None] + step[:, None] * tf.range(count, dtype=tf.float32)
    low = tf.floor(coords)
    upper_weight = (coords - low)[..., None]
    low = tf.cast(low, tf.int32)
    return (tf.one_hot(low, canvas_size) * (1.0 - upper_weight)
            + tf.one_hot(low + 1, canvas_size) * upper_weight)


def _resize_by_matmul(images, boxes, output_size: int):
    """`crop_and_resize` of (B, K, P, P, D) images, one box per clip, as two
    batched matrix products (XLA-friendly: dense matmuls, no gathers)."""
    canvas = images.shape[-2]
    extent = boxes * (canvas - 1)
    step = (extent[:, 2:] - extent[:, :2]) / max(output_size - 1, 1)   # (B, 2), x < 0: flip
    rows = _taps(extent[:, 0], step[:, 0], output_size, canvas)          # (B, S, P)
    columns = _taps(extent[:, 1], step[:, 1], output_size, canvas)       # (B, S, P)
    images = tf.cast(images, tf.float32)
    resized = tf.einsum("bsp,bkpqd->bksqd", rows, images)
    return tf.einsum("bksqd,btq->bkstd", resized, columns)


def finish_deferred(inputs, *, modality: str, output_size: int, mean, std,
                    snippet_length: Optional[int] = None, method: str = "crop_and_resize"):
    """Resizes, mirrors and normalizes a batch of deferred training clips.

    Plain TF ops on any device; the training step runs it on the accelerator.

    Args:
      inputs: the clips of `make_dataset(..., training=True, defer_resize=True)`:
        ``frames`` uint8 (B, K, I, P, P, c): each snippet's I items (rgb: L
        frames; rgb_diff: L + 1; flow: x0, y0, x1, y1, ...), cropped to
        ``crop_size`` int32 (B, 2) and placed at (1, 1) of a P x P canvas
        (see `on_canvas`); ``flip`` bool (B,): mirror the clip (flow: x
        becomes 255 - x).
      modality, output_size, mean, std, snippet_length: as given to `make_dataset`.
      method: "crop_and_resize" (one batched op; no XLA kernel) or "matmul"
        (two batched matrix products per clip; compiles with XLA, for TPUs
        and `jit_compile` steps; ~2 x S x P^2 multiply-adds per channel).
    Returns:
      float32 (B, K, S, S, C·L): what `make_dataset` gives without
      `defer_resize` (computed there per clip with `tf.image.resize`, faster
      on CPU; equal within float rounding).
    """
    if method not in ("crop_and_resize", "matmul"):
        raise ValueError(f"method must be 'crop_and_resize' or 'matmul'. Received: {method!r}")
    stream = modalities.get_stream(modality)
    length = snippet_length or stream.default_length
    channels = stream.jpeg_channels * len(stream.keys) * length
    mean_vector, std_vector = modalities.normalization(mean, std, modality, channels)
    frames = inputs["frames"]
    canvas, depth = frames.shape[-2], frames.shape[2] * frames.shape[-1]
    shape = tf.shape(frames)
    boxes = _crop_boxes(inputs["crop_size"], inputs["flip"], canvas, output_size)
    images = modalities.items_to_channels(frames)                      # (B, K, P, P, D)
    if method == "matmul":
        resized = _resize_by_matmul(images, boxes, output_size)
    else:
        # a static count where known (grappler's cost model warns on an unknown
        # number of boxes, tensorflow/tensorflow#56904)
        clips = (frames.shape[0] * frames.shape[1] if frames.shape[0] is not None
                 else shape[0] * shape[1])
        resized = tf.image.crop_and_resize(
                tf.reshape(images, [clips, canvas, canvas, depth]),
                tf.repeat(boxes, shape[1], axis=0), tf.range(clips), [output_size, output_size])
        resized = tf.reshape(resized, [shape[0], shape[1], output_size, output_size, depth])
    invert_x = tf.logical_and(inputs["flip"], stream.inverts_x_on_flip)
    return modalities.normalize(modalities.differences(resized, modality, length), mean_vector,
                                std_vector, invert_x)

