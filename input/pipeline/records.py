"""Reading the indexed shards (`layout`) in tf.data, naming or skipping a bad file.

`read_records` wraps TF 2.17's `tf.raw_ops.TFRecordDatasetV2`, whose
`byte_offsets` start reading a file at a byte (the public
`tf.data.TFRecordDataset` does not expose it): a clip reads exactly its
frames' records, on any TF filesystem.

TensorFlow's reader errors ("corrupted record at 1028") do not say which file
they came from. The readers here therefore read with errors ignored and
check what they got against the index: the footer and index records of a
shard (`read_index`), the number and bytes of a clip's frame records
(`read_runs`). A mismatch means a truncated, corrupt or old-layout file: it
fails with an InvalidArgumentError whose message names the file (and the
video), or, with `skip_corrupt`, logs a warning naming it and skips the shard
(no index) or the video (bad frames; the caller's `ignore_errors`).
"""

import tensorflow as tf
from absl import logging

from tsn_tf.input.contract import layout

INDEX_BUFFER_BYTES = 256 * 1024
_RECORD = tf.TensorSpec([], tf.string)


def read_records(path, offset, count, buffer_size):
    """Dataset of the (at most) `count` records of TFRecord file `path` from byte `offset`.

    Args:
      path: string scalar.
      offset: int64 scalar, where a record starts.
      count: int scalar, records to read.
      buffer_size: int64 scalar, bytes the reader fetches at a time (the
        records' bytes, to read exactly them; 0 reads unbuffered).
    Use it inside a function (a tf.data map, `get_single_element`): TF 2.17
    cannot serialize this dataset (its kernel writes 3 of the op's 4 inputs to
    a graph), which iterating it eagerly does.
    """
    variant = tf.raw_ops.TFRecordDatasetV2(
            filenames=path, compression_type="", byte_offsets=tf.cast(offset, tf.int64),
            buffer_size=tf.cast(buffer_size, tf.int64))
    return tf.data.experimental.from_variant(variant, _RECORD).take(tf.cast(count, tf.int64))


def _all_of(records):
    """The elements of a dataset of strings as one string vector (empty if none)."""
    return records.batch(2 ** 31 - 1).concatenate(
            tf.data.Dataset.from_tensors(tf.zeros([0], tf.string))).take(1).get_single_element()


def _message(*parts):
    """String scalars, numbers and callables returning them, joined."""
    parts = [tf.convert_to_tensor(part() if callable(part) else part) for part in parts]
    return tf.strings.join([part if part.dtype == tf.string else tf.strings.as_string(part)
                            for part in parts])


def check(condition, *parts):
    """An op that fails with the message `parts` joined (string or numeric
    scalars, or callables returning one) unless `condition`; the message is
    built only when it fails (a per-clip check costs no string work)."""
    return tf.cond(condition, tf.no_op, lambda: tf.debugging.Assert(
            False, [_message(*parts)], summarize=1))


def _report(intact, skip_corrupt: bool, skipped: str, *parts):
    """`check(intact, *parts)`; with `skip_corrupt` a warning of `parts` + `skipped` instead."""
    if not skip_corrupt:
        return check(intact, *parts)
    return tf.cond(intact, tf.no_op, lambda: tf.print(_message(*parts, skipped),
                                                      output_stream=logging.warning))


def read_index(path, size, skip_corrupt: bool):
    """The serialized index records of one shard: string (videos,).

    Args:
      path: string scalar; size: int64 scalar, the file's size in bytes.
      skip_corrupt: on a file without a valid footer or with unreadable index
        records, warn and return the records read (none without a footer)
        instead of failing.
    """
    size = tf.cast(size, tf.int64)
    has_room = size >= layout.FOOTER_RECORD_BYTES
    footer = _all_of(read_records(path, tf.maximum(size - layout.FOOTER_RECORD_BYTES, 0), 1,
                                  layout.FOOTER_RECORD_BYTES).ignore_errors())
    footer = tf.concat([footer, [""]], 0)[0]
    magic = tf.constant(layout.FOOTER_MAGIC)
    valid = (has_room & (tf.strings.length(footer) == layout.FOOTER_DATA_BYTES)
             & tf.equal(tf.strings.substr(footer, 0, len(layout.FOOTER_MAGIC)), magic))
    footer = tf.where(valid, footer, tf.constant(bytes(layout.FOOTER_DATA_BYTES)))
    numbers = tf.io.decode_raw(tf.strings.substr(footer, len(layout.FOOTER_MAGIC), 16),
                               tf.int64, little_endian=True)
    start, count = numbers[0], numbers[1]  # (tf.unstack here crashed TF 2.17 in a tf.data map)
    index = _all_of(read_records(path, start, count, INDEX_BUFFER_BYTES).ignore_errors())
    intact = valid & tf.equal(tf.size(index, tf.int64), count)
    checked = _report(intact, skip_corrupt, " Skipped its unreadable videos.",
                      "Shard ", path, " has no readable tsn-tf frame index (", tf.size(index),
                      " of ", count, " index records; a footer: ", valid, "): ",
                      layout.CONVERT_HINT, "; or the file is truncated or corrupt.")
    with tf.control_dependencies([checked]):
        return tf.identity(index)


def read_runs(path, starts, ends, counts, media_id):
    """The records of byte runs of one shard, checked against the index.

    Args:
      path: string scalar.
      starts, ends: int64 (R,), byte offsets: run r is ``[starts[r], ends[r])``.
      counts: int (R,), records in each run.
      media_id: string scalar, named in the error.
    Returns:
      string (sum(counts),): the runs' records in order. An InvalidArgumentError
      names the shard and video when fewer records or other bytes were read.
    """
    starts, ends = tf.cast(starts, tf.int64), tf.cast(ends, tf.int64)

    def run(start, end, count):
        return read_records(path, start, count, end - start).ignore_errors()

    if starts.shape[0] is not None:  # a static number of runs: no function per run
        runs = [run(starts[r], ends[r], counts[r]) for r in range(starts.shape[0])]
        reads = runs[0]
        for more in runs[1:]:
            reads = reads.concatenate(more)
    else:
        reads = tf.data.Dataset.from_tensor_slices((starts, ends, counts)).flat_map(run)
    data = _all_of(reads)
    read_bytes = tf.reduce_sum(tf.cast(tf.strings.length(data), tf.int64)
                               + layout.RECORD_OVERHEAD_BYTES)
    expected_count = tf.reduce_sum(tf.cast(counts, tf.int32))
    intact = tf.equal(tf.size(data), expected_count) & tf.equal(read_bytes,
                                                                tf.reduce_sum(ends - starts))
    checked = check(intact, "Corrupt or truncated frame records in video ", media_id,
                    " of shard ", path, ": read ", tf.size(data), " of ", expected_count,
                    " records")
    with tf.control_dependencies([checked]):
        return tf.identity(data)
