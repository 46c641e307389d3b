"""Temporal Segment Networks in TensorFlow 2 / Keras 3."""
from tsn_tf import _moved

_moved.install()  # old import paths of moved modules keep working, with a warning
