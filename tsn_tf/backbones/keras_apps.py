"""Headless keras.applications backbones: Inception v3, ResNet-50/101/152.

Each returns (B, H, W, C) -> (B, 2048) (include_top=False, pooling="avg").
The Caffe-style ResNets expect BGR: with 3 input channels a
`ReverseChannels` layer ("rgb_to_bgr") is put in front, so callers feed RGB
normalized with the RGB-order mean of `tsn_tf.backbones.spec(name)`. With
other channel counts (flow, RGB difference) channels pass unchanged.
"""
import warnings

import keras

from tsn_tf.backbones.channel_order import ReverseChannels

# name -> (constructor, weights expect BGR)
APPS = {
    "inception_v3": (keras.applications.InceptionV3, False),
    "resnet50": (keras.applications.ResNet50, True),
    "resnet101": (keras.applications.ResNet101, True),
    "resnet152": (keras.applications.ResNet152, True),
}


def build_keras_app(name, input_shape, weights=None) -> keras.Model:
    """Builds keras.applications `name` headless with global average pooling.

    Args:
      name: a key of APPS.
      input_shape: (H, W, C); any C when weights is None.
      weights: None or "imagenet" (downloaded by Keras; needs C == 3).
    """
    constructor, expects_bgr = APPS[name]
    inputs = keras.Input(shape=input_shape, name="images")
    x = inputs
    if expects_bgr and input_shape[-1] == 3:
        x = ReverseChannels(name="rgb_to_bgr")(x)
    with warnings.catch_warnings():
        # Keras warns about C not in {1, 3}; flow and RGB diff mean it.
        warnings.filterwarnings("ignore", message="This model usually expects")
        model = constructor(include_top=False, weights=weights, input_tensor=x,
                            input_shape=tuple(input_shape), pooling="avg",
                            name=name)
    # Re-wrap with a single (not list) input so calls on one tensor match
    # the input structure; the layers are the same objects, not nested.
    return keras.Model(inputs, model.output, name=name)
