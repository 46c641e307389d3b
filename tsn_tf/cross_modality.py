"""Cross-modality initialization (TSN §3.2).

A flow or RGB-difference backbone starts from RGB weights: the first
convolution's kernel is averaged over its 3 input channels and replicated to
the new channel count (2L for flow, 3L for RGB difference); every other
weight is copied unchanged, as tsn-pytorch's `_construct_flow_model` does.
"""
from keras import ops

from tsn_tf.partial_bn import iter_layers


def first_conv(model):
    """The first convolution (a layer with a rank-4 kernel) of `model`."""
    for layer in iter_layers(model):
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and len(kernel.shape) == 4:
            return layer
    raise ValueError(f"Model {model.name!r} has no 2-D convolution to initialize.")


def cross_modality_init(source, target):
    """Copies RGB `source` weights into `target`, expanding the first conv kernel.

    Both are backbones of the same architecture differing only in input channels.
    Returns `target`.
    """
    if len(source.weights) != len(target.weights):
        raise ValueError(f"Cross-modality init needs the same architecture: {source.name!r} has "
                         f"{len(source.weights)} weights, {target.name!r} {len(target.weights)}.")
    target_kernel = first_conv(target).kernel
    for source_weight, target_weight in zip(source.weights, target.weights):
        value = source_weight.numpy()
        if target_weight is target_kernel:
            value = averaged_kernel(value, target_weight.shape[2])
        elif tuple(value.shape) != tuple(target_weight.shape):
            raise ValueError(f"Cross-modality init: {source_weight.path} has shape {value.shape} "
                             f"but {target_weight.path} has {tuple(target_weight.shape)}.")
        target_weight.assign(value)
    return target


def averaged_kernel(kernel, channels):
    """(h, w, c_in, c_out) -> (h, w, channels, c_out): the mean over c_in, replicated."""
    mean = ops.mean(ops.convert_to_tensor(kernel), axis=2, keepdims=True)
    return ops.convert_to_numpy(ops.repeat(mean, channels, axis=2))


def source_backbone(source):
    """The backbone of `source`: a TSN model's wrapped backbone, or the model itself."""
    try:
        return source.get_layer("backbone").layer
    except ValueError:
        return source
