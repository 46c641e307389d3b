"""Pieces the synthetic-set reports share: ingest, train + evaluate a stream, tables."""
import os

import numpy as np

from tsn_tf.trainers.commands import FROM_SCRATCH_FLAGS, run


def ingest(videos, lists, shards, modalities="rgb,flow"):
    """tsn-ingest of the synthetic train and test lists (DIS flow, native size)."""
    run("input.ingestion.ingest_main", f"--video_dir={videos}", "--list_format=csv",
        f"--list_files={lists['train']},{lists['test']}", f"--class_index={lists['classes']}",
        f"--output={shards}", f"--modalities={modalities}", "--flow=dis", "--short_side=72",
        "--num_shards=2")


def train_and_score(shards, model_dir, modality, *flags):
    """tsn-train then tsn-eval (25 segments, 1 crop) of one stream; returns its score file."""
    run("trainers.train", f"--train_shards={shards}/train-*", f"--model_dir={model_dir}",
        f"--modality={modality}", *FROM_SCRATCH_FLAGS, "--save_every=100000", "--noprogress",
        *flags)
    run("trainers.evaluate", f"--model_dir={model_dir}", f"--eval_shards={shards}/test-*",
        "--eval_crops=1", "--eval_batch_size=8")
    return os.path.join(model_dir, "eval", f"scores_{modality}.npz")


def group_accuracy(scores, labels, class_names, groups):
    """Top-1 accuracy (percent) over the videos of each {name: class names} group, and all."""
    predictions = scores.argmax(1)
    row = {}
    for group, members in groups.items():
        chosen = np.isin(labels, [class_names.index(name) for name in members])
        row[group] = 100 * float(np.mean(predictions[chosen] == labels[chosen]))
    row["all"] = 100 * float(np.mean(predictions == labels))
    return row


def print_table(rows, columns):
    """Markdown table of {run: {column: percent}}."""
    header = ["run", *columns]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row[key]:.0f}" for key in columns) + " |")
