"""Fixed-length rescaling of per-snippet features (T, D) -> (P, D) for temporal
action localization (BSN / BMN / G-TAD read P = 100 positions per video).

Two published recipes, both linear interpolation along time followed by a mean of
a few samples per position; NumPy only (the originals use scipy's interp1d).
"""
import numpy as np

EPS = 1e-4  # both recipes keep their samples this far inside the first/last snippet


def bsn_rescale(features, *, interval, frame_rate, num_positions=100,
                samples_per_position=3) -> np.ndarray:
    """BSN's rescaling: float64 (num_positions, D).

    Follows ``poolData`` of BSN's data/activitynet_feature_cuhk/data_process.py
    (wzmsltw/BSN-boundary-sensitive-network; BMN ships the same file), with its
    16-frame snippets and 400 dims generalised to `interval` and D. Snippet k sits at
    ``x_k = st/2 + k*st`` seconds, ``st = interval / frame_rate``; the video covers
    ``T*st`` seconds (BSN's corrected_second). Position i is the bin
    ``[i, i+1] / P * T*st`` clipped to ``[x_0 + 1e-4, x_{T-1} - 1e-4]``: the mean of
    `samples_per_position` evenly spaced, linearly interpolated points from its start
    to its end. A bin entirely before x_0 or after x_{T-1} is a row of ZEROS, as in
    BSN: the first and last 0.5/T of the video lie outside the snippet centres, so
    videos of T < 50 snippets get zero rows at both ends (for P = 100). T == 1
    repeats the single row. BSN runs with num_bin=1, where its per-bin mean (taken
    over all samples, ``y_new``) is this mean; other num_bin are not offered.
    Ties: where a bin edge falls exactly on x_0 or x_{T-1} (2T divides P), BSN's
    float rounding decides between a zero row and the edge snippet's feature, and
    rounding here may decide it the other way (the inputs differ: BSN derives the
    frame rate from video_info's numFrame / seconds).
    """
    features = _checked(features, num_positions, samples_per_position, minimum_samples=2)
    if len(features) == 1:
        return np.repeat(features, num_positions, axis=0)
    step = interval / frame_rate
    centres = step / 2 + step * np.arange(len(features))
    seconds = len(features) * interval / frame_rate
    edges = 1.0 / num_positions * np.arange(num_positions + 1) * seconds
    starts = np.maximum(centres[0] + EPS, edges[:-1])
    ends = np.minimum(centres[-1] - EPS, edges[1:])
    spacing = (ends - starts) / (samples_per_position - 1)
    points = starts[:, None] + spacing[:, None] * np.arange(samples_per_position)
    pooled = _interpolate(features, centres, points).mean(axis=1)
    outside = (ends < centres[0]) | (starts > centres[-1])
    pooled[outside] = 0.0
    return pooled


def mmaction2_rescale(features, num_positions=100, samples_per_position=3) -> np.ndarray:
    """mmaction2's rescaling: float64 (num_positions, D).

    Follows ``pool_feature`` (pool_type 'mean') of mmaction2's
    tools/data/activitynet/activitynet_feature_postprocessing.py: index-based, no
    seconds. The span ``[1e-4, T - 1 - 1e-4]`` of snippet indices is cut into P equal
    bins; position i is the mean of the features linearly interpolated at
    ``start_i + j/n * width`` for j < n (`samples_per_position`). No zero rows.
    T == 1 repeats the single row.
    """
    features = _checked(features, num_positions, samples_per_position, minimum_samples=1)
    if len(features) == 1:
        return np.repeat(features, num_positions, axis=0)
    indices = np.arange(len(features), dtype=np.float64)
    width = (len(features) - 1 - 2 * EPS) / num_positions
    starts = EPS + width * np.arange(num_positions)
    points = starts[:, None] + width * np.arange(samples_per_position) / samples_per_position
    return _interpolate(features, indices, points).mean(axis=1)


def _checked(features, num_positions, samples_per_position, minimum_samples):
    features = np.asarray(features, np.float64)
    if features.ndim != 2:
        raise ValueError(f"features must be (T, D); received shape {features.shape}")
    if not len(features):
        raise ValueError(f"features have no snippets (T = 0, shape {features.shape}); "
                         "nothing to rescale")
    if num_positions < 1 or samples_per_position < minimum_samples:
        raise ValueError(f"num_positions must be >= 1 and samples_per_position >= "
                         f"{minimum_samples}; received {num_positions}, {samples_per_position}")
    return features


def _interpolate(features, x, points):
    """Rows of `features` (at increasing `x`) linearly interpolated at `points` (any
    shape, within [x[0], x[-1]] except where the caller discards the result):
    float64 points.shape + (D,)."""
    left = np.clip(np.searchsorted(x, points, side="right") - 1, 0, len(x) - 2)
    weight = ((points - x[left]) / (x[left + 1] - x[left]))[..., None]
    return features[left] * (1.0 - weight) + features[left + 1] * weight
