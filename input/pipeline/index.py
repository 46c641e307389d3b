"""The index stage: shards -> one parsed index record per video, and what a
clip reads from it (frame count, labels, untrimmed snippet starts and times).

Reads no frame: a video's index record holds its context and each stream's
frame byte offsets (`contract.layout`).
"""
import tensorflow as tf

from tsn_tf.input.contract import schema
from tsn_tf.input.pipeline import modalities
from tsn_tf.input.pipeline import records
from tsn_tf.input.pipeline import sampling

AUTOTUNE = tf.data.AUTOTUNE


def index_parser(stream: modalities.Stream, timestamps: bool = False):
    """Serialized index record (`layout`) -> dict of the fields the pipeline uses:
    ``offsets`` int64 (N + 1,) are the byte offsets of the stream's N frames;
    with `timestamps` also ``timestamps_us`` int64, the frames' presentation
    timestamps (`image/timestamp`)."""
    context_spec = {
        schema.MEDIA_ID: tf.io.FixedLenFeature([], tf.string, default_value=""),
        schema.LABEL_INDEX: tf.io.VarLenFeature(tf.int64),
        schema.IMAGE_FRAME_RATE: tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
        schema.frame_offsets_key(stream.group): tf.io.VarLenFeature(tf.int64),
    }
    sequence_spec = {schema.IMAGE_TIMESTAMP: tf.io.FixedLenSequenceFeature(
            [], tf.int64, allow_missing=True)} if timestamps else None

    def parse(serialized):
        context, sequence = tf.io.parse_single_sequence_example(
                serialized, context_features=context_spec, sequence_features=sequence_spec)
        fields = {
            "media_id": context[schema.MEDIA_ID],
            "labels": tf.sparse.to_dense(context[schema.LABEL_INDEX]),
            "frame_rate": context[schema.IMAGE_FRAME_RATE],
            "offsets": tf.sparse.to_dense(context[schema.frame_offsets_key(stream.group)]),
        }
        if timestamps:
            fields["timestamps_us"] = sequence[schema.IMAGE_TIMESTAMP]
        return fields
    return parse


def read_shards(paths, sizes, parse, *, training, seed, deterministic, skip_corrupt):
    """Dataset of parsed index records (dicts with a `shard` path) over all files;
    reads no frame."""
    files = tf.data.Dataset.from_tensor_slices((paths, tf.constant(sizes, tf.int64)))
    if training:
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)

    def read(path, size):
        index = tf.data.Dataset.from_tensor_slices(records.read_index(path, size, skip_corrupt))
        return index.map(lambda record: {**parse(record), "shard": path})

    return files.interleave(read, cycle_length=min(len(paths), 8), block_length=1,
                            num_parallel_calls=AUTOTUNE, deterministic=deterministic)


def frame_count(features, stream: modalities.Stream):
    """Frames of the modality in the index, asserted > 0."""
    count = tf.size(features["offsets"]) - 1
    check = records.check(count > 0, "No frames under ", ",".join(stream.keys), " in video ",
                          features["media_id"], " of shard ", features["shard"])
    with tf.control_dependencies([check]):
        return tf.identity(count)


def labels(features, num_classes, multi_label):
    labels = tf.cast(features["labels"], tf.int32)
    where = [" in video ", features["media_id"], " of shard ", features["shard"]]
    checks = [] if multi_label else [records.check(tf.size(labels) > 0, "No clip/label/index",
                                                   *where)]
    if num_classes is not None:
        checks.append(records.check(tf.reduce_all((labels >= 0) & (labels < num_classes)),
                                    "Label outside [0, ", str(num_classes), ")", *where))
    with tf.control_dependencies(checks):
        if multi_label:
            return tf.reduce_max(tf.one_hot(labels, num_classes, dtype=tf.float32), axis=0)
        return tf.identity(labels[0])


def untrimmed_offsets(features, count, snippets_per_second):
    """Snippet start frames at `snippets_per_second`; fails naming a video without a frame rate."""
    check = records.check(features["frame_rate"] > 0, "No image/frame_rate in video ",
                          features["media_id"], " of shard ", features["shard"])
    with tf.control_dependencies([check]):
        return sampling.untrimmed_offsets(count, features["frame_rate"], snippets_per_second)


def snippet_times(features, offsets):
    """Seconds of each snippet's first frame: its stored presentation timestamp
    (from the video's first frame), as tsn-predict reports them; float32 (S,).
    Shards without timestamps (flow ingested alone) give ``offset / frame_rate``."""
    times = features["timestamps_us"]
    times = tf.cond(tf.size(times) > 0, lambda: times, lambda: tf.cast(tf.round(
            tf.cast(tf.range(tf.reduce_max(offsets) + 1), tf.float64) * 1e6
            / tf.cast(features["frame_rate"], tf.float64)), tf.int64))
    last = tf.reduce_max(offsets)
    check = records.check(last < tf.size(times), "No image/timestamp for frame ", last,
                          " in video ", features["media_id"], " of shard ", features["shard"])
    with tf.control_dependencies([check]):
        return tf.cast(tf.cast(tf.gather(times, offsets), tf.float64) / 1e6, tf.float32)

