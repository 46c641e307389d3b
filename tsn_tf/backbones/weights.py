"""Loading a backbone's weights from a local file."""
import json
import os

import keras

WEIGHTS_SUFFIXES = (".weights.h5", ".keras")
NORMALIZATION_FIELDS = ("rgb_mean", "rgb_std", "flow_mean", "flow_std")


def normalization_path(weights_path) -> str:
    """The sidecar `<weights file>.json` holding the input normalization its weights need."""
    return os.fspath(weights_path) + ".json"


def read_normalization(weights_path):
    """The sidecar of `weights_path` as a dict ("backbone", NORMALIZATION_FIELDS, ...), or None.

    tsn-convert writes it beside every backbone weights file: {"backbone",
    "rgb_mean", "rgb_std" (RGB order, 0..255 scale), "flow_mean",
    "flow_std", "weights_channel_order", "from", "checkpoint"}.

    Raises:
      ValueError: the sidecar exists but lacks a normalization field.
    """
    path = normalization_path(weights_path)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        values = json.load(f)
    missing = [name for name in ("backbone", *NORMALIZATION_FIELDS) if name not in values]
    if missing:
        raise ValueError(f"Normalization sidecar {path} lacks {', '.join(missing)}")
    return values


def load_weights_file(model: keras.Model, path) -> None:
    """Loads `path` (from `save_weights` or `save`) into `model` in place.

    Keras 3 semantics: weights are matched layer by layer in the model's
    order (layers of one type in the order they were built, names are not
    compared) and every shape must agree, so the file must come from the
    same backbone built with the same channel count. tsn-convert writes
    such files from PyTorch / Caffe checkpoints, with a normalization sidecar
    (`read_normalization`).

    Raises:
      ValueError: `path` has none of WEIGHTS_SUFFIXES, or does not fit.
      FileNotFoundError: `path` does not exist.
    """
    path = os.fspath(path)
    if not path.endswith(WEIGHTS_SUFFIXES):
        raise ValueError(
            f"Backbone weights file must end in one of "
            f"{', '.join(WEIGHTS_SUFFIXES)}. Received: {path!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Backbone weights file not found: {path!r}")
    model.load_weights(path)
