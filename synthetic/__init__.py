"""Procedural synthetic data for the demo and the tests: real video files
whose classes need appearance, motion, order or sound (`videos`, `audio`)."""
from tsn_tf.synthetic.videos import (ALL_CLASSES, AUDIO_CLASSES, CLASSES, EXTENSION,  # noqa: F401
                                     UNTRIMMED_CLASSES, make_synthetic_dataset,
                                     render_trimmed, write_video)
