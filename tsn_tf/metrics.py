"""Video-level metrics and two-stream score fusion, in NumPy.

The evaluator collects per-video scores (N, C) and calls these on them.

Average precision (per class, over videos ranked by descending score; equal
scores keep their input order, i.e. a stable sort):

- ``interpolated=False`` (default): the THUMOS14 classification definition
  (``TH14evalRecog.m`` of the THUMOS14 devkit: mean over the relevant videos
  of the precision at each relevant video's rank; MATLAB's sort is stable).
- ``interpolated=True``: ActivityNet's ``eval_classification.py``
  (activitynet/ActivityNet, Evaluation/), which passes the same ranking
  through VOC 2011 all-point interpolation (``interpolated_prec_rec``): the
  precision at each relevant rank is replaced by the best precision at that
  rank or below. ActivityNet sorts with ``argsort()[::-1]``, an unstable order
  on ties; we keep the stable one, so tied scores can differ from it.

mAP averages AP over the classes that have at least one relevant video.
"""
import numpy as np

def default_fusion_weights(modalities):
    """One weight per stream by modality: RGB 1 and flow 1.5, or RGB:flow:warped flow
    1:1:0.5 when warped flow is fused too; RGB difference 1; audio 1."""
    weights = {"rgb": 1.0, "rgb_diff": 1.0, "flow": 1.5, "warped_flow": 0.5, "audio": 1.0}
    if "warped_flow" in modalities:
        weights["flow"] = 1.0
    unknown = [m for m in modalities if m not in weights]
    if unknown:
        raise ValueError(f"No default fusion weight for {unknown}: pass weights. "
                         f"Received: modalities={list(modalities)}")
    return [weights[m] for m in modalities]


# By stream count, for scores without a recorded modality: (RGB, flow) 1:1.5,
# (RGB, flow, warped flow) 1:1:0.5.
DEFAULT_FUSION_WEIGHTS = {len(streams): tuple(default_fusion_weights(streams))
                          for streams in (("rgb", "flow"), ("rgb", "flow", "warped_flow"))}


def top_k_accuracy(scores, labels, k=1):
    """Fraction of videos whose label is among their k highest scores.

    Args:
        scores: (N, C) scores (pre- or post-softmax).
        labels: (N,) int class indices.
        k: 1 <= k <= C. On ties the lower class index ranks first.

    Returns:
        float in [0, 1].
    """
    scores, labels = _check_scores_and_labels(scores, labels)
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(f"k must be in [1, {scores.shape[1]}] (number of classes). Received: k={k}")
    top_k = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top_k == labels[:, None], axis=1)))


def confusion_matrix(predictions, labels, num_classes):
    """Counts (num_classes, num_classes) int64: row = true label, column = prediction."""
    predictions = _check_class_indices(predictions, num_classes, "predictions")
    labels = _check_class_indices(labels, num_classes, "labels")
    if predictions.shape != labels.shape:
        raise ValueError("predictions and labels must have the same shape. "
                         f"Received: predictions.shape={predictions.shape}, labels.shape={labels.shape}")
    pairs = labels * num_classes + predictions
    return np.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def mean_class_accuracy(scores, labels, num_classes):
    """Mean over classes present in `labels` of the top-1 recall of that class.

    Args:
        scores: (N, C) scores, C == num_classes; top-1 is the first argmax.
        labels: (N,) int class indices.
        num_classes: C.

    Returns:
        float in [0, 1].
    """
    scores, labels = _check_scores_and_labels(scores, labels)
    if scores.shape[1] != num_classes:
        raise ValueError(f"scores must have num_classes={num_classes} columns. Received: shape={scores.shape}")
    counts = confusion_matrix(np.argmax(scores, axis=1), labels, num_classes)
    per_class_total = counts.sum(axis=1)
    present = per_class_total > 0
    return float(np.mean(np.diag(counts)[present] / per_class_total[present]))


def average_precision(scores, relevant, *, interpolated=False):
    """AP of one class: videos ranked by descending score (stable on ties).

    Args:
        scores: (N,) scores of this class.
        relevant: (N,) bool, True where the video has this class; at least one.
        interpolated: False: mean precision at the relevant ranks (THUMOS14);
            True: VOC 2011 all-point interpolation (ActivityNet).

    Returns:
        float in [0, 1].
    """
    scores = np.asarray(scores, dtype=np.float64)
    relevant = np.asarray(relevant)
    if scores.ndim != 1 or relevant.shape != scores.shape:
        raise ValueError("scores and relevant must both have shape (N,). "
                         f"Received: scores.shape={scores.shape}, relevant.shape={relevant.shape}")
    relevant = relevant.astype(bool)
    if not relevant.any():
        raise ValueError("average_precision needs at least one relevant item. "
                         f"Received: relevant with {relevant.size} items, none True")
    hits = relevant[np.argsort(-scores, kind="stable")]
    precision = np.cumsum(hits) / np.arange(1, hits.size + 1)
    if interpolated:
        precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.mean(precision[hits]))


def mean_average_precision(scores, multi_hot, *, interpolated=False):
    """Mean of `average_precision` over the classes with at least one positive.

    Args:
        scores: (N, C) video scores.
        multi_hot: (N, C) bool/0-1, True where video n has class c.
        interpolated: see `average_precision`.

    Returns:
        float in [0, 1].
    """
    scores = np.asarray(scores)
    multi_hot = np.asarray(multi_hot).astype(bool)
    if scores.ndim != 2 or multi_hot.shape != scores.shape:
        raise ValueError("scores and multi_hot must both have shape (N, C). "
                         f"Received: scores.shape={scores.shape}, multi_hot.shape={multi_hot.shape}")
    classes = np.flatnonzero(multi_hot.any(axis=0))
    if classes.size == 0:
        raise ValueError(f"multi_hot has no positive in any class. Received: shape={multi_hot.shape}")
    return float(np.mean([average_precision(scores[:, c], multi_hot[:, c], interpolated=interpolated)
                          for c in classes]))


def multi_hot(label_lists, num_classes):
    """(N, num_classes) bool from one list of class indices per video (may be empty)."""
    encoded = np.zeros((len(label_lists), num_classes), dtype=bool)
    for row, video_labels in enumerate(label_lists):
        encoded[row, _check_class_indices(np.asarray(video_labels, dtype=np.int64).reshape(-1),
                                          num_classes, f"label_lists[{row}]")] = True
    return encoded


def fuse_scores(score_list, weights=None):
    """Weighted sum of pre-softmax score arrays of the same shape (one per stream).

    Args:
        score_list: arrays of one shape, e.g. (N, C) per stream.
        weights: one float per stream. Default: `DEFAULT_FUSION_WEIGHTS`, i.e.
            (RGB, flow) 1:1.5 or (RGB, flow, warped flow) 1:1:0.5.

    Returns:
        float64 array of that shape.
    """
    arrays = [np.asarray(scores, dtype=np.float64) for scores in score_list]
    if not arrays:
        raise ValueError("fuse_scores needs at least one score array. Received: an empty list")
    if weights is None:
        if len(arrays) not in DEFAULT_FUSION_WEIGHTS:
            raise ValueError("Default fusion weights exist for (RGB, flow) and (RGB, flow, warped flow); "
                             f"pass weights. Received: {len(arrays)} score arrays")
        weights = DEFAULT_FUSION_WEIGHTS[len(arrays)]
    if len(weights) != len(arrays):
        raise ValueError(f"Need one weight per score array. Received: {len(arrays)} arrays, weights={weights}")
    for index, array in enumerate(arrays[1:], start=1):
        if array.shape != arrays[0].shape:
            raise ValueError(f"Score arrays must share one shape. Received: score_list[{index}].shape="
                             f"{array.shape}, score_list[0].shape={arrays[0].shape}")
    return sum(weight * array for weight, array in zip(weights, arrays))


def _check_class_indices(indices, num_classes, name):
    indices = np.asarray(indices)
    if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-D integer array. Received: dtype={indices.dtype}, "
                         f"shape={indices.shape}")
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise ValueError(f"{name} must be class indices in [0, {num_classes}). "
                         f"Received: min={indices.min()}, max={indices.max()}")
    return indices.astype(np.int64)


def _check_scores_and_labels(scores, labels):
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(f"scores must have shape (N, C) with N >= 1. Received: shape={scores.shape}")
    labels = _check_class_indices(labels, scores.shape[1], "labels")
    if labels.shape[0] != scores.shape[0]:
        raise ValueError(f"labels must have one entry per row of scores. Received: labels.shape="
                         f"{labels.shape}, scores.shape={scores.shape}")
    return scores, labels
