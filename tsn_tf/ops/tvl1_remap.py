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
import tensorflow as tf

from tsn_tf.ops.tvl1_float import f32, ordered_sum

INTER_BITS = 5
INTER_TAB_SIZE = 1 << INTER_BITS
CUBIC_A = -0.75


def keys_weights_f32(x, a=CUBIC_A):
    """OpenCV's `interpolateCubic(x)` in float32: 4 weights for taps -1, 0, 1, 2."""
    a, x = f32(a), f32(x)
    x1 = f32(x + 1)
    w0 = f32(f32(f32(f32(f32(f32(a * x1) - f32(5 * a)) * x1) + f32(8 * a)) * x1) - f32(4 * a))
    w1 = f32(f32(f32(f32(f32(f32(a + 2) * x) - f32(a + 3)) * x) * x) + 1)
    omx = f32(1 - x)
    w2 = f32(f32(f32(f32(f32(f32(a + 2) * omx) - f32(a + 3)) * omx) * omx) + 1)
    w3 = f32(f32(f32(1.0 - w0) - w1) - w2)
    return w0, w1, w2, w3


def cubic_table_cv(a=CUBIC_A):
    """(32, 4) float32 tensor: the 1-D Keys weights of each 1/32 fraction."""
    return tf.constant([keys_weights_f32(i * f32(1.0 / INTER_TAB_SIZE), a)
                        for i in range(INTER_TAB_SIZE)], tf.float32)


def _taps(images, x0, y0):
    """Gather the 4x4 taps at (y0 + i, x0 + j); (B, H, W, 4, 4, C), 0 outside."""
    batch, height, width, channels = (tf.shape(images)[0], images.shape[1],
                                      images.shape[2], images.shape[3])
    flat = tf.reshape(images, [batch, height * width, channels])
    offsets = tf.range(4, dtype=tf.int32)
    ys = y0[..., None] + offsets            # (B, H, W, 4)
    xs = x0[..., None] + offsets
    y_ok = (ys >= 0) & (ys < height)
    x_ok = (xs >= 0) & (xs < width)
    index = (tf.clip_by_value(ys, 0, height - 1)[..., :, None] * width
             + tf.clip_by_value(xs, 0, width - 1)[..., None, :])   # (B, H, W, 4, 4)
    taps = tf.gather(flat, tf.reshape(index, [batch, -1]), batch_dims=1)
    taps = tf.reshape(taps, [batch, height, width, 4, 4, channels])
    inside = y_ok[..., :, None] & x_ok[..., None, :]
    return tf.where(inside[..., None], taps, tf.zeros_like(taps)), inside


def remap_cubic_cv(images, u1, u2, table=None):
    """(B, H, W, C) images sampled at (x + u1, y + u2) like OpenCV's cubic remap."""
    if table is None:
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
    weights = (wy[..., :, None] * wx[..., None, :])[..., None]               # (B,H,W,4,4,1)
    taps, inside = _taps(images, x0, y0)
    # Signs so that every ordered sum is a Sub chain (see tvl1_float): rows 1-3 come
    # out negated, ready to be subtracted from row 0.
    row_signs = tf.constant([[1, -1, -1, -1]] + [[-1, 1, 1, 1]] * 3, tf.float32)
    signed = taps * (weights * row_signs[:, :, None])
    rows = ordered_sum(signed[..., 0, :], [signed[..., c, :] for c in range(1, 4)])
    interior = ordered_sum(rows[..., 0, :], [rows[..., r, :] for r in range(1, 4)])
    seq_signs = tf.constant([[1, -1, -1, -1]] + [[-1, -1, -1, -1]] * 3, tf.float32)
    seq = taps * (weights * seq_signs[:, :, None])
    border = ordered_sum(seq[..., 0, 0, :], [seq[..., k // 4, k % 4, :] for k in range(1, 16)])
    all_inside = tf.reduce_all(tf.reshape(inside, [-1, height, width, 16]), axis=-1)
    return tf.where(all_inside[..., None], interior, border)


def _bicubic_coeff_gpu(d):
    """The CUDA kernels' `bicubicCoeff` (Keys a = -0.5), float32, no FMA."""
    x = tf.abs(d)
    near = x * x * (1.5 * x - 2.5) + 1.0
    far = x * (x * (-0.5 * x + 2.5) - 4.0) + 2.0
    return tf.where(x <= 1.0, near, tf.where(x < 2.0, far, tf.zeros_like(x)))


def _gpu_axis(coord, length):
    """Per axis: 5 clamped tap indices from ceil(c - 2), their weights (0 past floor(c + 2))."""
    first = tf.math.ceil(coord - 2.0)
    last = tf.math.floor(coord + 2.0)
    taps = first[..., None] + tf.range(5, dtype=tf.float32)          # (B, H, W, 5)
    weights = tf.where(taps <= last[..., None],
                       _bicubic_coeff_gpu(coord[..., None] - taps), tf.zeros_like(taps))
    index = tf.cast(tf.clip_by_value(taps, 0.0, length - 1.0), tf.int32)
    return index, weights


def remap_bicubic_gpu(images, u1, u2):
    """(B, H, W, C) images at (x + u1, y + u2) like the CUDA TV-L1 `warpBackward`.

    opencv_contrib `modules/cudaoptflow/src/cuda/tvl1flow.cu` (and OpenCV 2.4
    `modules/gpu/src/cuda/tvl1flow.cu`, identical here): taps ceil(w - 2) .. floor(w + 2)
    read from a clamping texture, weight = coeff(wx - cx) * coeff(wy - cy), sums
    accumulated row by row in float32 and divided by the sum of the weights.
    """
    batch, height, width, channels = (tf.shape(images)[0], images.shape[1],
                                      images.shape[2], images.shape[3])
    wx = tf.range(width, dtype=tf.float32)[None, None, :] + u1
    wy = tf.range(height, dtype=tf.float32)[None, :, None] + u2
    limit = float(1 << 20)
    ix, kx = _gpu_axis(tf.clip_by_value(wx, -limit, limit), width)
    iy, ky = _gpu_axis(tf.clip_by_value(wy, -limit, limit), height)
    index = iy[..., :, None] * width + ix[..., None, :]                 # (B, H, W, 5, 5)
    flat = tf.reshape(images, [batch, height * width, channels])
    taps = tf.gather(flat, tf.reshape(index, [batch, -1]), batch_dims=1)
    taps = tf.reshape(taps, [batch, height, width, 25, channels])
    weights = tf.reshape(kx[..., None, :] * ky[..., :, None], [batch, height, width, 25])
    negated = -weights
    total = ordered_sum(weights[..., 0:1] * taps[..., 0, :],
                        [negated[..., k:k + 1] * taps[..., k, :] for k in range(1, 25)])
    weight_sum = ordered_sum(weights[..., 0], [negated[..., k] for k in range(1, 25)])
    # divide_no_nan(1, w), not 1.0 / w: constant folding would turn t * (1 / w) into
    # t / w; tf.math.reciprocal is not correctly rounded on CPU.
    return total * tf.math.divide_no_nan(1.0, weight_sum)[..., None]
