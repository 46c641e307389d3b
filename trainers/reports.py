"""Evaluation outputs: per-video score files, metrics JSON, confusion-matrix PNG."""
import io
import json
import os

import cv2
import numpy as np
import tensorflow as tf

from tsn_tf import metrics


def save_scores(path, media_ids, scores, labels, class_names, modality=""):
    """Per-video pre-softmax scores of one stream, the input of tsn-fuse."""
    buffer = io.BytesIO()
    np.savez(buffer, media_ids=np.asarray(media_ids), scores=scores, labels=labels,
             class_names=np.asarray(class_names), modality=np.asarray(modality))
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(buffer.getvalue())


def load_stream(path):
    """(media_ids, scores, labels, class_names, modality) from a `save_scores`
    file; modality is "" when none was recorded."""
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"Score file {path} not found (written by tsn-eval).")
    with tf.io.gfile.GFile(path, "rb") as f:
        data = np.load(io.BytesIO(f.read()))
        modality = str(data["modality"]) if "modality" in data else ""
        return (data["media_ids"], data["scores"], data["labels"], list(data["class_names"]),
                modality)


def load_scores(path):
    """(media_ids, scores, labels, class_names) from a `save_scores` file."""
    return load_stream(path)[:4]


def summarize(scores, labels, num_classes):
    """Top-1, top-5 and mean class accuracy (percent)."""
    return {"videos": int(len(labels)),
            "top1": 100 * metrics.top_k_accuracy(scores, labels, 1),
            "top5": 100 * metrics.top_k_accuracy(scores, labels, min(5, num_classes)),
            "mean_class_accuracy": 100 * metrics.mean_class_accuracy(scores, labels, num_classes)}


def confusion_image(matrix, cell=12):
    """Row-normalized confusion matrix as an RGB uint8 heat map (true rows, predicted columns)."""
    totals = np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    heat = (255 * matrix / totals).astype("uint8")
    big = cv2.resize(heat, None, fx=cell, fy=cell, interpolation=cv2.INTER_NEAREST)
    return cv2.cvtColor(cv2.applyColorMap(big, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)


def write_report(output_dir, results, predictions, labels, class_names):
    """metrics.json, confusion.png and TensorBoard scalars + image in output_dir."""
    matrix = metrics.confusion_matrix(predictions, labels, len(class_names))
    image = confusion_image(matrix)
    with tf.io.gfile.GFile(os.path.join(output_dir, "metrics.json"), "w") as f:
        json.dump({**results, "class_names": class_names, "confusion": matrix.tolist()}, f, indent=2)
    with tf.io.gfile.GFile(os.path.join(output_dir, "confusion.png"), "wb") as f:
        f.write(cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))[1].tobytes())
    writer = tf.summary.create_file_writer(output_dir)
    with writer.as_default(step=0):
        for name, value in results.items():
            if isinstance(value, float):
                tf.summary.scalar(name, value)
        tf.summary.image("confusion_matrix", image[None])
    writer.close()
