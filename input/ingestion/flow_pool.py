"""Flow JPEGs of a video's consecutive frame pairs, serially or over several processes.

A TV-L1 or Farneback pair's flow depends only on its two frames, so the pairs
of one video can be cut into contiguous frame ranges, computed in parallel and
joined in order: the JPEG bytes are those of the serial loop. DIS is not: a
new estimator's first call can differ from later ones (seen at 42x32 with
OpenCV 4.11), so DIS runs on one estimator and is never split (tsn-predict
gives it to no worker, `export/sampled_flow.py`). This module imports no TensorFlow; a spawned
worker still imports the parent's main module (a CLI: TensorFlow, seconds),
so parallel flow pays off for TV-L1 (seconds a pair), not for DIS.
"""
import concurrent.futures
import dataclasses
import multiprocessing
import os
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from tsn_tf.input.ingestion import flow as flow_lib
from tsn_tf.input.ingestion import warp as warp_lib

# One pair's JPEGs: ((flow x, flow y) or None, (warped x, warped y) or None)
PairJpegs = Tuple[Optional[Tuple[bytes, bytes]], Optional[Tuple[bytes, bytes]]]


def jpeg(image: np.ndarray, quality: int) -> bytes:
    """OpenCV JPEG bytes of a uint8 image at `quality` (0-100)."""
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError(f"OpenCV failed to JPEG-encode a {image.shape} image")
    return buffer.tobytes()


@dataclasses.dataclass(frozen=True)
class FlowSettings:
    """Which flow streams to compute and how to store them (picklable)."""
    algorithm: str
    bound: float
    jpeg_quality: int
    plain: bool = True     # the "flow" stream
    warped: bool = False   # the "warped_flow" stream


def quantized_jpegs(flow: np.ndarray, settings: FlowSettings) -> Tuple[bytes, bytes]:
    """The x and y JPEGs of one (H, W, 2) flow, quantized with `settings.bound`."""
    flow_x, flow_y = flow_lib.quantize_flow(flow, settings.bound)
    return jpeg(flow_x, settings.jpeg_quality), jpeg(flow_y, settings.jpeg_quality)


class PairEncoder:
    """Quantized flow JPEGs of one gray frame pair (one estimator object per stream)."""

    def __init__(self, settings: FlowSettings):
        self.settings = settings
        self.flow = flow_lib.FlowEstimator(settings.algorithm) if settings.plain else None
        self.warped = warp_lib.WarpedFlowEstimator(settings.algorithm) \
            if settings.warped else None

    def __call__(self, prev_gray: np.ndarray, gray: np.ndarray) -> PairJpegs:
        return tuple(None if estimator is None
                     else quantized_jpegs(estimator(prev_gray, gray), self.settings)
                     for estimator in (self.flow, self.warped))


def encode_range(gray_frames: Sequence[np.ndarray], settings: FlowSettings) -> List[PairJpegs]:
    """JPEGs of the pairs (0, 1), (1, 2), ... of `gray_frames` (a worker's task)."""
    encoder = PairEncoder(settings)
    return [encoder(a, b) for a, b in zip(gray_frames[:-1], gray_frames[1:])]


def _init_worker():
    cv2.setNumThreads(1)


def frame_ranges(num_pairs: int, num_ranges: int) -> List[Tuple[int, int]]:
    """Contiguous [start, stop) pair ranges covering 0..num_pairs, as equal as can be."""
    num_ranges = max(1, min(num_ranges, num_pairs))
    bounds = np.linspace(0, num_pairs, num_ranges + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def encode_pairs_parallel(gray_frames: Sequence[np.ndarray], settings: FlowSettings,
                          workers: Optional[int] = None, progress=None,
                          ranges_per_worker: int = 4) -> List[PairJpegs]:
    """`encode_range` of all pairs, cut into frame ranges run on `workers` spawn processes.

    `progress.update(n)` (e.g. a tqdm bar) is told as each range finishes;
    the result equals `encode_range(gray_frames, settings)`.
    """
    workers = workers or os.cpu_count() or 1
    ranges = frame_ranges(len(gray_frames) - 1, workers * ranges_per_worker)
    results = [None] * len(ranges)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(min(workers, len(ranges)), mp_context=context,
                                                initializer=_init_worker) as pool:
        futures = {pool.submit(encode_range, list(gray_frames[a:b + 1]), settings): index
                   for index, (a, b) in enumerate(ranges)}
        for future in concurrent.futures.as_completed(futures):
            index = futures[future]
            results[index] = future.result()
            if progress is not None:
                progress.update(ranges[index][1] - ranges[index][0])
    return [pair for part in results for pair in part]
