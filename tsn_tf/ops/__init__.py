"""Ops that run inside the model's graph (training step, SavedModel), on any TF device.

Host-side work (reading shards, decoding, sampling) lives in `tsn_tf.input`;
what runs here is part of the model's computation: it must use TF ops only
(no NumPy, no `tf.py_function`), so it runs on GPU/TPU and in TF Serving.
"""
