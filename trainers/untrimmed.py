"""Untrimmed-video evaluation: snippet scores at a fixed rate, aggregation, mAP.

Snippets of a video arrive in chunks (`make_dataset(..., untrimmed_fps=1,
snippets_per_chunk=n)`), so a long video never has more than n decoded
snippets in memory. Each snippet is scored by the single-segment model; over
the crops of a snippet the maximum is taken (the reference's rule for
untrimmed video); then the (T, C) snippet scores of a video are aggregated by
average pooling, top-k pooling or M-TWI, all ending in a softmax.
"""
import numpy as np
import tensorflow as tf

from tsn_tf import metrics, temporal_integration
from tsn_tf.trainers import reports

AGGREGATIONS = ("average", "top_k", "mtwi")
TOP_K_SNIPPETS = 15


def video_snippet_scores(model, dataset):
    """Yields (media_id, multi-hot labels (C,), timestamps (T,), scores (T, C)) per video.

    Args:
        model: a TSN model over 1 segment.
        dataset: batch-1 elements (clips (1, crops, S, H, W, C), labels, extras),
            whole videos or chunks of them (`snippets_per_chunk`).
    """
    predict = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    parts, times, current = [], [], None
    for clips, labels, extras in dataset:
        first_chunk = "chunk" not in extras or int(extras["chunk"][0]) == 0
        if first_chunk and current is not None:
            yield current[0], current[1], np.concatenate(times), np.concatenate(parts)
            parts, times = [], []
        crops, snippets = clips.shape[1], int(extras["num_snippets"][0])
        flat = tf.reshape(clips[0, :, :snippets], (crops * snippets, 1, *clips.shape[3:]))
        scores = tf.reshape(predict(flat), (crops, snippets, -1))
        parts.append(tf.reduce_max(scores, axis=0).numpy())
        times.append(extras["timestamps"][0, :snippets].numpy())
        current = (extras["media_id"][0].numpy().decode(), labels[0].numpy())
    if current is not None:
        yield current[0], current[1], np.concatenate(times), np.concatenate(parts)


def aggregate(snippet_scores, method, snippet_rate=1.0):
    """Video class probabilities (C,) from snippet scores (T, C) by `method`."""
    if method == "average":
        return temporal_integration.average_pooling(snippet_scores).numpy()
    if method == "top_k":
        return temporal_integration.top_k_pooling(snippet_scores, TOP_K_SNIPPETS).numpy()
    if method == "mtwi":
        return temporal_integration.mtwi(snippet_scores, snippet_rate=snippet_rate).numpy()
    raise ValueError(f"Unknown aggregation. Expected one of {AGGREGATIONS}. Received: {method!r}")


def evaluate_videos(videos, snippet_rate=1.0):
    """mAP and hit@1 (percent) per aggregation over `video_snippet_scores` output.

    `snippet_rate` (snippets per second, for M-TWI's windows); None: each video's
    own, from its timestamps (`timestamp_rate`).
    Returns ({method: {"mAP", "top1"}}, media_ids, {method: probabilities (N, C)}).
    """
    ids, labels, probabilities = [], [], {method: [] for method in AGGREGATIONS}
    for media_id, multi_hot, times, scores in videos:
        ids.append(media_id)
        labels.append(multi_hot)
        rate = timestamp_rate(times) if snippet_rate is None else snippet_rate
        for method in AGGREGATIONS:
            probabilities[method].append(aggregate(scores, method, rate))
    if not ids:
        raise ValueError("The untrimmed evaluation shards hold no video.")
    labels = np.stack(labels)
    table = {}
    for method, values in probabilities.items():
        values = np.stack(values)
        probabilities[method] = values
        hits = labels[np.arange(len(ids)), values.argmax(1)] > 0
        table[method] = {"mAP": 100 * metrics.mean_average_precision(values, labels),
                         "top1": 100 * float(hits.mean())}
    return table, np.array(ids), probabilities


def timestamp_rate(times) -> float:
    """Snippets per second of snippets at `times` (seconds): 1 / the median step (1 for < 2)."""
    steps = np.diff(np.asarray(times, np.float64))
    step = float(np.median(steps)) if len(steps) else 0.0
    return 1.0 / step if step > 0 else 1.0


def save_snippet_scores(path: str, videos):
    """Writes `video_snippet_scores` output as an .npz: ``media_ids`` (V,), ``row_splits``
    (V + 1,) (video v's snippets are rows ``row_splits[v]:row_splits[v + 1]``),
    ``timestamps`` (S,) seconds and ``scores`` (S, C) pre-softmax."""
    videos = list(videos)
    if not videos:
        raise ValueError("The untrimmed evaluation shards hold no video.")
    lengths = [len(scores) for _, _, _, scores in videos]
    reports.write_npz(path, media_ids=np.array([v[0] for v in videos]),
                      row_splits=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                      timestamps=np.concatenate([v[2] for v in videos]),
                      scores=np.concatenate([v[3] for v in videos]))


def load_snippet_scores(path: str):
    """{media_id: (timestamps (T,), scores (T, C))} of a `save_snippet_scores` file."""
    data = reports.read_npz(path)
    splits = data["row_splits"]
    return {str(media_id): (data["timestamps"][start:stop], data["scores"][start:stop])
            for media_id, start, stop in zip(data["media_ids"], splits[:-1], splits[1:])}
