"""TV-L1 flow of a video's grey frame pairs with the TF ops, a batch of pairs at a time.

``--flow=tvl1_tsn | tvl1_denseflow | tvl1_opencv`` (`ALGORITHMS`) run
`tsn_tf.ops.tvl1.tvl1_flow` in the variant whose flow TSN's models (OpenCV 2.4
CUDA), mmaction2's (OpenCV 4 CUDA) or our OpenCV CPU ``tvl1`` were made with, on
whatever device TensorFlow sees. One compiled function per (variant, batch,
frame size); a short last batch is padded with copies of its last pair, whose
flow is dropped (each pair converges on its own, so padding changes nothing).
"""
import functools
from typing import Iterator, List, Sequence

import numpy as np
import tensorflow as tf

from tsn_tf.ops import tvl1

ALGORITHMS = {"tvl1_tsn": "tsn", "tvl1_denseflow": "denseflow", "tvl1_opencv": "opencv"}
DEFAULT_BATCH = 8


def variant(algorithm: str) -> str:
    """The `tvl1.tvl1_flow` variant of a flow algorithm name."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"{algorithm!r} is not a TF flow algorithm; expected one of "
                         f"{tuple(ALGORITHMS)}")
    return ALGORITHMS[algorithm]


def parameters(algorithm: str) -> dict:
    """The algorithm's settings as recorded with the shards and models."""
    return {"algorithm": algorithm, "engine": "tensorflow", "variant": variant(algorithm),
            **tvl1.variant_parameters(variant(algorithm))}


@functools.lru_cache(maxsize=None)
def _compiled(name: str, jit_compile: bool):
    return tf.function(lambda prev, next_: tvl1.tvl1_flow(prev, next_, name),
                       jit_compile=jit_compile)


def pair_flows(prev_grays: Sequence[np.ndarray], next_grays: Sequence[np.ndarray],
               algorithm: str, jit_compile: bool = True) -> np.ndarray:
    """(P, H, W, 2) float32 flow of P uint8 grey pairs, computed as one batch."""
    run = _compiled(variant(algorithm), jit_compile)
    prev = tf.constant(np.stack(prev_grays), tf.float32)
    next_ = tf.constant(np.stack(next_grays), tf.float32)
    return run(prev, next_).numpy()


class PairBatcher:
    """Flows of consecutive grey frames fed one at a time, computed `batch_size` pairs
    at once: `add(gray)` returns the flows that became ready, `finish()` the rest."""

    def __init__(self, algorithm: str, batch_size: int = DEFAULT_BATCH,
                 jit_compile: bool = True):
        variant(algorithm)
        self.algorithm, self.batch_size, self.jit_compile = algorithm, batch_size, jit_compile
        self._frames: List[np.ndarray] = []  # the last frame of the previous batch first

    def add(self, gray: np.ndarray) -> List[np.ndarray]:
        self._frames.append(gray)
        return self._run() if len(self._frames) == self.batch_size + 1 else []

    def finish(self) -> List[np.ndarray]:
        return self._run() if len(self._frames) > 1 else []

    def _run(self) -> List[np.ndarray]:
        frames, count = self._frames, len(self._frames) - 1
        missing = self.batch_size - count  # a short last batch: copies of its last pair
        flows = pair_flows(frames[:-1] + [frames[-2]] * missing,
                           frames[1:] + [frames[-1]] * missing, self.algorithm,
                           self.jit_compile)
        self._frames = [frames[-1]]
        return list(flows[:count])


def video_flows(grays: Sequence[np.ndarray], algorithm: str,
                batch_size: int = DEFAULT_BATCH) -> Iterator[np.ndarray]:
    """Flows of the pairs (0, 1), (1, 2), ... of `grays`, in order."""
    batcher = PairBatcher(algorithm, batch_size)
    for gray in grays:
        yield from batcher.add(gray)
    yield from batcher.finish()
