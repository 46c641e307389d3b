"""Turning decoded frames into TSN snippets of one modality.

Channel layout of one snippet (what the first conv sees), as tsn-pytorch's
`Stack` builds it:
- rgb: L frames, channels [r0, g0, b0, r1, g1, b1, ...] (L = 1: 3 channels).
- flow / warped_flow: L flow fields, x and y interleaved per frame:
  [x0, y0, x1, y1, ...] (L = 5: 10 channels); tsn-pytorch appends x then y
  per frame and its flip inverts every even channel, i.e. x.
- rgb_diff: L + 1 frames give L differences ``f[t+1] - f[t]`` (later minus
  earlier, tsn-pytorch `TSN._get_diff`), channels [d0 rgb, d1 rgb, ...].

Values stay on the 0..255 scale until `normalize`. A horizontal flip of flow
inverts the x channels (``255 - v``) before normalization (`flip_snippets`
does both; the pipeline only mirrors and folds the inversion into
`normalize`, which is cheaper). RGB differences are normalized as
``diff / std``: the mean cancels in a difference (with BN-Inception's std 1
this is exactly tsn-pytorch's input).
"""
import dataclasses

import numpy as np
import tensorflow as tf

from tsn_tf.input.pipeline import crops
from tsn_tf.input.contract import schema


@dataclasses.dataclass(frozen=True)
class Stream:
    """How one modality is stored and stacked."""
    keys: tuple              # feature-list keys of the encoded frames
    group: str               # their group in the shard index (schema.FRAME_GROUPS)
    jpeg_channels: int       # channels of one decoded JPEG (3 RGB, 1 flow)
    default_length: int      # L of the reference code
    extra_frames: int        # frames read beyond L per snippet (rgb_diff: 1)
    scales: tuple            # multi-scale crop scales
    inverts_x_on_flip: bool  # flow: x channels become 255 - v when mirrored

    @property
    def default_items(self) -> int:
        """Frames a snippet of the default length reads."""
        return self.default_length + self.extra_frames


STREAMS = {
    "rgb": Stream((schema.IMAGE_ENCODED,), schema.RGB_GROUP, 3, 1, 0, crops.RGB_SCALES, False),
    "flow": Stream((schema.FLOW_X_ENCODED, schema.FLOW_Y_ENCODED), schema.FLOW_PREFIX, 1, 5, 0,
                   crops.MOTION_SCALES, True),
    "warped_flow": Stream((schema.WARPED_FLOW_X_ENCODED, schema.WARPED_FLOW_Y_ENCODED),
                          schema.WARPED_FLOW_PREFIX, 1, 5, 0, crops.MOTION_SCALES, True),
    "rgb_diff": Stream((schema.IMAGE_ENCODED,), schema.RGB_GROUP, 3, 5, 1, crops.MOTION_SCALES,
                       False),
}


def get_stream(modality: str) -> Stream:
    """The `Stream` of `modality`; a ValueError lists the known ones."""
    if modality not in STREAMS:
        raise ValueError(f"Unknown modality {modality!r}. Known: {sorted(STREAMS)}")
    return STREAMS[modality]


def stack_snippets(decoded, items_per_snippet: int):
    """Decoded frames of each stored key [(S·N, h, w, c)] -> uint8 (S, I, h, w, c).

    N = `items_per_snippet` consecutive frames per snippet and key; the I =
    N·keys items of a snippet come in the channel order above (flow: x0, y0,
    x1, y1, ...). Stacking on a new axis is a copy; the interleave into
    channels (`items_to_channels`) can come later, on floats or on the
    accelerator.
    """
    stacked = tf.stack(decoded, axis=1)                      # (S·N, keys, h, w, c)
    shape = tf.shape(stacked)
    return tf.reshape(stacked, [-1, items_per_snippet * len(decoded), shape[2], shape[3],
                                stacked.shape[-1]])


def items_to_channels(items):
    """(..., I, h, w, c) -> (..., h, w, I·c): a snippet's items as channels.

    One batched transpose of (items, pixels) planes.
    """
    shape = tf.shape(items)
    lead, count, depth = shape[:-4], items.shape[-4], items.shape[-1]
    if count == 1:
        return tf.reshape(items, tf.concat([lead, shape[-3:]], 0))
    planes = tf.reshape(items, [-1, count, shape[-3] * shape[-2], depth])
    return tf.reshape(tf.transpose(planes, [0, 2, 1, 3]),
                      tf.concat([lead, shape[-3:-1], [count * depth]], 0))


def rgb_difference(snippets, num_frames: int):
    """(S, H, W, 3·(L+1)) frames -> (S, H, W, 3·L) differences f[t+1] - f[t]."""
    shape = tf.shape(snippets)
    frames = tf.reshape(snippets, [shape[0], shape[1], shape[2], num_frames, 3])
    diffs = frames[..., 1:, :] - frames[..., :-1, :]
    return tf.reshape(diffs, [shape[0], shape[1], shape[2], 3 * (num_frames - 1)])


def mirror(images):
    """(..., H, W, C) mirrored along W.

    Reversed as rows (rows, W, C): TF's CPU kernel is 1.5-2.5x faster on
    these than on rank 4 or 5 when C > 1 (snippets; 5x slower when C = 1).
    """
    shape = tf.shape(images)
    rows = tf.reshape(images, [-1, shape[-2], shape[-1]])
    return tf.reshape(tf.reverse(rows, axis=[1]), shape)


def flip_snippets(snippets, invert_x: bool):
    """Mirrors (..., H, W, C) along W; with `invert_x` even channels become 255 - v."""
    flipped = mirror(snippets)
    if not invert_x:
        return flipped
    channels = snippets.shape[-1]
    is_x = tf.constant([c % 2 == 0 for c in range(channels)])
    return tf.where(is_x, tf.cast(255, flipped.dtype) - flipped, flipped)


def normalization(mean, std, modality: str, channels: int):
    """Per-channel (mean, std) float32 (channels,) vectors for a snippet.

    `mean`/`std` are a scalar, one value per stored channel (3 RGB; 1 or 2
    flow) tiled over the snippet, or one per snippet channel. rgb_diff uses
    mean 0 (see the module doc).
    """
    def expand(values, name):
        values = np.asarray(values, np.float32).reshape(-1)
        if values.size == 0 or channels % values.size:
            raise ValueError(f"{modality}: {name} has {values.size} values, which do not tile "
                             f"{channels} channels. Received: {values.tolist()}")
        return tf.constant(np.tile(values, channels // values.size))

    mean_vector = expand(mean, "mean")
    if modality == "rgb_diff":
        mean_vector = tf.zeros_like(mean_vector)
    return mean_vector, expand(std, "std")


def normalize(snippets, mean_vector, std_vector, invert_x=False):
    """(x - mean) / std over the last axis, float32; where `invert_x` the even
    channels are first inverted, x -> 255 - x.

    `invert_x` is a bool (may be a tensor) for all of `snippets`, or a (B,)
    tensor, one per item of the leading axis. Computed as one multiply-add
    over rows of W·C values: broadcasting a (C,) vector over a small last axis
    is ~7x slower in TF on CPU.
    """
    invert_x = tf.convert_to_tensor(invert_x)
    channels = mean_vector.shape[0]
    is_x = tf.logical_and(tf.constant([c % 2 == 0 for c in range(channels)]),
                          invert_x[..., None])                       # (C,) or (B, C)
    # (255 - x - mean) / std = x * (-1/std) + (255 - mean) / std
    scale = tf.where(is_x, -1.0 / std_vector, 1.0 / std_vector)
    offset = tf.where(is_x, (255.0 - mean_vector) / std_vector, -mean_vector / std_vector)
    shape = tf.shape(snippets)
    width = shape[-2]
    groups = 1 if invert_x.shape.rank == 0 else shape[0]
    rows = tf.reshape(tf.cast(snippets, tf.float32), [groups, -1, width * channels])
    row_scale = tf.tile(tf.reshape(scale, [-1, 1, channels]), [1, width, 1])
    row_offset = tf.tile(tf.reshape(offset, [-1, 1, channels]), [1, width, 1])
    rows = (rows * tf.reshape(row_scale, [-1, 1, width * channels])
            + tf.reshape(row_offset, [-1, 1, width * channels]))
    return tf.reshape(rows, shape)


def decode_frames(jpegs, channels: int, box=None):
    """Decodes encoded frames, cropping to `box` while decoding when given.

    Args:
      jpegs: string (F,) encoded JPEG frames of one video.
      channels: 3 for RGB, 1 for flow.
      box: optional int32 (4,) (y, x, h, w), the same for every frame.
    Returns:
      uint8 (F, h, w, channels). With a box, libjpeg decodes only the
      window's rows and blocks; for colour frames the last column may differ
      slightly from slicing a full decode (chroma upsampling at the window's
      right edge), grayscale is identical.
    """
    if box is None:
        decode = lambda jpeg: tf.io.decode_jpeg(jpeg, channels=channels)
    else:
        decode = lambda jpeg: tf.io.decode_and_crop_jpeg(jpeg, box, channels=channels)
    if jpegs.shape[0]:  # a static count: one op per frame, no loop (14% less CPU than map_fn)
        return tf.stack([decode(jpegs[i]) for i in range(jpegs.shape[0])])
    return tf.map_fn(decode, jpegs, fn_output_signature=tf.TensorSpec(
            [None, None, channels], tf.uint8), infer_shape=False)


def differences(clips, modality: str, length: int):
    """rgb_diff: float (..., S, S, 3·(L+1)) frames -> (..., S, S, 3·L); others unchanged."""
    if modality != "rgb_diff":
        return clips
    shape = tf.shape(clips)
    snippets = tf.reshape(clips, tf.concat([[-1], shape[-3:]], 0))
    return tf.reshape(rgb_difference(snippets, length + 1),
                      tf.concat([shape[:-1], [3 * length]], 0))

