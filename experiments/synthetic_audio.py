"""What the audio stream adds on the synthetic set with sound; prints a Markdown table.

    .venv/bin/python experiments/synthetic_audio.py --workdir=runs/audio

`make_synthetic_dataset(audio=True)`: the 8 video classes (same tone band
for all) plus tone_low / tone_high, whose videos are identical. Trains RGB
and flow streams (small backbone) and an audio stream (audio_small) from
scratch with the real CLIs, evaluates each (25 segments, 1 crop) and fuses
them with and without audio.
Columns: accuracy on the 8 video classes, on the tone pair, and overall.
A report, not a test: numbers vary with seeds.
"""
import os

from absl import app, flags

from common import group_accuracy, ingest, print_table, train_and_score
from tsn_tf import synthetic
from tsn_tf.trainers.fuse import fuse_files
from tsn_tf.trainers.reports import load_scores

flags.DEFINE_string("workdir", "runs/audio", "Folder for videos, shards and runs.")
flags.DEFINE_integer("videos_per_class", 16, "Synthetic videos per class (a quarter are test).")
flags.DEFINE_integer("train_steps", 200, "Training steps per stream.")
flags.DEFINE_integer("input_size", 64, "RGB model input side.")
flags.DEFINE_float("audio_weight", 1.0, "Fusion weight of audio (RGB: 1, flow: 1.5).")
FLAGS = flags.FLAGS

BACKBONES = {"rgb": "small", "flow": "small", "audio": "audio_small"}


GROUPS = {"video classes": synthetic.CLASSES, "tone pair": synthetic.AUDIO_CLASSES}


def train_and_score_stream(shards, modality):
    size = [f"--input_size={FLAGS.input_size}"] if modality != "audio" else []
    return train_and_score(shards, os.path.join(FLAGS.workdir, "runs", modality), modality,
                           f"--backbone={BACKBONES[modality]}", *size,
                           f"--train_steps={FLAGS.train_steps}")


def main(argv):
    del argv
    videos, shards = os.path.join(FLAGS.workdir, "videos"), os.path.join(FLAGS.workdir, "shards")
    lists = synthetic.make_synthetic_dataset(videos, videos_per_class=FLAGS.videos_per_class,
                                             audio=True)
    ingest(videos, lists, shards, modalities="rgb,flow,audio")
    files = {modality: train_and_score_stream(shards, modality) for modality in BACKBONES}
    rows = {}
    for modality in BACKBONES:
        _, scores, labels, class_names = load_scores(files[modality])
        rows[modality] = group_accuracy(scores, labels, class_names, GROUPS)
    weight = FLAGS.audio_weight
    for name, streams, weights in (
            ("rgb + flow (1:1.5)", ("rgb", "flow"), (1.0, 1.5)),
            (f"rgb + audio (1:{weight:g})", ("rgb", "audio"), (1.0, weight)),
            (f"rgb + flow + audio (1:1.5:{weight:g})", ("rgb", "flow", "audio"),
             (1.0, 1.5, weight))):
        _, fused, labels, class_names = fuse_files([files[s] for s in streams], list(weights))
        rows[name] = group_accuracy(fused, labels, class_names, GROUPS)
    print_table(rows, [*GROUPS, "all"])


if __name__ == "__main__":
    app.run(main)
