"""Video-level scores of untrimmed videos from per-snippet scores (TSN §4.3).

Input everywhere: ``snippet_scores`` (T, C), pre-softmax class scores of the
snippets of one video, sampled at ``snippet_rate`` snippets per second (1 FPS
in the paper), crops already reduced by the caller (the reference takes the
max over crops for M-TWI and the mean for the plain poolings). T may be
dynamic: every function works under ``tf.function(input_signature=
[tf.TensorSpec((None, C))])`` and inside a SavedModel.

Output everywhere: (C,) softmax probabilities by default, or the pre-softmax
video scores with ``normalize=False`` (use those for two-stream fusion, which
sums pre-softmax scores). This mirrors the reference functions'
``normalization`` / ``norm`` argument, which defaults to softmax.

M-TWI follows ``sliding_window_aggregation_func`` of the ActivityNet 2016
challenge code (yjxiong/anet2016-cuhk, utils/video_funcs.py), which
temporal-segment-networks refers to for untrimmed videos:

- for each span (seconds): window length ``w = span * snippet_rate`` snippets
  and step ``ceil(w * (1 - overlap))`` (1, 2, 4, 7, 13 at 1 FPS);
- windows start at 0, step, 2·step, ... while the start is < T; a window
  running past the end is cut at the end (``scores[i:i + w]``), so the last
  windows may be partial and a video shorter than the span has one window
  over the whole video;
- max-pool inside each window per class, then the mean of the top
  ``k = max(min_top_k, floor(n_windows * top_k_fraction))`` windows per class
  (the reference's ``max(15, len / 4)`` with Python 2 integer division), all
  windows when fewer than k;
- mean over spans; softmax last, on the mean (as in DESIGN §5).

Not in the reference: a non-integer ``span * snippet_rate`` is rounded half up
(at least 1 snippet); the reference only runs at integer rates.
"""
import math

import tensorflow as tf

DEFAULT_SPANS_S = (1, 2, 4, 8, 16)


def window_geometry(span_s, snippet_rate, overlap):
    """Window length and step in snippets for a span in seconds: (w, ceil(w * (1 - overlap)))."""
    length = max(1, int(math.floor(span_s * snippet_rate + 0.5)))
    return length, int(math.ceil(length * (1.0 - overlap)))


def window_max_pool(snippet_scores, length, step):
    """Per-class max over windows starting at 0, step, ... < T, cut at T.

    Args:
        snippet_scores: (T, C) float tensor, T >= 1.
        length: window length in snippets (python int >= 1).
        step: window step in snippets (python int >= 1).

    Returns:
        (ceil(T / step), C) window scores.
    """
    scores = tf.convert_to_tensor(snippet_scores)
    # pad_end gives exactly ceil(T / step) frames; -inf padding never wins a max
    # because every window starts inside the video.
    windows = tf.signal.frame(scores, length, step, pad_end=True,
                              pad_value=float("-inf"), axis=0)
    return tf.reduce_max(windows, axis=1)


def top_k_mean(scores, k):
    """Per-class mean of the k largest rows of `scores` (N, C), k capped at N; returns (C,)."""
    scores = tf.convert_to_tensor(scores)
    k = tf.minimum(tf.cast(k, tf.int32), tf.shape(scores)[0])
    return tf.reduce_mean(tf.math.top_k(tf.transpose(scores), k, sorted=False).values, axis=-1)


def num_top_windows(num_windows, min_top_k, top_k_fraction):
    """k = max(min_top_k, floor(num_windows * top_k_fraction)) as an int32 tensor (not capped)."""
    by_fraction = tf.cast(tf.floor(tf.cast(num_windows, tf.float64) * top_k_fraction), tf.int32)
    return tf.maximum(tf.constant(min_top_k, tf.int32), by_fraction)


def mtwi(snippet_scores, *, snippet_rate=1.0, spans_s=DEFAULT_SPANS_S, overlap=0.2,
         min_top_k=15, top_k_fraction=0.25, normalize=True):
    """Multi-scale temporal window integration of one video's snippet scores.

    Args:
        snippet_scores: (T, C) pre-softmax scores, T >= 1 (may be dynamic).
        snippet_rate: snippets per second the scores were taken at.
        spans_s: window spans in seconds.
        overlap: overlap of consecutive windows, in [0, 1).
        min_top_k: at least this many top windows are averaged per class.
        top_k_fraction: or this fraction of the windows, if more.
        normalize: softmax the result (default) or return pre-softmax scores.

    Returns:
        (C,) class probabilities (or pre-softmax scores).
    """
    _check_mtwi_arguments(snippet_rate, spans_s, overlap, min_top_k, top_k_fraction)
    scores = _as_snippet_scores(snippet_scores)
    per_span = []
    for span_s in spans_s:
        window_scores = window_max_pool(scores, *window_geometry(span_s, snippet_rate, overlap))
        k = num_top_windows(tf.shape(window_scores)[0], min_top_k, top_k_fraction)
        per_span.append(top_k_mean(window_scores, k))
    return _maybe_softmax(tf.reduce_mean(tf.stack(per_span), axis=0), normalize)


def mtwi_batch(snippet_scores, **mtwi_kwargs):
    """`mtwi` over a batch of videos of different lengths.

    Args:
        snippet_scores: tf.RaggedTensor (B, None, C), one row per video.
        **mtwi_kwargs: keyword arguments of `mtwi`.

    Returns:
        (B, C) class probabilities (or pre-softmax scores).
    """
    if not isinstance(snippet_scores, tf.RaggedTensor) or snippet_scores.ragged_rank != 1:
        raise ValueError("mtwi_batch takes a tf.RaggedTensor (B, None, C) with ragged_rank 1. "
                         f"Received: {snippet_scores!r}")
    dtype = snippet_scores.dtype if snippet_scores.dtype.is_floating else tf.float32
    return tf.map_fn(lambda video: mtwi(video, **mtwi_kwargs), snippet_scores,
                     fn_output_signature=tf.TensorSpec([None], dtype))


def top_k_pooling(snippet_scores, k, *, normalize=True):
    """Per-class mean of the k highest snippet scores (all snippets if T < k).

    Args:
        snippet_scores: (T, C) pre-softmax scores, T >= 1.
        k: number of snippets averaged per class, >= 1.
        normalize: softmax the result (default) or return pre-softmax scores.

    Returns:
        (C,) class probabilities (or pre-softmax scores).
    """
    if isinstance(k, int) and k < 1:
        raise ValueError(f"top_k_pooling needs k >= 1. Received: k={k}")
    scores = _as_snippet_scores(snippet_scores)
    return _maybe_softmax(top_k_mean(scores, k), normalize)


def average_pooling(snippet_scores, *, normalize=True):
    """Mean over snippets: (T, C) -> (C,) class probabilities (or pre-softmax scores)."""
    scores = _as_snippet_scores(snippet_scores)
    return _maybe_softmax(tf.reduce_mean(scores, axis=0), normalize)


def _maybe_softmax(video_scores, normalize):
    return tf.nn.softmax(video_scores) if normalize else video_scores


def _as_snippet_scores(snippet_scores):
    """Float (T, C) tensor with a runtime check that T >= 1."""
    scores = tf.convert_to_tensor(snippet_scores)
    if not scores.dtype.is_floating:
        scores = tf.cast(scores, tf.float32)
    if scores.shape.rank is not None and scores.shape.rank != 2:
        raise ValueError(f"Snippet scores must have shape (T, C). Received: shape={scores.shape}")
    if scores.shape[0] == 0:
        raise ValueError(f"Snippet scores need at least one snippet. Received: shape={scores.shape}")
    with tf.control_dependencies([tf.debugging.assert_positive(
            tf.shape(scores)[0], message="Snippet scores need at least one snippet (T >= 1)")]):
        return tf.identity(scores)


def _check_mtwi_arguments(snippet_rate, spans_s, overlap, min_top_k, top_k_fraction):
    if not snippet_rate > 0:
        raise ValueError(f"snippet_rate must be > 0 snippets per second. Received: snippet_rate={snippet_rate}")
    if len(spans_s) == 0 or any(not span > 0 for span in spans_s):
        raise ValueError(f"spans_s must be a non-empty list of positive seconds. Received: spans_s={spans_s}")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1). Received: overlap={overlap}")
    if min_top_k < 1:
        raise ValueError(f"min_top_k must be >= 1. Received: min_top_k={min_top_k}")
    if top_k_fraction < 0:
        raise ValueError(f"top_k_fraction must be >= 0. Received: top_k_fraction={top_k_fraction}")
