"""Finite differences of TV-L1 on (B, H, W) float32 fields, with OpenCV's border rules.

Transcribed from opencv_contrib `modules/optflow/src/tvl1flow.cpp`
(`centeredGradient`, `forwardGradient`, `divergence`); the float32 operations are
the C++ ones in the same order, so results are bit-identical.
"""
import tensorflow as tf


def centred_gradient(src):
    """(dx, dy): half central differences inside, half one-sided differences at borders."""
    dx_in = 0.5 * (src[:, :, 2:] - src[:, :, :-2])
    dx_left = 0.5 * (src[:, :, 1:2] - src[:, :, 0:1])
    dx_right = 0.5 * (src[:, :, -1:] - src[:, :, -2:-1])
    dy_in = 0.5 * (src[:, 2:, :] - src[:, :-2, :])
    dy_top = 0.5 * (src[:, 1:2, :] - src[:, 0:1, :])
    dy_bottom = 0.5 * (src[:, -1:, :] - src[:, -2:-1, :])
    return (tf.concat([dx_left, dx_in, dx_right], axis=2),
            tf.concat([dy_top, dy_in, dy_bottom], axis=1))


def forward_gradient(src):
    """(dx, dy): forward differences, 0 in the last column (dx) and last row (dy)."""
    dx = src[:, :, 1:] - src[:, :, :-1]
    dy = src[:, 1:, :] - src[:, :-1, :]
    return (tf.pad(dx, [[0, 0], [0, 0], [0, 1]]),
            tf.pad(dy, [[0, 0], [0, 1], [0, 0]]))


def divergence(v1, v2):
    """Backward-difference divergence of (v1, v2), values outside the image taken as 0.

    OpenCV evaluates `(v1x) + (v2y)` inside and in row 0, but `(v1 + v2) - v2[y-1]`
    in column 0; the float32 rounding differs, so column 0 is computed apart.
    """
    v1x = v1[:, :, 1:] - v1[:, :, :-1]
    v2_up = tf.pad(v2[:, :-1, :], [[0, 0], [1, 0], [0, 0]])
    v2y = v2 - v2_up
    rest = v1x + v2y[:, :, 1:]
    first_col = (v1[:, :, 0:1] + v2[:, :, 0:1]) - v2_up[:, :, 0:1]
    return tf.concat([first_col, rest], axis=2)
