"""A very small conv net for fast tests (works from 32x32 up)."""
import keras

FEATURE_DIM = 32


def build_tiny(input_shape) -> keras.Model:
    """Two conv-BN-ReLU stages and global average pooling -> (B, 32).

    BN momentum 0.9, so the moving statistics settle within the few dozen
    steps a test trains.

    The first conv has a bias (like BN-Inception's), the second has none
    (like ResNet's), so code handling either case can be tested on it.
    """
    inputs = keras.Input(shape=input_shape, name="images")
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same",
                            name="conv1")(inputs)
    x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="conv1_bn")(x)
    x = keras.layers.ReLU(name="conv1_relu")(x)
    x = keras.layers.Conv2D(FEATURE_DIM, 3, strides=2, padding="same",
                            use_bias=False, name="conv2")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="conv2_bn")(x)
    x = keras.layers.ReLU(name="conv2_relu")(x)
    outputs = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    return keras.Model(inputs, outputs, name="tiny")


SMALL_WIDTHS = (32, 64, 128)


def build_small(input_shape) -> keras.Model:
    """A small VGG-style net for CPU demos trained from scratch -> (B, 128).

    A stride-2 stem, then per width a stride-2 3x3 conv and a 3x3 conv, each
    with BN and ReLU (about 0.3 M parameters).
    """
    inputs = keras.Input(shape=input_shape, name="images")
    x = inputs
    for stage, width in enumerate((SMALL_WIDTHS[0], *SMALL_WIDTHS)):
        for block, strides in enumerate((2, 1) if stage else (2,)):
            name = f"stage{stage}_conv{block}"
            x = keras.layers.Conv2D(width, 3, strides=strides, padding="same", use_bias=False,
                                    name=name)(x)
            x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")(x)
            x = keras.layers.ReLU(name=f"{name}_relu")(x)
    outputs = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    return keras.Model(inputs, outputs, name="small")
