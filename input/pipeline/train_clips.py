"""A training clip: decode only the crop window, then finish it here or defer it.

`train_items` decodes each sampled frame's multi-scale crop; `finish_clip`
mirrors, resizes and normalizes it in tf.data (CPU); `deferred_clip` leaves
uint8 crops on a canvas for `tsn_tf.ops.deferred.finish_deferred`, which the
training step runs on the accelerator.
"""
import tensorflow as tf

from tsn_tf.input.pipeline import crops
from tsn_tf.input.pipeline import eval_views
from tsn_tf.input.pipeline import modalities


def train_items(jpegs, seed, *, stream, num_segments, length, output_size):
    """One training clip's frames (`train_jpegs`), cropped while decoding, and its flip.

    Returns:
      (items, flip): uint8 (K, I, h, w, c) with I = items per snippet (rgb L,
      rgb_diff L + 1, flow 2L in the order x0, y0, x1, y1, ...) and c the
      JPEG channels; bool scalar, whether the clip is to be mirrored (by
      `finish_clip` or `finish_deferred`).
    """
    _, seed_crop, seed_flip = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    shape = tf.io.extract_jpeg_shape(jpegs[0, 0])
    box = crops.multiscale_crop_box(shape[0], shape[1], output_size, stream.scales, seed_crop)
    decoded = [modalities.decode_frames(jpegs[key], stream.jpeg_channels, box)
               for key in range(len(stream.keys))]
    items = modalities.stack_snippets(decoded, length + stream.extra_frames)
    return items, tf.random.stateless_uniform([], seed_flip) < 0.5


def finish_clip(items, flip, *, stream, modality, length, output_size, mean_vector,
                 std_vector):
    """One training clip finished in tf.data: float32 (K, S, S, C·L).

    Per clip with `tf.image.resize` (1.7-3.2x faster than `crop_and_resize`
    on one CPU core); the same results as `finish_deferred` within float
    rounding. TF's bilinear kernel takes 0.6-0.7x the time on float input for
    RGB frames but 0.8x on uint8 input for flow's single-channel items (the
    values are the same either way), hence the cast only for RGB. The uint8
    crop is mirrored before resizing (half-pixel bilinear sampling commutes
    with a mirror), 2-3x cheaper than mirroring the float output.
    """
    frames = modalities.items_to_channels(items)
    frames = tf.cond(flip, lambda: modalities.mirror(frames), lambda: frames)
    if stream.jpeg_channels == 3:
        frames = tf.cast(frames, tf.float32)
    size = tf.shape(frames)[1:3]
    resized = tf.cond(tf.reduce_all(size == output_size), lambda: tf.cast(frames, tf.float32),
                      lambda: tf.image.resize(frames, [output_size, output_size]))
    return modalities.normalize(modalities.differences(resized, modality, length), mean_vector, std_vector,
                                tf.logical_and(flip, stream.inverts_x_on_flip))


def on_canvas(items, canvas_size: int):
    """uint8 (K, I, h, w, c) -> (K, I, P, P, c): the crop at (1, 1), its edge
    rows and columns repeated once around it, zeros beyond.

    The repeated edge makes `finish_deferred`'s box sampling clamp at the
    crop's edges exactly as a half-pixel resize does. Built with `concat`:
    `tf.pad` of uint8 frames with a small channel axis is 7-13x slower on CPU.
    """
    def extend(frames, axis):
        first = tf.gather(frames, [0], axis=axis)
        last = tf.gather(frames, [tf.shape(frames)[axis] - 1], axis=axis)
        shape = tf.unstack(tf.shape(frames))
        shape[axis] = canvas_size - shape[axis] - 2
        return tf.concat([first, frames, last, tf.zeros(tf.stack(shape), tf.uint8)], axis=axis)

    return extend(extend(items, 3), 2)


def default_canvas_size(output_size: int) -> int:
    """Side of the canvas of deferred crops: the largest crop of frames whose
    short side is `eval_short_side` (256 for 224 inputs), plus a 1-pixel
    border on each side."""
    return eval_views.eval_short_side(output_size) + 2


def deferred_clip(items, flip, *, canvas_size):
    """One training clip left to `finish_deferred`: ``{"frames", "crop_size",
    "flip"}``. A crop larger than the canvas (frames with a short side above
    ``canvas_size - 2``) is first shrunk to fit."""
    shape = tf.shape(items)
    inner = canvas_size - 2

    def shrink():
        size = tf.cast(shape[2:4], tf.float64)
        fit = tf.cast(tf.math.floor(size * inner / tf.reduce_max(size)), tf.int32)
        frames = tf.reshape(items, tf.concat([[-1], shape[2:]], 0))
        frames = tf.cast(tf.round(tf.image.resize(frames, tf.maximum(fit, 1))), tf.uint8)
        return tf.reshape(frames, tf.concat([shape[:2], tf.shape(frames)[1:]], 0))

    items = tf.ensure_shape(tf.cond(tf.reduce_max(shape[2:4]) > inner, shrink, lambda: items),
                            items.shape)
    frames = tf.ensure_shape(on_canvas(items, canvas_size),
                             items.shape[:2] + [canvas_size, canvas_size] + items.shape[-1:])
    return {"frames": frames, "crop_size": tf.shape(items)[2:4], "flip": flip}

