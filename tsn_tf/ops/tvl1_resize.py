"""Bilinear resize of (B, H, W) float32 images as OpenCV's float32 `resize(INTER_LINEAR)`.

Transcribed from opencv `modules/imgproc/src/resize.cpp` (`resizeGeneric_`,
`HResizeLinear`, `VResizeLinear`; the float path, not the 8-bit fixed-point one):
source x = float32((dx + 0.5) * scale - 0.5) computed in double, sx = floor,
weights (1 - fx, fx) in float32; columns left of 0 or right of W - 1 are clamped
with the weight set to 0 (exact copies), rows are clamped but keep their weights.
Rows are interpolated after columns, each as `a * w0 + b * w1` in float32.
Index and weight tables are static Python constants (sizes are static).
"""
import math

import tensorflow as tf

from tsn_tf.ops.tvl1_float import cv_round, f32, ordered_sum


def _axis_table(src_len, dst_len, scale, clamp_weights):
    """(index0, index1, weight0, weight1) lists for one axis."""
    idx0, idx1, w0, w1 = [], [], [], []
    for d in range(dst_len):
        f = f32((d + 0.5) * scale - 0.5)
        s = math.floor(f)
        f = f32(f - s)
        if clamp_weights and s < 0:
            s, f = 0, 0.0
        if clamp_weights and s >= src_len - 1:
            s, f = src_len - 1, 0.0
        idx0.append(min(max(s, 0), src_len - 1))
        idx1.append(min(max(s + 1, 0), src_len - 1))
        w0.append(f32(1.0 - f))
        w1.append(f)
    return idx0, idx1, w0, w1


def resize_linear(images, size, scale=None):
    """(B, H, W) -> (B, h, w) like `cv::resize(src, dst, Size(w, h), fx, fy, INTER_LINEAR)`.

    `size` is (h, w). `scale` is the `fx = fy` OpenCV was given (dsize computed from
    it); None means an explicit dsize, whose sampling step is `1 / (w / W)`.
    """
    height, width = images.shape[1], images.shape[2]
    out_h, out_w = size
    if scale is None:
        scale_x, scale_y = 1.0 / (out_w / width), 1.0 / (out_h / height)
    else:
        scale_x = scale_y = 1.0 / scale
    x0, x1, wx0, wx1 = _axis_table(width, out_w, scale_x, clamp_weights=True)
    y0, y1, wy0, wy1 = _axis_table(height, out_h, scale_y, clamp_weights=False)
    wx0 = tf.constant(wx0, tf.float32)
    wx1 = tf.constant(wx1, tf.float32)
    rows = tf.gather(images, x0, axis=2) * wx0 + tf.gather(images, x1, axis=2) * wx1
    wy0 = tf.constant(wy0, tf.float32)[:, None]
    wy1 = tf.constant(wy1, tf.float32)[:, None]
    return tf.gather(rows, y0, axis=1) * wy0 + tf.gather(rows, y1, axis=1) * wy1


def scaled_size(height, width, factor):
    """OpenCV's dsize for `resize(..., Size(), factor, factor)`: rounded products."""
    return cv_round(height * factor), cv_round(width * factor)


def _gpu_axis_table(src_len, dst_len, step):
    """(index0, index1, weight0, weight1): src = float32(d * step), taps floor and +1 clamped."""
    idx0, idx1, w0, w1 = [], [], [], []
    for d in range(dst_len):
        x = f32(d * step)
        x1 = math.floor(x)
        idx0.append(min(max(x1, 0), src_len - 1))
        idx1.append(min(x1 + 1, src_len - 1))
        w0.append(f32((x1 + 1) - x))
        w1.append(f32(x - x1))
    return idx0, idx1, w0, w1


def resize_linear_gpu(images, size, scale=None):
    """(B, H, W) -> (B, h, w) like OpenCV's CUDA `resize(INTER_LINEAR)` on float32.

    Transcribed from opencv_contrib `modules/cudawarping/src/resize.cpp` and
    `cuda/resize.cu` (`resize_linear`, and `LinearFilter` of core's cuda
    `filters.hpp` on a clamping texture), the same in OpenCV 2.4's gpu module:
    source x = float32(dx * f) with f = float32(1 / (w / W)) (or float32(1 / scale)),
    no half-pixel offset; taps x1 = floor, x2 = min(x1 + 1, W - 1); the weight of
    each of the 4 taps is the float32 product `(x2 - x) * (y2 - y)` (x2 unclamped),
    summed in the order (y1, x1), (y1, x2), (y2, x1), (y2, x2).
    """
    height, width = images.shape[1], images.shape[2]
    out_h, out_w = size
    if scale is None:
        step_x, step_y = f32(1.0 / (out_w / width)), f32(1.0 / (out_h / height))
    else:
        step_x = step_y = f32(1.0 / scale)
    x0, x1, wx0, wx1 = _gpu_axis_table(width, out_w, step_x)
    y0, y1, wy0, wy1 = _gpu_axis_table(height, out_h, step_y)
    top = tf.gather(images, y0, axis=1)
    bottom = tf.gather(images, y1, axis=1)
    wx0 = tf.constant(wx0, tf.float32)[None, :]
    wx1 = tf.constant(wx1, tf.float32)[None, :]
    wy0 = tf.constant(wy0, tf.float32)[:, None]
    wy1 = tf.constant(wy1, tf.float32)[:, None]
    first = tf.gather(top, x0, axis=2) * (wx0 * wy0)
    return ordered_sum(first, [tf.gather(top, x1, axis=2) * -(wx1 * wy0),
                               tf.gather(bottom, x0, axis=2) * -(wx0 * wy1),
                               tf.gather(bottom, x1, axis=2) * -(wx1 * wy1)])
