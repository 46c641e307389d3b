"""Rewrites shards of the old layout (one SequenceExample per video) in the indexed layout.

    python -m tsn_tf.input.ingestion.relayout_main --input='old/train-*' --output=new/

Each matching file is written under the same name in --output (any TF
filesystem; a temp name renamed when complete), with the videos in the same
order and the same bytes of every frame: no decoding, no flow to recompute.
Files already in the indexed layout are copied as they are; label_map.txt
and manifest.json beside the input are copied too.
"""
import os

from tsn_tf.trainers import cli  # first: quiets TensorFlow before it loads
from absl import app, flags
from google.protobuf import message
import tensorflow as tf

from tsn_tf.input.contract import layout
from tsn_tf.input.ingestion import shards, storage

FLAGS = flags.FLAGS
flags.DEFINE_string("input", None, "Glob of the shards to convert (old layout).")
flags.DEFINE_string("output", None, "Folder of the converted shards (not the input's).")


def convert_shard(source: str, target: str) -> int:
    """Writes old-layout shard `source` as indexed shard `target`; returns its video count."""
    temp = storage.join(os.path.dirname(target), f".{os.path.basename(target)}.tmp-{os.getpid()}")
    count = 0
    try:
        with layout.ShardWriter(temp) as writer:
            for serialized in tf.data.TFRecordDataset(source):
                writer.add(serialized.numpy())
                count += 1
    except (message.DecodeError, tf.errors.OpError) as error:
        storage.remove(temp)
        raise ValueError(f"{source}: record {count + 1} is no video of the old layout "
                         f"({type(error).__name__}: {str(error).strip()}): a truncated or "
                         "corrupt shard, or not a shard; ingest its videos again") from None
    storage.rename(temp, target)
    return count


def convert(pattern: str, output: str) -> None:
    paths, _ = layout.list_shards(pattern)
    storage.makedirs(output)
    for path in paths:
        target = storage.join(output, os.path.basename(path))
        if os.path.abspath(target) == os.path.abspath(path):
            raise app.UsageError(f"--output must differ from the input folder ({path}).")
        try:
            layout.read_index(path)
            tf.io.gfile.copy(path, target, overwrite=True)
            print(f"{path}: already indexed, copied")
        except ValueError:
            print(f"{path}: {convert_shard(path, target)} videos -> {target}")
    for name in (shards.LABEL_MAP_FILE, shards.MANIFEST_FILE):
        beside = storage.join(os.path.dirname(paths[0]), name)
        if tf.io.gfile.exists(beside):
            tf.io.gfile.copy(beside, storage.join(output, name), overwrite=True)


def main(argv):
    del argv
    if not FLAGS.input or not FLAGS.output:
        raise app.UsageError("--input and --output are required.")
    convert(FLAGS.input, FLAGS.output)


if __name__ == "__main__":
    cli.run(main)
