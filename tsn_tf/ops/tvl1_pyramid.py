"""Image pyramids of the TV-L1 variants: static level sizes and the TF ops that build them.

* `opencv`: opencv_contrib `modules/optflow/src/tvl1flow.cpp` (`calc`): each level is
  `resize(previous, Size(), 0.8, 0.8, INTER_LINEAR)` (CPU float path), sizes rounded.
* `denseflow`: opencv_contrib `modules/cudaoptflow/src/tvl1flow.cpp`: the same sizes
  from `cuda::resize(previous, Size(), 0.8, 0.8)`, sampled at x' = 1.25 x.
* `tsn`: OpenCV 2.4 `modules/gpu/src/tvl1flow.cpp`: `gpu::pyrDown` of the previous
  level (`modules/gpu/src/cuda/pyr_down.cu`): 5-tap [1 4 6 4 1] / 16, rows then
  columns, reflect-101 border, sizes (n + 1) // 2.
All stop before the first level narrower or shorter than 16 px.
"""
import tensorflow as tf

from tsn_tf.ops import tvl1_resize
from tsn_tf.ops.tvl1_float import ordered_sum

MIN_LEVEL_SIZE = 16
PYRDOWN_TAPS = (0.0625, 0.25, 0.375, 0.25, 0.0625)


def level_sizes(height, width, nscales, kind):
    """[(h, w)] from finest to coarsest; kind "scale" (x 0.8) or "halve" (pyrDown)."""
    sizes = [(height, width)]
    for _ in range(1, nscales):
        h, w = sizes[-1]
        if kind == "halve":
            h, w = (h + 1) // 2, (w + 1) // 2
        else:
            h, w = tvl1_resize.scaled_size(h, w, 0.8)
        if h < MIN_LEVEL_SIZE or w < MIN_LEVEL_SIZE:
            break
        sizes.append((h, w))
    return sizes


def _reflect101(index, length):
    """OpenCV's BORDER_REFLECT_101 for an index at most one length outside."""
    if index < 0:
        index = -index
    if index >= length:
        index = 2 * (length - 1) - index
    return index


def _pyr_down_axis(images, axis, out_len):
    """5-tap Gaussian along one axis at even positions, accumulated left to right."""
    length = images.shape[axis]
    terms = []
    for k, weight in enumerate(PYRDOWN_TAPS):
        index = [_reflect101(2 * d + k - 2, length) for d in range(out_len)]
        terms.append((weight if k == 0 else -weight) * tf.gather(images, index, axis=axis))
    return ordered_sum(terms[0], terms[1:])


def pyr_down(images, size):
    """(B, H, W) -> (B, h, w), OpenCV 2.4 `gpu::pyrDown` on float32 (rows first)."""
    rows = _pyr_down_axis(images, 1, size[0])
    return _pyr_down_axis(rows, 2, size[1])


def build(images, sizes, kind):
    """Levels of a (B, H, W) batch at the given sizes, each from the previous one."""
    levels = [images]
    for size in sizes[1:]:
        previous = levels[-1]
        if kind == "halve":
            levels.append(pyr_down(previous, size))
        elif kind == "gpu":
            levels.append(tvl1_resize.resize_linear_gpu(previous, size, scale=0.8))
        else:
            levels.append(tvl1_resize.resize_linear(previous, size, scale=0.8))
    return levels
