"""Backbone registry: headless feature extractors (B, H, W, C) -> (B, D).

    model = get_backbone("bn_inception", input_shape=(224, 224, 3))
    facts = spec("bn_inception")   # input size, normalization, feature_dim

Every backbone takes RGB (channels reversed inside the model where the
weights expect BGR) normalized as `(x - spec.rgb_mean) / spec.rgb_std` on
0..255 values, flow as `(x - spec.flow_mean) / spec.flow_std`. Any channel
count C works with `weights=None` or a local weights file; ImageNet weights
need C == 3 (build the RGB backbone and use cross-modality init for flow
and RGB difference). "audio_small" is meant for the audio stream's
normalized log-mel patches (B, 96, 64, 1); any backbone takes them.
"resnet{50,101,152}_pt" are ResNets laid out as PyTorch builds them, for
weights converted by tsn-convert (mmaction2); the Keras "resnet*" differ.
"""
import dataclasses
import functools
import os
from typing import Callable

import keras

from tsn_tf.backbones.audio import build_audio_small
from tsn_tf.backbones.bn_inception import build_bn_inception
from tsn_tf.backbones.keras_apps import APPS, build_keras_app
from tsn_tf.backbones.resnet_pt import DEPTHS as RESNET_PT_DEPTHS, build_resnet_pt
from tsn_tf.backbones.specs import SPECS, BackboneSpec
from tsn_tf.backbones.tiny import build_small, build_tiny
from tsn_tf.backbones.vgg import build_vgg16
from tsn_tf.backbones.weights import WEIGHTS_SUFFIXES, load_weights_file

__all__ = ["BackboneSpec", "get_backbone", "names", "spec"]


@dataclasses.dataclass(frozen=True)
class _Entry:
    build: Callable  # (input_shape, weights None | "imagenet") -> keras.Model
    has_imagenet: bool


def _without_imagenet(build_fn):
    def build(input_shape, weights):
        return build_fn(input_shape)
    return build


def _keras_app(name):
    def build(input_shape, weights):
        return build_keras_app(name, input_shape, weights)
    return build


_REGISTRY = {
    "bn_inception": _Entry(_without_imagenet(build_bn_inception), False),
    **{name: _Entry(_keras_app(name), True) for name in APPS},
    **{name: _Entry(_without_imagenet(functools.partial(build_resnet_pt, name)), False)
       for name in RESNET_PT_DEPTHS},
    "vgg16": _Entry(build_vgg16, True),
    "tiny": _Entry(_without_imagenet(build_tiny), False),
    "small": _Entry(_without_imagenet(build_small), False),
    "audio_small": _Entry(_without_imagenet(build_audio_small), False),
}


def names() -> list[str]:
    """Registered backbone names, sorted."""
    return sorted(_REGISTRY)


def spec(name: str) -> BackboneSpec:
    """Input size, normalization and feature_dim of backbone `name`."""
    _check_name(name)
    return SPECS[name]


def get_backbone(name: str, *, input_shape, weights=None) -> keras.Model:
    """Builds backbone `name` as a headless model (B, H, W, C) -> (B, D).

    Args:
      name: one of `names()`.
      input_shape: (H, W, C); H and W may be None; C is 3 for RGB, 2L for
        flow, 3L for RGB difference.
      weights: None (random init); "imagenet" (keras.applications
        backbones, C == 3 only, downloaded by Keras); or a path to a local
        `.weights.h5` / `.keras` file saved from the same backbone with the
        same C (Keras 3 loading, layer by layer in model order; see
        `tsn_tf.backbones.weights.load_weights_file`).

    Raises:
      ValueError: unknown name, bad input_shape, or weights that cannot apply.
      FileNotFoundError: weights is a path that does not exist.
    """
    _check_name(name)
    input_shape = _checked_input_shape(name, input_shape)
    entry = _REGISTRY[name]
    if weights is None:
        return entry.build(input_shape, None)
    if isinstance(weights, str) and weights == "imagenet":
        _check_imagenet(name, entry, input_shape)
        return entry.build(input_shape, "imagenet")
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            f"weights must be None, 'imagenet' or a path to a "
            f"{' / '.join(WEIGHTS_SUFFIXES)} file. Received: {weights!r}")
    model = entry.build(input_shape, None)
    load_weights_file(model, weights)
    return model


def _check_name(name):
    if name not in _REGISTRY:
        raise ValueError(
            f"Unknown backbone {name!r}. Known: {', '.join(names())}")


def _checked_input_shape(name, input_shape):
    """Returns input_shape as a tuple (H, W, C) or raises ValueError."""
    shape = tuple(input_shape)
    min_size = SPECS[name].min_input_size
    if len(shape) != 3 or not isinstance(shape[2], int) or shape[2] < 1:
        raise ValueError(
            f"input_shape must be (height, width, channels) with an integer "
            f"channel count > 0. Received: input_shape={input_shape!r}")
    for size in shape[:2]:
        if size is not None and (not isinstance(size, int) or size < min_size):
            raise ValueError(
                f"Backbone {name!r} needs height and width of at least "
                f"{min_size} (or None). Received: input_shape={input_shape!r}")
    return shape


def _check_imagenet(name, entry, input_shape):
    if not entry.has_imagenet:
        raise ValueError(
            f"No ImageNet weights are bundled for backbone {name!r}. Pass "
            f"weights=<path to a local {' / '.join(WEIGHTS_SUFFIXES)} file> "
            "(e.g. converted from the reference model) or weights=None.")
    if input_shape[2] != 3:
        raise ValueError(
            f"weights='imagenet' needs 3 input channels; received "
            f"input_shape={input_shape}. Build the RGB backbone "
            f"(input_shape=(..., ..., 3)) with ImageNet weights and transfer "
            f"them to {input_shape[2]} channels with cross-modality init "
            "(tsn_tf.cross_modality).")
