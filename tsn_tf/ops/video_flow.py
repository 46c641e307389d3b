"""Flow stacks from RGB frames in the graph: decode, grey, TV-L1, quantize, as ingestion does.

Ingestion with a TF TV-L1 (``--flow=tvl1_*``, `tsn_tf.input.ingestion.flow_tf`)
and the SavedModel's signatures that take a video's RGB frames both run
`quantized_flows`, so a served flow model computes what its training shards
hold from the same RGB JPEGs:
  * decode: `tf.io.decode_jpeg` (TF's decoder, as the training pipeline);
  * grey: OpenCV 4's `cvtColor(BGR2GRAY)` on uint8, in integers:
    ``(9798 R + 19235 G + 3735 B + 16384) >> 15`` (imgproc `color.hpp` RY15,
    GY15, BY15: 0.299, 0.587, 0.114 in 15-bit fixed point; equal to cv2 for
    all 2^24 colours);
  * TV-L1 of each pair (`tvl1.tvl1_flow`);
  * quantize: dense_flow's ``v > b ? 255 : v < -b ? 0 : cvRound(255 (v + b) / 2b)``
    as ``round_half_even(v * 255 / 2b + 127.5)`` clipped to 0..255.
"""
import functools

import tensorflow as tf

from tsn_tf.ops import tvl1

# ingestion's --flow names of the TV-L1 variants -> `tvl1.tvl1_flow` variant
ALGORITHMS = {"tvl1_tsn": "tsn", "tvl1_denseflow": "denseflow", "tvl1_opencv": "opencv"}
_GREY_WEIGHTS = (9798, 19235, 3735)  # R, G, B; sum 2^15
_GREY_SHIFT = 15


def grey(rgb):
    """uint8 (..., 3) RGB -> uint8 (...) grey, bit-exact with OpenCV's BGR2GRAY."""
    weights = tf.constant(_GREY_WEIGHTS, tf.int32)
    total = tf.reduce_sum(tf.cast(rgb, tf.int32) * weights, axis=-1)
    return tf.cast(tf.bitwise.right_shift(total + (1 << (_GREY_SHIFT - 1)), _GREY_SHIFT),
                   tf.uint8)


def decode_grey(jpegs, height: int, width: int):
    """string (P,) RGB JPEGs of `height` x `width` -> float32 (P, H, W) grey, 0..255."""
    decoded = tf.map_fn(lambda jpeg: tf.io.decode_jpeg(jpeg, channels=3), jpegs,
                        fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
    decoded = tf.ensure_shape(decoded, [None, height, width, 3])
    return tf.cast(grey(decoded), tf.float32)


def quantize(flow, bound: float):
    """float32 flow (px) -> uint8, dense_flow's 8-bit mapping (zero flow -> 128)."""
    scaled = flow * tf.constant(255.0 / (2.0 * bound), tf.float32) + 127.5
    return tf.cast(tf.clip_by_value(tf.round(scaled), 0.0, 255.0), tf.uint8)


@functools.lru_cache(maxsize=None)
def _tvl1(variant: str, jit_compile: bool):
    return tf.function(functools.partial(tvl1.tvl1_flow, variant=variant),
                       jit_compile=jit_compile)


def quantized_flows(prev_jpegs, next_jpegs, *, variant: str, bound: float, height: int,
                    width: int, jit_compile: bool = False):
    """uint8 (P, H, W, 2) quantized TV-L1 flow (x, y) of P pairs of RGB JPEGs; with
    `jit_compile` TV-L1 is compiled with XLA (decoding has no XLA kernel)."""
    flow = _tvl1(variant, jit_compile)(decode_grey(prev_jpegs, height, width),
                                       decode_grey(next_jpegs, height, width))
    return quantize(flow, bound)
