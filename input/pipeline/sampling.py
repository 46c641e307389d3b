"""Which frames a TSN clip reads: segment offsets and snippet frame indices.

Formulas of DESIGN.md §5 (0-based; N frames, K segments, snippet length L),
as in tsn-pytorch `dataset.py`:

- train: ``avg = (N - L + 1) // K``; if ``avg > 0`` the offset of segment i is
  ``i*avg + randint(avg)``; elif ``N > K`` K independent draws from
  ``range(N - L + 1)``, sorted (as tsn-pytorch since its "fix corner case
  sampling" commit of 2017-09; its first release drew one value for all K);
  the range is at least ``range(1)``; else zeros.
- test/val: ``tick = (N - L + 1) / K``; offset ``int(tick/2 + i*tick)``,
  clamped at 0 when N < L makes tick negative.
- a snippet reads frames ``p .. p+L-1``, repeating the last frame past the end.
- untrimmed: one snippet every ``frame_rate / snippets_per_second`` frames from
  frame 0 to the last frame.
- snippet features (BSN / BMN input): snippets centred on frames
  ``interval // 2 + t * interval`` below N, the snippet of L items reading
  ``c - L // 2 ..`` (mmaction2's ``UntrimmedSampleFrames``, ``clip_interval``
  = interval, ``clip_len`` = L).

The TF functions run in a tf.data graph with stateless random ops; the
``np_*`` functions are NumPy references used by tests.
"""
import numpy as np
import tensorflow as tf


def train_offsets(num_frames, num_segments: int, snippet_length: int, seed):
    """Random start frame of each segment's snippet.

    Args:
      num_frames: int32 scalar N.
      num_segments: K.
      snippet_length: L.
      seed: int32/int64 tensor of shape (2,) for stateless random ops.
    Returns:
      int32 (K,) offsets in [0, max(N - L, 0)].
    """
    num_frames = tf.cast(num_frames, tf.int32)
    span = num_frames - snippet_length + 1
    avg = span // num_segments
    seed_avg, seed_short = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    jitter = tf.random.stateless_uniform(
            [num_segments], seed_avg, minval=0, maxval=tf.maximum(avg, 1), dtype=tf.int32)
    regular = tf.range(num_segments, dtype=tf.int32) * avg + jitter
    draws = tf.random.stateless_uniform(
            [num_segments], seed_short, minval=0, maxval=tf.maximum(span, 1), dtype=tf.int32)
    short = tf.sort(draws)
    zeros = tf.zeros([num_segments], tf.int32)
    return tf.where(avg > 0, regular, tf.where(num_frames > num_segments, short, zeros))


def eval_offsets(num_frames, num_segments: int, snippet_length: int):
    """Centre frame of each segment: int32 (K,) ``int(tick/2 + i*tick)`` clamped at 0."""
    span = tf.cast(tf.cast(num_frames, tf.int32) - snippet_length + 1, tf.float64)
    tick = span / num_segments
    positions = tick / 2.0 + tf.range(num_segments, dtype=tf.float64) * tick
    return tf.maximum(tf.cast(positions, tf.int32), 0)  # cast truncates like int()


def untrimmed_offsets(num_frames, frame_rate, snippets_per_second: float):
    """Start frames of snippets taken at a fixed rate across the whole video.

    Args:
      num_frames: int32 scalar N (> 0).
      frame_rate: float scalar, frames per second of the stored frames.
      snippets_per_second: snippets per second of video (M-TWI: 1).
    Returns:
      int32 (S,) offsets ``floor(j * frame_rate / snippets_per_second)`` for
      every j with ``j * step < N`` (S >= 1 when N >= 1).
    """
    step = tf.cast(frame_rate, tf.float64) / snippets_per_second
    count = tf.cast(tf.math.ceil(tf.cast(num_frames, tf.float64) / step), tf.int32)
    return tf.cast(tf.floor(tf.range(count, dtype=tf.float64) * step), tf.int32)


def interval_centres(num_frames, interval: int):
    """Centre frames of snippets every `interval` frames: int32 (T,)
    ``interval // 2 + t * interval`` for every t with centre < N (mmaction2's
    ``UntrimmedSampleFrames``; T = 0 when N <= interval // 2)."""
    first = interval // 2
    return tf.range(first, tf.maximum(tf.cast(num_frames, tf.int32), first), interval,
                    dtype=tf.int32)


def interval_count(num_frames: int, interval: int) -> int:
    """T of `interval_centres` in Python integers: the centres below `num_frames`."""
    return max(0, -(-(num_frames - interval // 2) // interval))


def check_interval(interval: int, items: int, modality: str):
    """ValueError unless snippets centred every `interval` frames hold the `items` frames
    one reads (a smaller interval would make the first start before frame 0)."""
    if int(interval) < items:
        raise ValueError(f"interval must be >= {items}, the frames a {modality} snippet "
                         f"reads. Received: {interval}")


def centred_offsets(centres, items: int):
    """Start frames of snippets of `items` frames around `centres`: ``c - items // 2``
    (>= 0 for centres of `interval_centres` with interval >= items)."""
    return tf.cast(centres, tf.int32) - items // 2


def snippet_indices(offsets, snippet_length: int, num_frames):
    """Frame indices of every snippet: int32 (S, L) ``min(p + l, N - 1)``."""
    steps = tf.range(snippet_length, dtype=tf.int32)
    indices = tf.cast(offsets, tf.int32)[:, None] + steps[None, :]
    return tf.minimum(indices, tf.cast(num_frames, tf.int32) - 1)


# --- NumPy references --------------------------------------------------------

def np_train_offsets(num_frames, num_segments, snippet_length, rng):
    """NumPy reference of `train_offsets` drawing with `rng` (np.random.Generator)."""
    span = num_frames - snippet_length + 1
    avg = span // num_segments
    if avg > 0:
        return np.arange(num_segments) * avg + rng.integers(avg, size=num_segments)
    if num_frames > num_segments:
        return np.sort(rng.integers(max(span, 1), size=num_segments))
    return np.zeros(num_segments, np.int64)


def np_train_offset_support(num_frames, num_segments, snippet_length):
    """Per segment, the set of offsets `np_train_offsets` can return: list of K ranges."""
    span = num_frames - snippet_length + 1
    avg = span // num_segments
    if avg > 0:
        return [range(i * avg, (i + 1) * avg) for i in range(num_segments)]
    if num_frames > num_segments:
        return [range(max(span, 1))] * num_segments
    return [range(1)] * num_segments


def np_eval_offsets(num_frames, num_segments, snippet_length):
    """NumPy reference of `eval_offsets` (tsn-pytorch `_get_test_indices`, 0-based)."""
    tick = (num_frames - snippet_length + 1) / float(num_segments)
    return np.array([max(int(tick / 2.0 + tick * i), 0) for i in range(num_segments)])


def np_untrimmed_offsets(num_frames, frame_rate, snippets_per_second):
    """NumPy reference of `untrimmed_offsets`."""
    step = frame_rate / snippets_per_second
    offsets = []
    j = 0
    while int(np.floor(j * step)) <= num_frames - 1:
        offsets.append(int(np.floor(j * step)))
        j += 1
    return np.array(offsets)


def np_snippet_indices(offsets, snippet_length, num_frames):
    """NumPy reference of `snippet_indices` (tsn-pytorch `get`: p advances while p < N-1)."""
    rows = []
    for p in offsets:
        row = []
        for _ in range(snippet_length):
            row.append(p)
            if p < num_frames - 1:
                p += 1
        rows.append(row)
    return np.array(rows).reshape(len(offsets), snippet_length)
