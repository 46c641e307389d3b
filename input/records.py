"""Reading TFRecord shards so that a bad file is named, or skipped.

TensorFlow's reader errors ("corrupted record at 1028") do not say which file
they came from. `read_shard` therefore reads each file with errors ignored
and counts the bytes of the records it parsed; at the end of the file it
compares them with the file's size (listed when the dataset is built). A
mismatch means a truncated, corrupt, unparsable or unreadable file: with
`skip_corrupt=False` iteration fails with an InvalidArgumentError whose
message names the file; with `skip_corrupt=True` a warning naming the file
and the bytes lost is logged and the good records read before the damage are
kept.
"""
import struct
from typing import Callable, Sequence, Union

import tensorflow as tf
from absl import logging

RECORD_OVERHEAD_BYTES = 16  # uint64 length + uint32 CRC + data + uint32 CRC


def list_shards(file_pattern: Union[str, Sequence[str]]):
    """Sorted files matching one pattern or a list of patterns, with their sizes.

    Returns:
      (paths, sizes): lists of str and int. Raises FileNotFoundError naming
      the pattern when nothing matches.
    """
    patterns = [file_pattern] if isinstance(file_pattern, str) else list(file_pattern)
    paths = []
    for pattern in patterns:
        matched = tf.io.gfile.glob(pattern)
        if not matched:
            raise FileNotFoundError(f"No TFRecord shards match {pattern!r}.")
        paths.extend(matched)
    paths = sorted(set(paths))
    return paths, [tf.io.gfile.stat(path).length for path in paths]


def first_record(path):
    """The first serialized record of TFRecord file `path`, or None if it is empty.

    Reads the framing (8-byte length, 4-byte CRC, data) with `tf.io.gfile`
    only, so it runs before TensorFlow's runtime starts: a multi-worker
    strategy must be created first.
    """
    with tf.io.gfile.GFile(path, "rb") as f:
        header = f.read(12)
        if len(header) < 12:
            return None
        length = struct.unpack("<Q", header[:8])[0]
        data = f.read(length)
    if len(data) != length:
        raise ValueError(f"Shard {path} is truncated: its first record has {len(data)} of "
                         f"{length} bytes.")
    return data


def _report(path, size, total, skip_corrupt: bool):
    """An op that fails (or warns when skipping) when `total != size`."""
    message = tf.strings.join([
            "Corrupt, truncated or unreadable TFRecord shard ", path, ": only ",
            tf.strings.as_string(total), " of ", tf.strings.as_string(size),
            " bytes were read as valid records."])
    intact = tf.equal(total, size)
    if not skip_corrupt:
        return tf.debugging.Assert(intact, [message], summarize=1)
    return tf.cond(intact, tf.no_op, lambda: tf.print(
            tf.strings.join([message, " Skipped the rest of it."]),
            output_stream=logging.warning))


def read_shard(path, size, parse: Callable, empty_record: bytes, skip_corrupt: bool):
    """Parsed records of one shard, checked against the shard's size.

    Args:
      path: string scalar, file path.
      size: int64 scalar, the file's size in bytes.
      parse: serialized record (string scalar) -> nested structure of tensors.
      empty_record: a serialized record `parse` accepts, used as the end marker.
      skip_corrupt: log and skip a bad file instead of failing.
    Returns:
      Dataset of `parse` outputs.
    """
    def with_bytes(record):
        length = tf.cast(tf.strings.length(record), tf.int64) + RECORD_OVERHEAD_BYTES
        return parse(record), length

    records = tf.data.TFRecordDataset(path).map(with_bytes).ignore_errors()
    end = tf.data.Dataset.from_tensors((parse(tf.constant(empty_record)),
                                        tf.constant(-1, tf.int64)))

    def count(total, element):
        features, length = element
        is_end = length < 0
        check = tf.cond(is_end, lambda: _report(path, size, total, skip_corrupt), tf.no_op)
        with tf.control_dependencies([check]):
            total = total + tf.maximum(length, 0)
        return total, (features, is_end)

    counted = records.concatenate(end).scan(tf.constant(0, tf.int64), count)
    return counted.filter(lambda features, is_end: tf.logical_not(is_end)).map(
            lambda features, is_end: features)
