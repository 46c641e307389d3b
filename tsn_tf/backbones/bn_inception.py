"""BN-Inception (Ioffe & Szegedy 2015), the backbone of the TSN paper.

Follows the Caffe `bn_inception.prototxt` used by TSN (as ported in
yjxiong/tsn-pytorch and Cadene's pretrainedmodels `bninception`): layer
names, channel widths, strides and padding match it, so a converted weights
file loads by layer name. Every conv has a bias and is followed by
BatchNormalization (epsilon 1e-5 as in Caffe) and ReLU. The classifier is
left out: the model ends in global average pooling -> (B, 1024).

Emulation of the Caffe/PyTorch arithmetic with standard Keras layers:
- strided convs (conv1 7x7/2 pad 3, inception 3c/4e 3x3/2 pad 1) use an
  explicit symmetric ZeroPadding2D and "valid" padding. Keras "same" would
  pad only at the end for even sizes, shifting every window by one pixel.
- ceil-mode max pooling 3x3/2 (pool1, pool2, 3c/4e pool branch) is one row
  and column of zero padding at the end, then "valid" pooling. This gives
  the ceil-mode output size for even and odd inputs; zeros equal Caffe's
  clipped windows because every pooled input follows a ReLU (>= 0).
- average pooling 3x3/1 pad 1 counts the padding (Caffe AVE pooling,
  `count_include_pad=True`): ZeroPadding2D(1) then "valid" pooling. Keras
  "same" average pooling would divide border windows by fewer than 9.
- inception_5b's pool branch is max pooling 3x3/1 pad 1, as in the
  prototxt; Keras "same" max pooling is identical there.
- BatchNormalization momentum 0.9 (PyTorch's default 0.1 in Keras terms).

Input: RGB. Caffe weights expect BGR, so with 3 input channels the model
starts with `ReverseChannels` ("rgb_to_bgr"); other channel counts (flow,
RGB difference) pass unchanged. Normalize with `spec("bn_inception")`.

Input sizes: the stride-2 stages 3c and 4e concatenate a strided conv
(output ceil(h/2)) with a ceil-mode pool (output ceil((h-1)/2)); they agree
only for even h, as in Caffe. Multiples of 32 (224 = 7 x 32) always work.
"""
import math

import keras

from tsn_tf.backbones.channel_order import ReverseChannels

FEATURE_DIM = 1024
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9

# name: (1x1, 3x3 reduce, 3x3, double 3x3 reduce, double 3x3, pool, pool proj)
# 1x1 None: reduction block (stride 2, max pool branch without projection).
INCEPTION_BLOCKS = (
    ("3a", 64, 64, 64, 64, 96, "avg", 32),
    ("3b", 64, 64, 96, 64, 96, "avg", 64),
    ("3c", None, 128, 160, 64, 96, "max_s2", None),
    ("4a", 224, 64, 96, 96, 128, "avg", 128),
    ("4b", 192, 96, 128, 96, 128, "avg", 128),
    ("4c", 160, 128, 160, 128, 160, "avg", 128),
    ("4d", 96, 128, 192, 160, 192, "avg", 128),
    ("4e", None, 128, 192, 192, 256, "max_s2", None),
    ("5a", 352, 192, 320, 160, 224, "avg", 128),
    ("5b", 352, 192, 320, 192, 224, "max", 128),
)


def build_bn_inception(input_shape) -> keras.Model:
    """Builds headless BN-Inception: (B, H, W, C) -> (B, 1024)."""
    _check_spatial_sizes(input_shape)
    inputs = keras.Input(shape=input_shape, name="images")
    x = inputs
    if input_shape[-1] == 3:
        x = ReverseChannels(name="rgb_to_bgr")(x)
    x = _conv_bn_relu(x, 64, 7, "conv1_7x7_s2", "conv1_relu_7x7", strides=2)
    x = _ceil_max_pool(x, "pool1_3x3_s2")
    x = _conv_bn_relu(x, 64, 1, "conv2_3x3_reduce", "conv2_relu_3x3_reduce")
    x = _conv_bn_relu(x, 192, 3, "conv2_3x3", "conv2_relu_3x3")
    x = _ceil_max_pool(x, "pool2_3x3_s2")
    for block in INCEPTION_BLOCKS:
        x = _inception_block(x, *block)
    outputs = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    return keras.Model(inputs, outputs, name="bn_inception")


def _conv_bn_relu(x, filters, kernel_size, name, relu_name, strides=1):
    """Conv (with bias) -> BN `name`_bn -> ReLU, Caffe padding (k-1)/2."""
    if strides == 1:
        padding = "same"
    else:
        x = keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides,
                            padding=padding, name=name)(x)
    x = keras.layers.BatchNormalization(
        epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=relu_name)(x)


def _ceil_max_pool(x, name):
    """Max pool 3x3/2 with Caffe's ceil-mode output size (inputs >= 0)."""
    x = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name=name)(x)


def _inception_block(x, block, c1x1, c3x3_reduce, c3x3, cdouble_reduce,
                     cdouble, pool, cpool_proj):
    """One inception module named inception_<block>_*; see INCEPTION_BLOCKS."""
    prefix = f"inception_{block}"
    strides = 2 if pool == "max_s2" else 1
    branches = []
    if c1x1 is not None:
        branches.append(_conv_bn_relu(
            x, c1x1, 1, f"{prefix}_1x1", f"{prefix}_relu_1x1"))
    y = _conv_bn_relu(x, c3x3_reduce, 1, f"{prefix}_3x3_reduce",
                      f"{prefix}_relu_3x3_reduce")
    branches.append(_conv_bn_relu(y, c3x3, 3, f"{prefix}_3x3",
                                  f"{prefix}_relu_3x3", strides=strides))
    y = _conv_bn_relu(x, cdouble_reduce, 1, f"{prefix}_double_3x3_reduce",
                      f"{prefix}_relu_double_3x3_reduce")
    y = _conv_bn_relu(y, cdouble, 3, f"{prefix}_double_3x3_1",
                      f"{prefix}_relu_double_3x3_1")
    branches.append(_conv_bn_relu(
        y, cdouble, 3, f"{prefix}_double_3x3_2",
        f"{prefix}_relu_double_3x3_2", strides=strides))
    branches.append(_pool_branch(x, prefix, pool, cpool_proj))
    return keras.layers.Concatenate(name=f"{prefix}_output")(branches)


def _pool_branch(x, prefix, pool, cpool_proj):
    name = f"{prefix}_pool"
    if pool == "max_s2":
        return _ceil_max_pool(x, name)
    if pool == "avg":
        y = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
        y = keras.layers.AveragePooling2D(3, strides=1, name=name)(y)
    else:
        y = keras.layers.MaxPooling2D(
            3, strides=1, padding="same", name=name)(x)
    return _conv_bn_relu(y, cpool_proj, 1, f"{prefix}_pool_proj",
                         f"{prefix}_relu_pool_proj")


def _check_spatial_sizes(input_shape):
    """Raises ValueError for a height/width the reduction blocks can't take."""
    for axis, size in zip(("height", "width"), input_shape[:2]):
        if size is None:
            continue
        conv1 = math.ceil(size / 2)
        inception_3c = math.ceil((math.ceil((conv1 - 1) / 2) - 1) / 2)
        inception_4e = inception_3c // 2
        for block, block_size in (("3c", inception_3c), ("4e", inception_4e)):
            if block_size < 2 or block_size % 2:
                raise ValueError(
                    f"BN-Inception cannot take input {axis} {size}: the "
                    f"stride-2 block inception_{block} needs an even feature "
                    f"map of at least 2 but would get {block_size}. Use a "
                    "multiple of 32, e.g. 224.")
