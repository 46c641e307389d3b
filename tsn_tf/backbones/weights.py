"""Loading a backbone's weights from a local file."""
import os

import keras

WEIGHTS_SUFFIXES = (".weights.h5", ".keras")


def load_weights_file(model: keras.Model, path) -> None:
    """Loads `path` (from `save_weights` or `save`) into `model` in place.

    Keras 3 semantics: weights are matched layer by layer in the model's
    order (layers of one type in the order they were built, names are not
    compared) and every shape must agree, so the file must come from the
    same backbone built with the same channel count. To bring in weights
    converted from another framework, build the backbone, assign them by
    the reference layer names (`model.get_layer(name).set_weights(...)`)
    and `save_weights` to a `.weights.h5` file.

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
