"""Reproduce the paper's claims on the synthetic set; prints a Markdown table.

    .venv/bin/python experiments/synthetic_claims.py --workdir=runs/claims

Trains small-backbone streams from scratch with the real CLIs (tsn-ingest, tsn-train,
tsn-eval, tsn-fuse) and reports test accuracy per class group of
`tsn_tf.input.synthetic`: appearance (red/blue square), direction (blob
left/right), order (up-then-down / down-then-up) and composition
(up-and-left / down-and-right). A report, not a test: numbers vary with seeds.
"""
import os

from absl import app, flags
import numpy as np

from tsn_tf.input import synthetic
from tsn_tf.trainers.commands import run
from tsn_tf.trainers.fuse import fuse_files
from tsn_tf.trainers.reports import load_scores

flags.DEFINE_string("workdir", "runs/claims", "Folder for videos, shards and runs.")
flags.DEFINE_integer("videos_per_class", 24, "Synthetic videos per class (a quarter are test).")
flags.DEFINE_integer("train_steps", 300, "Training steps per run.")
flags.DEFINE_integer("input_size", 64, "Model input side.")
FLAGS = flags.FLAGS

GROUPS = {"appearance": ("red_square", "blue_square"), "direction": ("blob_left", "blob_right"),
          "order": ("up_then_down", "down_then_up"),
          "composition": ("up_and_left", "down_and_right")}
# (row name, modality, K, consensus)
RUNS = [("RGB", "rgb", 3, "avg"), ("flow", "flow", 3, "avg"), ("RGB diff", "rgb_diff", 3, "avg"),
        ("flow K=1", "flow", 1, "avg"), ("flow max", "flow", 3, "max"),
        ("flow top-k (k=2)", "flow", 3, "topk"), ("flow weighted", "flow", 3, "weighted"),
        ("flow attention", "flow", 3, "attention")]


def group_accuracy(scores, labels, class_names):
    """Top-1 accuracy (percent) over the videos of each class group, and overall."""
    predictions = scores.argmax(1)
    row = {}
    for group, members in GROUPS.items():
        chosen = np.isin(labels, [class_names.index(name) for name in members])
        row[group] = 100 * float(np.mean(predictions[chosen] == labels[chosen]))
    row["all"] = 100 * float(np.mean(predictions == labels))
    return row


def train_and_score(shards, name, modality, segments, consensus):
    model_dir = os.path.join(FLAGS.workdir, "runs", name.replace(" ", "_").replace("=", ""))
    run("trainers.train", f"--train_shards={shards}/train-*", f"--model_dir={model_dir}",
        "--backbone=small", f"--input_size={FLAGS.input_size}", f"--modality={modality}",
        f"--num_segments={segments}", f"--consensus={consensus}", "--topk=2", "--batch_size=16",
        f"--train_steps={FLAGS.train_steps}", "--learning_rate=0.05", "--lr_schedule=cosine",
        "--nopartial_bn", "--dropout=0.5", "--save_every=100000", "--noprogress")
    run("trainers.evaluate", f"--model_dir={model_dir}", f"--eval_shards={shards}/test-*",
        "--eval_crops=1", "--eval_batch_size=8")
    return os.path.join(model_dir, "eval", f"scores_{modality}.npz")


def main(argv):
    del argv
    videos, shards = os.path.join(FLAGS.workdir, "videos"), os.path.join(FLAGS.workdir, "shards")
    lists = synthetic.make_synthetic_dataset(videos, videos_per_class=FLAGS.videos_per_class)
    run("input.ingest_main", f"--video_dir={videos}", "--list_format=csv",
        f"--list_files={lists['train']},{lists['test']}", f"--class_index={lists['classes']}",
        f"--output={shards}", "--flow=dis", "--short_side=72", "--num_shards=2")
    rows, files = {}, {}
    for name, modality, segments, consensus in RUNS:
        files[name] = train_and_score(shards, name, modality, segments, consensus)
        _, scores, labels, class_names = load_scores(files[name])
        rows[name] = group_accuracy(scores, labels, class_names)
    _, fused, labels, class_names = fuse_files([files["RGB"], files["flow"]], [1.0, 1.5])
    rows["RGB + flow (1:1.5)"] = group_accuracy(fused, labels, class_names)
    header = ["run", *GROUPS, "all"]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row[key]:.0f}" for key in header[1:]) + " |")


if __name__ == "__main__":
    app.run(main)
