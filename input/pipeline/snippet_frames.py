"""Reading only the sampled frames: one contiguous run of records per snippet.

A clip reads its K·L frame records and its video's index record (101 kB for
98 kB of JPEGs, RGB K = 3, 340x256), never the rest of the video.
"""
import tensorflow as tf

from tsn_tf.input.contract import schema
from tsn_tf.input.pipeline import index
from tsn_tf.input.pipeline import modalities
from tsn_tf.input.pipeline import records
from tsn_tf.input.pipeline import sampling


def snippet_jpegs(features, starts, items: int, count, stream: modalities.Stream):
    """The encoded frames of the snippets starting at `starts` (int32 (S,)), `items`
    frames each (the last frame repeated past the end): string (keys, S·items).

    Reads only their records: one contiguous run of records per snippet.
    """
    keys = len(stream.keys)
    starts = tf.cast(starts, tf.int32)
    frames = tf.minimum(items, count - starts)              # frames each run holds, >= 1
    offsets = features["offsets"]
    data = records.read_runs(features["shard"], tf.gather(offsets, starts),
                             tf.gather(offsets, starts + frames), frames * keys,
                             features["media_id"])
    first = tf.cumsum(frames * keys, exclusive=True)        # (S,) run starts in `data`
    is_jpeg = tf.equal(tf.strings.substr(data, 0, len(schema.JPEG_MAGIC)),
                       schema.JPEG_MAGIC)

    def bad_frame():  # "<key> frame <n>" of the first record that is no JPEG
        bad = tf.argmin(tf.cast(is_jpeg, tf.int32), output_type=tf.int32)
        run = tf.searchsorted(first, bad[None], side="right")[0] - 1
        return tf.strings.join([tf.gather(stream.keys, (bad - first[run]) % keys), " frame ",
                                tf.strings.as_string(starts[run] + (bad - first[run]) // keys)])

    check = records.check(tf.reduce_all(is_jpeg), "shard ", features["shard"], ", video ",
                          features["media_id"], ": ", bad_frame, " is not a JPEG")
    local = sampling.snippet_indices(starts, items, count) - starts[:, None]   # (S, items)
    positions = tf.reshape(first[:, None] + local * keys, [-1])
    with tf.control_dependencies([check]):
        return tf.stack([tf.gather(data, positions + key) for key in range(keys)])


def train_jpegs(features, seed, *, stream, num_segments, length):
    """The encoded frames one training clip samples: string (keys, K·(L+extra))."""
    seed_sample = tf.random.experimental.stateless_split(seed, 3)[0]
    count = index.frame_count(features, stream)
    items = length + stream.extra_frames
    offsets = sampling.train_offsets(count, num_segments, items, seed_sample)
    return snippet_jpegs(features, offsets, items, count, stream)

