"""VGG16 as the TPAMI paper's TSN backbone: keras.applications VGG16 up to fc7.

The paper's VGG16 TSN keeps fc6 and fc7 and replaces fc8 with the action
classifier, so the features are fc7's 4096 ReLU outputs (keras names the
layers fc1, fc2). fc6 flattens the last 512-channel map, so height and width
must be fixed; ImageNet weights need 224 x 224 x 3 (downloaded by Keras, the
checkpoint with the top layers; "predictions" is dropped). The weights
expect BGR: with 3 input channels a `ReverseChannels` layer ("rgb_to_bgr")
comes first, so callers feed RGB normalized with `spec("vgg16")`.
"""
import warnings

import keras

from tsn_tf.backbones.channel_order import ReverseChannels

FEATURE_LAYER = "fc2"  # the paper's fc7
IMAGENET_SIZE = 224


def build_vgg16(input_shape, weights=None) -> keras.Model:
    """(B, H, W, C) -> (B, 4096) fc7 features.

    Args:
      input_shape: (H, W, C) with fixed H and W (at least 32); any C when
        weights is None.
      weights: None or "imagenet" (needs (224, 224, 3)).
    """
    height, width, channels = input_shape
    if height is None or width is None:
        raise ValueError("Backbone 'vgg16' needs a fixed height and width (fc6 flattens its "
                         f"last feature map). Received: input_shape={tuple(input_shape)!r}")
    if weights == "imagenet" and (height, width) != (IMAGENET_SIZE, IMAGENET_SIZE):
        raise ValueError("vgg16's ImageNet fc6 weights need 224 x 224 inputs. Received: "
                         f"input_shape={tuple(input_shape)!r}")
    inputs = keras.Input(shape=input_shape, name="images")
    x = ReverseChannels(name="rgb_to_bgr")(inputs) if channels == 3 else inputs
    with warnings.catch_warnings():
        # Keras warns about C not in {1, 3}; flow and RGB diff mean it.
        warnings.filterwarnings("ignore", message="This model usually expects")
        model = keras.applications.VGG16(include_top=True, weights=weights, input_tensor=x,
                                          input_shape=tuple(input_shape), name="vgg16")
    return keras.Model(inputs, model.get_layer(FEATURE_LAYER).output, name="vgg16")
