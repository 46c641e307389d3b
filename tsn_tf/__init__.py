"""Temporal Segment Networks in TensorFlow 2 / Keras 3."""
