"""ResNet-50/101/152 laid out as PyTorch builds them (torchvision, mmaction2).

Not `keras.applications.ResNet*`, which has the same weight shapes but is
another network: Keras strides the first 1x1 conv of a block, PyTorch
("pytorch" style, ResNet v1.5) the 3x3 conv; and a strided conv with
"same" padding pads only at the end on even inputs. Here:
- every strided 3x3 / 7x7 conv and the 3x3/2 max pool pad symmetrically
  (ZeroPadding2D then "valid"); zero padding equals PyTorch's -inf padding
  for the pool because its input follows a ReLU (>= 0);
- no conv has a bias; BatchNormalization epsilon 1e-5, momentum 0.9
  (PyTorch's 0.1);
- layer names follow torchvision's state-dict keys with "." -> "_":
  conv1, bn1, layer{s}_{b}_conv{1,2,3}, layer{s}_{b}_bn{1,2,3},
  layer{s}_0_downsample_0 (1x1 conv) and layer{s}_0_downsample_1 (BN).

Input: RGB as given (no channel reversal); normalize with
`spec("resnet50_pt")` (torchvision / mmaction2 ImageNet mean and std).
Output: global average pooling -> (B, 2048).
"""
import keras

FEATURE_DIM = 2048
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9
EXPANSION = 4
STAGE_PLANES = (64, 128, 256, 512)
STAGE_STRIDES = (1, 2, 2, 2)
DEPTHS = {
    "resnet50_pt": (3, 4, 6, 3),
    "resnet101_pt": (3, 4, 23, 3),
    "resnet152_pt": (3, 8, 36, 3),
}


def build_resnet_pt(name, input_shape) -> keras.Model:
    """Builds headless PyTorch-layout ResNet `name` (a key of DEPTHS)."""
    inputs = keras.Input(shape=input_shape, name="images")
    x = _conv(inputs, 64, 7, 2, "conv1")
    x = _bn(x, "bn1")
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.ZeroPadding2D(1, name="maxpool_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="maxpool")(x)
    for stage, (planes, stride, blocks) in enumerate(
            zip(STAGE_PLANES, STAGE_STRIDES, DEPTHS[name]), start=1):
        for block in range(blocks):
            x = _bottleneck(x, planes, stride if block == 0 else 1,
                            f"layer{stage}_{block}")
    outputs = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    return keras.Model(inputs, outputs, name=name)


def _conv(x, filters, kernel_size, strides, name):
    """Bias-free conv with PyTorch's symmetric padding (kernel_size - 1) / 2."""
    if kernel_size > 1:
        x = keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(filters, kernel_size, strides=strides,
                               padding="valid", use_bias=False, name=name)(x)


def _bn(x, name):
    return keras.layers.BatchNormalization(
        epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)(x)


def _bottleneck(x, planes, strides, prefix):
    """1x1 -> 3x3 (strided) -> 1x1 (x4), plus the identity or a projection."""
    shortcut = x
    if strides != 1 or x.shape[-1] != planes * EXPANSION:
        shortcut = _conv(x, planes * EXPANSION, 1, strides,
                         f"{prefix}_downsample_0")
        shortcut = _bn(shortcut, f"{prefix}_downsample_1")
    y = keras.layers.ReLU(name=f"{prefix}_relu1")(
        _bn(_conv(x, planes, 1, 1, f"{prefix}_conv1"), f"{prefix}_bn1"))
    y = keras.layers.ReLU(name=f"{prefix}_relu2")(
        _bn(_conv(y, planes, 3, strides, f"{prefix}_conv2"), f"{prefix}_bn2"))
    y = _bn(_conv(y, planes * EXPANSION, 1, 1, f"{prefix}_conv3"),
            f"{prefix}_bn3")
    y = keras.layers.Add(name=f"{prefix}_add")([y, shortcut])
    return keras.layers.ReLU(name=f"{prefix}_out")(y)
