"""Partial batch normalization (TSN §3.2).

After loading pretrained weights, every BatchNormalization except the first
is frozen: statistics and affine parameters stay fixed (Keras 3 runs a BN with
``trainable=False`` in inference mode). The first BN keeps adapting to the new
modality's input distribution; with more than one replica it must be
``synchronized`` so all replicas keep the same moving statistics.
"""
import keras


def iter_layers(layer):
    """Yields the leaf layers of `layer` in order, descending into models and wrappers."""
    children = getattr(layer, "layers", None)
    if children is None and isinstance(getattr(layer, "layer", None), keras.layers.Layer):
        children = [layer.layer]
    if children is None:
        yield layer
        return
    for child in children:
        yield from iter_layers(child)


def batch_norm_layers(model):
    """All BatchNormalization layers of `model`, in order."""
    return [layer for layer in iter_layers(model)
            if isinstance(layer, keras.layers.BatchNormalization)]


def apply_partial_bn(model, num_replicas: int = 1):
    """Freezes every BN of `model` but the first; returns the first BN.

    The first BN stays trainable and is synchronized across replicas when
    `num_replicas` > 1.
    """
    layers = batch_norm_layers(model)
    if not layers:
        raise ValueError(f"Partial BN: model {model.name!r} has no BatchNormalization layer.")
    first, *rest = layers
    first.trainable = True
    first.synchronized = num_replicas > 1
    for layer in rest:
        layer.trainable = False
    return first
