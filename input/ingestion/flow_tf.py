"""TV-L1 flow of a video's frame pairs with the TF ops, a batch of pairs at a time.

``--flow=tvl1_tsn | tvl1_denseflow | tvl1_opencv`` (`ALGORITHMS`) run
`tsn_tf.ops.tvl1.tvl1_flow` in the variant whose flow TSN's models (OpenCV 2.4
CUDA), mmaction2's (OpenCV 4 CUDA) or our OpenCV CPU ``tvl1`` were made with, on
whatever device TensorFlow sees, TV-L1 compiled with XLA per (variant, batch,
frame size). The pairs are the video's stored RGB JPEGs, decoded, made grey and
quantized by `tsn_tf.ops.video_flow.quantized_flows`, the function a SavedModel
serving flow from RGB frames runs: a served model computes its training flow
from the same JPEGs. A short last batch is padded with copies of its last pair,
whose flow is dropped (each pair converges on its own).
"""
import functools
from typing import Iterator, List, Sequence

import numpy as np
import tensorflow as tf

from tsn_tf.ops import tvl1
from tsn_tf.ops import video_flow

ALGORITHMS = video_flow.ALGORITHMS
ACCELERATOR_BATCH = 8  # pairs a batch on a GPU / TPU; one on the CPU (`default_batch`)


def default_batch() -> int:
    """Pairs a batch: on the CPU a batch costs B times its slowest pair (converged pairs
    are masked, not skipped): measured 0.9x cv2's rate at B = 8 vs 1.7-2.1x at B = 1
    (benchmarks/tvl1_throughput.py). On a GPU / TPU 8, expecting the batch to run in
    parallel (not measured: no accelerator runs TensorFlow for this project)."""
    accelerated = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU")
    return ACCELERATOR_BATCH if accelerated else 1


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
def _compiled(algorithm: str, bound: float, height: int, width: int, jit_compile: bool):
    return tf.function(functools.partial(
            video_flow.quantized_flows, variant=variant(algorithm), bound=bound, height=height,
            width=width, jit_compile=jit_compile))


def pair_flows(prev_jpegs: Sequence[bytes], next_jpegs: Sequence[bytes], algorithm: str, *,
               bound: float, height: int, width: int, jit_compile: bool = True) -> np.ndarray:
    """uint8 (P, H, W, 2) quantized flow of P pairs of RGB JPEGs, computed as one batch."""
    run = _compiled(algorithm, float(bound), height, width, jit_compile)
    return run(tf.constant(list(prev_jpegs)), tf.constant(list(next_jpegs))).numpy()


def grey_pair_flow(prev_gray: np.ndarray, next_gray: np.ndarray, algorithm: str
                   ) -> np.ndarray:
    """(H, W, 2) float32 flow of one uint8 grey pair (`flow.FlowEstimator`'s TF path,
    used for warped flow)."""
    run = _compiled_grey(variant(algorithm))
    return run(tf.constant(np.float32(prev_gray)[None]),
               tf.constant(np.float32(next_gray)[None])).numpy()[0]


@functools.lru_cache(maxsize=None)
def _compiled_grey(name: str):
    return tf.function(functools.partial(tvl1.tvl1_flow, variant=name), jit_compile=True)


class PairBatcher:
    """Quantized flows of consecutive RGB JPEGs (of `height` x `width` frames) fed one at
    a time, `batch_size` pairs at once: `add(jpeg)` returns the flows that became ready,
    `finish()` the rest."""

    def __init__(self, algorithm: str, *, bound: float, height: int, width: int,
                 batch_size: int = None, jit_compile: bool = True):
        variant(algorithm)
        self.batch_size = batch_size or default_batch()
        self._flows = functools.partial(pair_flows, algorithm=algorithm, bound=bound,
                                        height=height, width=width, jit_compile=jit_compile)
        self._jpegs: List[bytes] = []  # the last frame of the previous batch first

    def add(self, jpeg: bytes) -> List[np.ndarray]:
        self._jpegs.append(jpeg)
        return self._run() if len(self._jpegs) == self.batch_size + 1 else []

    def finish(self) -> List[np.ndarray]:
        return self._run() if len(self._jpegs) > 1 else []

    def _run(self) -> List[np.ndarray]:
        jpegs, count = self._jpegs, len(self._jpegs) - 1
        missing = self.batch_size - count  # a short last batch: copies of its last pair
        flows = self._flows(jpegs[:-1] + [jpegs[-2]] * missing,
                            jpegs[1:] + [jpegs[-1]] * missing)
        self._jpegs = [jpegs[-1]]
        return list(flows[:count])


def video_flows(jpegs: Sequence[bytes], algorithm: str, *, bound: float, height: int,
                width: int, batch_size: int = None) -> Iterator[np.ndarray]:
    """Quantized flows of the pairs (0, 1), (1, 2), ... of a video's RGB `jpegs`, in order."""
    batcher = PairBatcher(algorithm, bound=bound, height=height, width=width,
                          batch_size=batch_size)
    for jpeg in jpegs:
        yield from batcher.add(jpeg)
    yield from batcher.finish()
