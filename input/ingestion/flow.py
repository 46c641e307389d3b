"""Dense optical flow between consecutive grayscale frames, and its 8-bit form.

Algorithms (OpenCV 4.11 contrib, default parameters unless stated):
  * ``tvl1``: `cv2.optflow.DualTVL1OpticalFlow`, OpenCV's CPU variant of TV-L1
    (10 outer x 30 inner iterations, a 5x5 median each outer one, Keys-cubic
    `remap`). The paper's models were trained on another variant: TSN's
    dense_flow runs OpenCV 2.4's CUDA `OpticalFlowDual_TVL1_GPU` (Gaussian
    halving pyramid, 300 iterations a warp, no median), and mmaction2's
    denseflow OpenCV 4's `cuda::OpticalFlowDual_TVL1` (0.8 pyramid, its own
    bicubic). Same energy and parameters, different flow fields. About 1.8 s
    per 340x256 frame on one core.
  * ``dis``: `cv2.DISOpticalFlow` with preset MEDIUM (about 13 ms per 340x256
    frame on one core; FAST is 2.3 ms but visibly blockier).
  * ``farneback``: `cv2.calcOpticalFlowFarneback` with pyramid scale 0.5,
    3 levels, window 15, 3 iterations, poly_n 5, poly_sigma 1.2 (about 20 ms).
  * ``tvl1_tsn``, ``tvl1_denseflow``, ``tvl1_opencv``: TV-L1 as TensorFlow ops
    (`flow_tf`, `tsn_tf.ops.tvl1`) in the variant of TSN's models (OpenCV 2.4
    CUDA), of mmaction2's (OpenCV 4 CUDA) or of ``tvl1`` above, on whatever
    device TF sees; `FlowEstimator` runs one pair at a time, `flow_tf` batches.

Quantization follows dense_flow's ``convertFlowToImage`` (yjxiong/dense_flow):
``v > H ? 255 : v < L ? 0 : cvRound(255 * (v - L) / (H - L))`` with
``L = -bound, H = bound``; cvRound rounds half to even, like `np.rint`. Zero
flow maps to 128 (127.5 rounded to even), one step is ``2 * bound / 255`` px.
"""
from typing import Optional, Tuple

import cv2
import numpy as np

from tsn_tf.input.contract.preprocessing import DEFAULT_FLOW_BOUND

OPENCV_ALGORITHMS = ("tvl1", "dis", "farneback")
TF_ALGORITHMS = ("tvl1_tsn", "tvl1_denseflow", "tvl1_opencv")  # `flow_tf.ALGORITHMS`
FLOW_ALGORITHMS = OPENCV_ALGORITHMS + TF_ALGORITHMS

_FARNEBACK_ARGS = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5,
                       poly_sigma=1.2, flags=0)


class FlowEstimator:
    """Computes flow with one algorithm object reused across calls.

    Creating TV-L1 per frame is wasteful; make one estimator per video (or per
    worker) and call it on each consecutive pair of uint8 grayscale frames.
    """

    def __init__(self, algorithm: str = "tvl1"):
        if algorithm not in FLOW_ALGORITHMS:
            raise ValueError(f"unknown flow algorithm {algorithm!r}; expected one of "
                             f"{FLOW_ALGORITHMS}")
        self.algorithm = algorithm
        if algorithm in TF_ALGORITHMS:
            self._engine = None
        elif algorithm == "tvl1":
            self._engine = cv2.optflow.DualTVL1OpticalFlow_create()
        elif algorithm == "dis":
            self._engine = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        else:
            self._engine = None

    def __call__(self, prev_gray: np.ndarray, next_gray: np.ndarray) -> np.ndarray:
        """(H, W, 2) float32 flow in px: prev(p) matches next(p + flow(p))."""
        if self.algorithm in TF_ALGORITHMS:
            from tsn_tf.input.ingestion import flow_tf  # TensorFlow: only when asked for

            return flow_tf.grey_pair_flow(prev_gray, next_gray, self.algorithm)
        if self._engine is None:
            return cv2.calcOpticalFlowFarneback(prev_gray, next_gray, None, **_FARNEBACK_ARGS)
        return self._engine.calc(prev_gray, next_gray, None)

    def parameters(self) -> dict:
        """The algorithm's settings as plain values (recorded with the shards and models)."""
        if self.algorithm in TF_ALGORITHMS:
            from tsn_tf.input.ingestion import flow_tf

            return flow_tf.parameters(self.algorithm)
        if self._engine is None:
            return {"algorithm": self.algorithm, **_FARNEBACK_ARGS}
        getters = sorted(name for name in dir(self._engine)
                         if name.startswith("get") and name != "getDefaultName")
        values = {name[3:]: getattr(self._engine, name)() for name in getters}
        return {"algorithm": self.algorithm,
                **{key: value if isinstance(value, (bool, int)) else round(float(value), 9)
                   for key, value in values.items()}}


def parameters_since(algorithm: str, recorded: Optional[dict]) -> Optional[dict]:
    """This OpenCV's settings of `algorithm` if they differ from `recorded` (a
    `FlowEstimator.parameters()` stored at ingestion), else None; None when
    nothing was recorded."""
    if recorded is None:
        return None
    current = FlowEstimator(algorithm).parameters()
    return current if current != recorded else None


def compute_flow(prev_gray: np.ndarray, next_gray: np.ndarray,
                 algorithm: str = "tvl1") -> np.ndarray:
    """Flow of one frame pair; for a whole video reuse a `FlowEstimator`."""
    return FlowEstimator(algorithm)(prev_gray, next_gray)


def quantize_flow(flow: np.ndarray, bound: float = DEFAULT_FLOW_BOUND
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """(H, W, 2) float32 flow -> x and y uint8 (H, W) images, dense_flow's mapping.

    One `cv2.addWeighted` pass: saturate_cast<uchar>(v * 255 / 2b + 127.5) is
    dense_flow's clip-then-cvRound, 2.5x faster than the NumPy equivalent.
    """
    if bound <= 0:
        raise ValueError(f"flow bound must be positive; received {bound}")
    flow = np.asarray(flow, np.float32)
    quantized = cv2.addWeighted(flow, 255.0 / (2.0 * bound), flow, 0.0, 127.5,
                                dtype=cv2.CV_8U)
    flow_x, flow_y = cv2.split(quantized)
    return flow_x, flow_y


def dequantize_flow(flow_x: np.ndarray, flow_y: np.ndarray,
                    bound: float = DEFAULT_FLOW_BOUND) -> np.ndarray:
    """Inverse of `quantize_flow` inside [-bound, bound]: (H, W, 2) float32 px."""
    step = np.float32(2.0 * bound / 255.0)
    stacked = np.stack([flow_x, flow_y], axis=-1).astype(np.float32)
    return stacked * step - np.float32(bound)
