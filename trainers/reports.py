"""Evaluation outputs: per-video score files, metrics JSON, confusion-matrix PNG."""
import io
import json
import os

import cv2
import numpy as np
import tensorflow as tf

from tsn_tf import metrics


def write_npz(path, **arrays):
    """An .npz of `arrays` at a local path or URL (built in memory: zip needs seeking,
    which a GFile being written lacks)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(buffer.getvalue())


def read_npz(path):
    """The arrays of an .npz at a local path or URL (read whole into memory)."""
    with tf.io.gfile.GFile(path, "rb") as f:
        return np.load(io.BytesIO(f.read()))


def save_scores(path, media_ids, scores, labels, class_names, modality=""):
    """Per-video pre-softmax scores of one stream, the input of tsn-fuse."""
    write_npz(path, media_ids=np.asarray(media_ids), scores=scores, labels=labels,
              class_names=np.asarray(class_names), modality=np.asarray(modality))


def load_stream(path):
    """(media_ids, scores, labels, class_names, modality) from a `save_scores`
    file; modality is "" when none was recorded."""
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"Score file {path} not found (written by tsn-eval).")
    data = read_npz(path)
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


# Confusion-matrix picture: sizes in pixels.
MAX_CELL, MIN_CELL = 80, 12        # a cell's side: 2 classes get 80, 101 get 12
MATRIX_SIDE = 800                  # cells shrink to fit this until MIN_CELL
COUNTS_MIN_CELL = 28               # counts are written in cells at least this big
FONT = cv2.FONT_HERSHEY_SIMPLEX
BLACK, WHITE, GREY = (0, 0, 0), (255, 255, 255), (90, 90, 90)


def _font_scale(height, largest):
    """The largest scale <= `largest` whose text is at most `height` px tall."""
    text_height = cv2.getTextSize("Ag", FONT, 1.0, 1)[0][1] + 4
    return min(largest, height / text_height)


def _text(image, text, origin, scale, color=BLACK):
    cv2.putText(image, text, origin, FONT, scale, color, 1, cv2.LINE_AA)


def _text_width(text, scale):
    return cv2.getTextSize(text, FONT, scale, 1)[0][0]


def _viridis(levels):
    """RGB viridis colours of uint8 levels."""
    return cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)


def confusion_image(matrix, class_names):
    """The confusion matrix as an RGB uint8 picture: true classes in rows, predicted in
    columns, cells coloured by the row-normalized fraction (viridis, colour bar on
    the right), class names on both axes and, when cells are big enough (up to
    ~28 classes), each cell's video count."""
    matrix = np.asarray(matrix)
    num_classes = len(matrix)
    cell = int(np.clip(MATRIX_SIDE // max(num_classes, 1), MIN_CELL, MAX_CELL))
    side = cell * num_classes
    label_scale = _font_scale(0.8 * cell, largest=0.5)
    label_width = max(_text_width(str(name), label_scale) for name in class_names) + 8
    title = "confusion matrix: rows true class, columns predicted (share of the row)"
    title_height = 40
    left, top = label_width + 30, title_height + label_width + 30
    bar_left = left + side + 20
    width = max(bar_left + 60, _text_width(title, 0.5) + 20)
    image = np.full((top + side + 20, width, 3), 255, np.uint8)
    fractions = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    levels = np.round(255 * fractions).astype("uint8")
    image[top:top + side, left:left + side] = _viridis(
            cv2.resize(levels, None, fx=cell, fy=cell, interpolation=cv2.INTER_NEAREST))
    _text(image, title, (10, 25), 0.5)
    _text(image, "true", (4, top - 8), 0.45, GREY)
    _text(image, "predicted", (left, title_height + 12), 0.45, GREY)
    baseline = int(cell / 2 + cv2.getTextSize("A", FONT, label_scale, 1)[0][1] / 2)
    names = np.full((side, label_width, 3), 255, np.uint8)  # a column of names, one per cell
    for index, name in enumerate(class_names):
        _text(names, str(name), (4, index * cell + baseline), label_scale)
    image[top:top + side, left - label_width - 4:left - 4] = names  # rows: true classes
    image[top - label_width - 4:top - 4, left:left + side] = cv2.rotate(  # columns: predicted
            names, cv2.ROTATE_90_COUNTERCLOCKWISE)
    if cell >= COUNTS_MIN_CELL:
        _write_counts(image, matrix, fractions, left, top, cell)
    _draw_colour_bar(image, bar_left, top, side)
    return image


def _write_counts(image, matrix, fractions, left, top, cell):
    """Each cell's count, centred, black on light cells and white on dark ones."""
    scale = _font_scale(0.45 * cell, largest=0.7)
    for row, col in np.ndindex(matrix.shape):
        text = str(int(matrix[row, col]))
        (text_w, text_h), _ = cv2.getTextSize(text, FONT, scale, 1)
        origin = (left + col * cell + (cell - text_w) // 2, top + row * cell + (cell + text_h) // 2)
        _text(image, text, origin, scale, BLACK if fractions[row, col] > 0.6 else WHITE)


def _draw_colour_bar(image, left, top, side, width=20):
    """Viridis bar beside the matrix, 1 at the top and 0 at the bottom, with ticks."""
    levels = np.linspace(255, 0, side).round().astype("uint8")[:, None].repeat(width, 1)
    image[top:top + side, left:left + width] = _viridis(levels)
    for fraction in (0.0, 0.5, 1.0):
        y = top + int(round((1 - fraction) * (side - 1)))
        cv2.line(image, (left + width, y), (left + width + 4, y), BLACK, 1)
        _text(image, f"{fraction:.1f}", (left + width + 7, y + 5), 0.4)


def write_report(output_dir, results, predictions, labels, class_names):
    """metrics.json, confusion.png and TensorBoard scalars + image in output_dir."""
    matrix = metrics.confusion_matrix(predictions, labels, len(class_names))
    image = confusion_image(matrix, class_names)
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
