"""Naming the shard and video behind a JPEG that does not decode.

The pipeline names a sampled frame that does not start like a JPEG itself
(`snippet_frames.snippet_jpegs`). A frame that does but is corrupt fails deep
inside tf.data with a message that names neither the shard nor the video;
after such an error `explain` reads the shards again in Python (decoding
every frame: slow on a large set, but only on this error path) and names
the first frame that does not decode.
"""
from typing import Optional

import tensorflow as tf

from tsn_tf.input.contract import layout, schema

DECODE_ERROR_HINTS = ("image file format", "jpeg", "image data")


def first_bad_frame(file_pattern: str) -> Optional[str]:
    """'shard S, video V: <key> frame F is not a JPEG' for the first frame of the
    shards matching `file_pattern` that does not decode, or None if all do."""
    for path in sorted(tf.io.gfile.glob(file_pattern)):
        for example in layout.read_videos(path):
            for key, feature_list in sorted(example.feature_lists.feature_list.items()):
                if not key.endswith("image/encoded"):
                    continue
                for number, feature in enumerate(feature_list.feature):
                    data = feature.bytes_list.value[0] if feature.bytes_list.value else b""
                    if not _decodes(data):
                        return (f"shard {path}, video {schema.media_id_of(example)}: "
                                f"{key} frame {number} is not "
                                f"a JPEG (starts with {data[:8]!r})")
    return None


def _decodes(data: bytes) -> bool:
    if not data.startswith(schema.JPEG_MAGIC):
        return False
    try:
        tf.io.decode_jpeg(data)
    except tf.errors.InvalidArgumentError:
        return False
    return True


def explain(error: BaseException, file_pattern: Optional[str]) -> Optional[str]:
    """A message naming the bad shard and video if `error` is a frame decode error."""
    text = str(error).lower()
    if not file_pattern or not isinstance(error, tf.errors.InvalidArgumentError) or \
            "assertion failed" in text or not any(hint in text for hint in DECODE_ERROR_HINTS):
        return None  # not a decode error; the pipeline's own checks name their video
    try:
        return first_bad_frame(file_pattern)
    except (tf.errors.OpError, ValueError):  # a corrupt file: leave the original error
        return None
