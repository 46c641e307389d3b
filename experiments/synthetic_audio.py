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
import numpy as np

from tsn_tf.input import synthetic
from tsn_tf.trainers.commands import run
from tsn_tf.trainers.fuse import fuse_files
from tsn_tf.trainers.reports import load_scores

flags.DEFINE_string("workdir", "runs/audio", "Folder for videos, shards and runs.")
flags.DEFINE_integer("videos_per_class", 16, "Synthetic videos per class (a quarter are test).")
flags.DEFINE_integer("train_steps", 200, "Training steps per stream.")
flags.DEFINE_integer("input_size", 64, "RGB model input side.")
flags.DEFINE_float("audio_weight", 1.0, "Fusion weight of audio (RGB: 1, flow: 1.5).")
FLAGS = flags.FLAGS

BACKBONES = {"rgb": "small", "flow": "small", "audio": "audio_small"}


def group_accuracy(scores, labels, class_names):
    """Top-1 accuracy (percent) on the video classes, the audio pair, and all videos."""
    predictions = scores.argmax(1)
    row = {}
    for group, members in (("video classes", synthetic.CLASSES),
                           ("tone pair", synthetic.AUDIO_CLASSES)):
        chosen = np.isin(labels, [class_names.index(name) for name in members])
        row[group] = 100 * float(np.mean(predictions[chosen] == labels[chosen]))
    row["all"] = 100 * float(np.mean(predictions == labels))
    return row


def train_and_score(shards, modality):
    model_dir = os.path.join(FLAGS.workdir, "runs", modality)
    run("trainers.train", f"--train_shards={shards}/train-*", f"--model_dir={model_dir}",
        f"--backbone={BACKBONES[modality]}", f"--input_size={FLAGS.input_size}",
        f"--modality={modality}", "--num_segments=3", "--batch_size=16",
        f"--train_steps={FLAGS.train_steps}", "--learning_rate=0.05", "--lr_schedule=cosine",
        "--nopartial_bn", "--dropout=0.5", "--save_every=100000", "--noprogress")
    run("trainers.evaluate", f"--model_dir={model_dir}", f"--eval_shards={shards}/test-*",
        "--eval_crops=1", "--eval_batch_size=8")
    return os.path.join(model_dir, "eval", f"scores_{modality}.npz")


def main(argv):
    del argv
    videos, shards = os.path.join(FLAGS.workdir, "videos"), os.path.join(FLAGS.workdir, "shards")
    lists = synthetic.make_synthetic_dataset(videos, videos_per_class=FLAGS.videos_per_class,
                                             audio=True)
    run("input.ingest_main", f"--video_dir={videos}", "--list_format=csv",
        f"--list_files={lists['train']},{lists['test']}", f"--class_index={lists['classes']}",
        f"--output={shards}", "--modalities=rgb,flow,audio", "--flow=dis", "--short_side=72",
        "--num_shards=2")
    files = {modality: train_and_score(shards, modality) for modality in BACKBONES}
    rows = {}
    for modality in BACKBONES:
        _, scores, labels, class_names = load_scores(files[modality])
        rows[modality] = group_accuracy(scores, labels, class_names)
    weight = FLAGS.audio_weight
    for name, streams, weights in (
            ("rgb + flow (1:1.5)", ("rgb", "flow"), (1.0, 1.5)),
            (f"rgb + audio (1:{weight:g})", ("rgb", "audio"), (1.0, weight)),
            (f"rgb + flow + audio (1:1.5:{weight:g})", ("rgb", "flow", "audio"),
             (1.0, 1.5, weight))):
        _, fused, labels, class_names = fuse_files([files[s] for s in streams], list(weights))
        rows[name] = group_accuracy(fused, labels, class_names)
    header = ["run", "video classes", "tone pair", "all"]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row[key]:.0f}" for key in header[1:]) + " |")


if __name__ == "__main__":
    app.run(main)
