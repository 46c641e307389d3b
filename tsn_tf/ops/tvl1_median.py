"""5x5 median with replicate border (cv::medianBlur's result) as a min/max selection network.

The network is Batcher's odd-even merge sort for 25 inputs, pruned backwards to the
comparators (and the min or max halves of them) that reach the middle output. The
median of 25 floats is one of the inputs, so any correct network gives OpenCV's
value exactly; min/max on shifted slices fuse well under XLA.
"""
import functools

import tensorflow as tf

from tsn_tf.ops import tvl1_remap


def _batcher_pairs(n):
    """Comparators (i, j), i < j, of Batcher's odd-even merge sort for n inputs."""
    pairs = []
    p = 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(min(k, n - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return pairs


@functools.lru_cache(maxsize=None)
def selection_network(n, rank):
    """[(i, j, need_min, need_max)] that leaves the rank-th smallest on wire `rank`."""
    needed = {rank}
    kept = []
    for i, j in reversed(_batcher_pairs(n)):
        need_min, need_max = i in needed, j in needed
        if need_min or need_max:
            kept.append((i, j, need_min, need_max))
            needed.update((i, j))
    return tuple(reversed(kept))


def select_rank(values, rank):
    """The rank-th smallest (0-based) of a list of equal-shape tensors, elementwise."""
    wires = list(values)
    for i, j, need_min, need_max in selection_network(len(wires), rank):
        low, high = wires[i], wires[j]
        if need_min:
            wires[i] = tf.minimum(low, high)
        if need_max:
            wires[j] = tf.maximum(low, high)
    return wires[rank]


def median5x5(field):
    """(B, H, W) float32 -> 5x5 median of each pixel's neighbourhood, replicate border."""
    height, width = field.shape[1], field.shape[2]
    padded = tvl1_remap.edge_pad(field, 2)
    shifts = [padded[:, dy:dy + height, dx:dx + width] for dy in range(5) for dx in range(5)]
    return select_rank(shifts, 12)
