"""Bicubic warps of (B, H, W, C) float32 images by a flow, one per TV-L1 family.

`remap_cubic_cv`: opencv `modules/imgproc/src/imgwarp.cpp`, `remap(INTER_CUBIC,
BORDER_CONSTANT 0)` with float maps: coordinates rounded (ties to even) to 1/32 px
(INTER_TAB_SIZE), Keys kernel A = -0.75 tabulated in float32 for the 32 fractions,
2-D weight = wy * wx in float32. A pixel whose 4x4 taps are all inside sums
row by row (`((r0 + r1) + r2) + r3`, each row `((a + b) + c) + d`); a pixel
touching the border adds its inside taps one by one, outside taps are 0.

Each warp gathers the 16 taps of all C channels once (the three images TV-L1
warps share the taps).
"""
import functools

import tensorflow as tf

from tsn_tf.ops.tvl1_float import f32, ordered_sum

INTER_BITS = 5
INTER_TAB_SIZE = 1 << INTER_BITS
CUBIC_A = -0.75


def keys_weights_f32(x):
    """OpenCV's `interpolateCubic(x)` in float32: 4 weights for taps -1, 0, 1, 2."""
    a, x = f32(CUBIC_A), f32(x)
    x1 = f32(x + 1)
    w0 = f32(f32(f32(f32(f32(f32(a * x1) - f32(5 * a)) * x1) + f32(8 * a)) * x1) - f32(4 * a))
    w1 = f32(f32(f32(f32(f32(f32(a + 2) * x) - f32(a + 3)) * x) * x) + 1)
    omx = f32(1 - x)
    w2 = f32(f32(f32(f32(f32(f32(a + 2) * omx) - f32(a + 3)) * omx) * omx) + 1)
    w3 = f32(f32(f32(1.0 - w0) - w1) - w2)
    return w0, w1, w2, w3


@functools.lru_cache(maxsize=None)
def _cubic_rows():
    return tuple(keys_weights_f32(i * f32(1.0 / INTER_TAB_SIZE)) for i in range(INTER_TAB_SIZE))


def cubic_table_cv():
    """(32, 4) float32 tensor: the 1-D Keys weights of each 1/32 fraction (computed once)."""
    return tf.constant(_cubic_rows(), tf.float32)


def edge_pad(images, pad):
    """(B, H, W, ...) -> (B, H + 2 pad, W + 2 pad, ...), edge values repeated."""
    height, width = images.shape[1], images.shape[2]
    rows = [min(max(r, 0), height - 1) for r in range(-pad, height + pad)]
    cols = [min(max(c, 0), width - 1) for c in range(-pad, width + pad)]
    return tf.gather(tf.gather(images, rows, axis=1), cols, axis=2)


def _strip_rows(images, x0, y0, size, border):
    """A function row(r) -> the taps (y0 + r, x0 .. x0 + size - 1): (B, H, W, size, C).

    `border` "zero" (outside reads 0) or "edge" (coordinates clamped). The image is
    padded by `size` and cut into horizontal strips of `size` pixels, so a row of a
    window is one gather; window starts are clipped to [-size, W] x [-size, H], where
    a window lies wholly in the padding (same values). Gathering a row at a time
    and reducing it at once lets XLA fuse the gather instead of materialising all
    taps.
    """
    batch, height, width, channels = (tf.shape(images)[0], images.shape[1],
                                      images.shape[2], images.shape[3])
    pad = size
    if border == "zero":
        padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    else:
        padded = edge_pad(images, pad)
    starts = width + pad + 1
    strips = tf.stack([padded[:, :, j:j + starts] for j in range(size)], axis=3)
    flat = tf.reshape(strips, [batch, (height + 2 * pad) * starts, size * channels])
    xs = tf.clip_by_value(x0, -pad, width) + pad
    ys = tf.clip_by_value(y0, -pad, height) + pad

    def row(r):
        index = tf.reshape((ys + r) * starts + xs, [batch, -1])
        taps = tf.gather(flat, index, batch_dims=1)
        return tf.reshape(taps, [batch, height, width, size, channels])
    return row


def remap_cubic_cv(images, u1, u2):
    """(B, H, W, C) images sampled at (x + u1, y + u2) like OpenCV's cubic remap."""
    table = cubic_table_cv()
    height, width = images.shape[1], images.shape[2]
    xs = tf.range(width, dtype=tf.float32)[None, None, :] + u1
    ys = tf.range(height, dtype=tf.float32)[None, :, None] + u2
    limit = float(1 << 20)
    ix = tf.cast(tf.round(tf.clip_by_value(xs, -limit, limit) * INTER_TAB_SIZE), tf.int32)
    iy = tf.cast(tf.round(tf.clip_by_value(ys, -limit, limit) * INTER_TAB_SIZE), tf.int32)
    x0 = tf.bitwise.right_shift(ix, INTER_BITS) - 1
    y0 = tf.bitwise.right_shift(iy, INTER_BITS) - 1
    wx = tf.gather(table, tf.bitwise.bitwise_and(ix, INTER_TAB_SIZE - 1))   # (B, H, W, 4)
    wy = tf.gather(table, tf.bitwise.bitwise_and(iy, INTER_TAB_SIZE - 1))
    row = _strip_rows(images, x0, y0, 4, "zero")
    # Every ordered sum is a Sub chain (see tvl1_float): the weights carry the signs.
    # Interior: rows 1-3 come out negated, ready to be subtracted from row 0.
    # Border: one running sum over the 16 taps in row-major order.
    interior = border = None
    for r in range(4):
        weights = (wy[..., r:r + 1] * wx)[..., None]                           # (B,H,W,4,1)
        taps = row(r)
        row_signs = tf.constant([1.0, -1.0, -1.0, -1.0] if r == 0 else [-1.0, 1.0, 1.0, 1.0])
        signed = taps * (weights * row_signs[:, None])
        row_sum = ordered_sum(signed[..., 0, :], [signed[..., c, :] for c in range(1, 4)])
        interior = row_sum if r == 0 else interior - row_sum
        negated = taps * -weights
        terms = [negated[..., c, :] for c in range(4)]
        if r == 0:
            border = ordered_sum(taps[..., 0, :] * weights[..., 0, :], terms[1:])
        else:
            border = ordered_sum(border, terms)
    all_inside = (x0 >= 0) & (x0 <= width - 4) & (y0 >= 0) & (y0 <= height - 4)
    return tf.where(all_inside[..., None], interior, border)


def _bicubic_coeff_gpu(d):
    """The CUDA kernels' `bicubicCoeff` (Keys a = -0.5), float32, no FMA."""
    x = tf.abs(d)
    near = x * x * (1.5 * x - 2.5) + 1.0
    far = x * (x * (-0.5 * x + 2.5) - 4.0) + 2.0
    return tf.where(x <= 1.0, near, tf.where(x < 2.0, far, tf.zeros_like(x)))


def _gpu_axis(coord):
    """Per axis: first tap ceil(c - 2) (int32) and the 5 weights (0 past floor(c + 2))."""
    first = tf.math.ceil(coord - 2.0)
    last = tf.math.floor(coord + 2.0)
    taps = first[..., None] + tf.range(5, dtype=tf.float32)          # (B, H, W, 5)
    weights = tf.where(taps <= last[..., None],
                       _bicubic_coeff_gpu(coord[..., None] - taps), tf.zeros_like(taps))
    return tf.cast(first, tf.int32), weights


def remap_bicubic_gpu(images, u1, u2):
    """(B, H, W, C) images at (x + u1, y + u2) like the CUDA TV-L1 `warpBackward`.

    opencv_contrib `modules/cudaoptflow/src/cuda/tvl1flow.cu` (and OpenCV 2.4
    `modules/gpu/src/cuda/tvl1flow.cu`, identical here): taps ceil(w - 2) .. floor(w + 2)
    read from a clamping texture, weight = coeff(wx - cx) * coeff(wy - cy), sums
    accumulated row by row in float32 and divided by the sum of the weights.
    """
    height, width = images.shape[1], images.shape[2]
    wx = tf.range(width, dtype=tf.float32)[None, None, :] + u1
    wy = tf.range(height, dtype=tf.float32)[None, :, None] + u2
    limit = float(1 << 20)
    x0, kx = _gpu_axis(tf.clip_by_value(wx, -limit, limit))
    y0, ky = _gpu_axis(tf.clip_by_value(wy, -limit, limit))
    row = _strip_rows(images, x0, y0, 5, "edge")
    total = weight_sum = None
    for r in range(5):
        weights = kx * ky[..., r:r + 1]                                       # (B, H, W, 5)
        negated = -weights
        taps = row(r)
        terms = [negated[..., c:c + 1] * taps[..., c, :] for c in range(5)]
        weight_terms = [negated[..., c] for c in range(5)]
        if r == 0:
            total = ordered_sum(weights[..., 0:1] * taps[..., 0, :], terms[1:])
            weight_sum = ordered_sum(weights[..., 0], weight_terms[1:])
        else:
            total = ordered_sum(total, terms)
            weight_sum = ordered_sum(weight_sum, weight_terms)
    # divide_no_nan(1, w), not 1.0 / w: constant folding would turn t * (1 / w) into
    # t / w; tf.math.reciprocal is not correctly rounded on CPU.
    return total * tf.math.divide_no_nan(1.0, weight_sum)[..., None]
