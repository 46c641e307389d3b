"""Reproduce the paper's claims on the synthetic set; prints a Markdown table.

    .venv/bin/python experiments/synthetic_claims.py --workdir=runs/claims

Trains small-backbone streams from scratch with the real CLIs (tsn-ingest, tsn-train,
tsn-eval, tsn-fuse) and reports test accuracy per class group of
`tsn_tf.synthetic`: appearance (red/blue square), direction (blob
left/right), order (up-then-down / down-then-up) and composition
(up-and-left / down-and-right). A report, not a test: numbers vary with seeds.
"""
import os

from absl import app, flags

from common import group_accuracy, ingest, print_table, train_and_score
from tsn_tf import synthetic
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


def train_and_score_run(shards, name, modality, segments, consensus):
    model_dir = os.path.join(FLAGS.workdir, "runs", name.replace(" ", "_").replace("=", ""))
    return train_and_score(shards, model_dir, modality, "--backbone=small",
                           f"--input_size={FLAGS.input_size}", f"--num_segments={segments}",
                           f"--consensus={consensus}", "--topk=2",
                           f"--train_steps={FLAGS.train_steps}")


def main(argv):
    del argv
    videos, shards = os.path.join(FLAGS.workdir, "videos"), os.path.join(FLAGS.workdir, "shards")
    lists = synthetic.make_synthetic_dataset(videos, videos_per_class=FLAGS.videos_per_class)
    ingest(videos, lists, shards)
    rows, files = {}, {}
    for name, modality, segments, consensus in RUNS:
        files[name] = train_and_score_run(shards, name, modality, segments, consensus)
        _, scores, labels, class_names = load_scores(files[name])
        rows[name] = group_accuracy(scores, labels, class_names, GROUPS)
    _, fused, labels, class_names = fuse_files([files["RGB"], files["flow"]], [1.0, 1.5])
    rows["RGB + flow (1:1.5)"] = group_accuracy(fused, labels, class_names, GROUPS)
    print_table(rows, [*GROUPS, "all"])


if __name__ == "__main__":
    app.run(main)
