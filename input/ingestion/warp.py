"""Warped optical flow: flow after cancelling camera motion (TSN, after iDT).

Camera motion between two frames is modelled as a homography. Matches come
from tracking Shi-Tomasi corners of the first frame into the second with
pyramidal Lucas-Kanade (iDT also matched by flow; this is patent-free and works
on small frames where ORB/SURF find few keypoints), and
`cv2.findHomography(..., RANSAC)` keeps the dominant, background motion. The
second frame is warped back into the first frame's coordinates and flow is
recomputed, so a pure pan gives near-zero warped flow while objects moving
against the background keep theirs. Too few matches or a failed fit fall back
to the identity (warped flow = plain flow).
"""
import cv2
import numpy as np

from tsn_tf.input.ingestion import flow as flow_lib

MIN_MATCHES = 12
_CORNER_ARGS = dict(maxCorners=400, qualityLevel=0.01, minDistance=5, blockSize=5)
_LK_ARGS = dict(winSize=(15, 15), maxLevel=3,
                criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
_RANSAC_THRESHOLD_PX = 1.0


def estimate_camera_motion(prev_gray: np.ndarray, next_gray: np.ndarray) -> np.ndarray:
    """3x3 homography H with next(H p) ~ prev(p) for background points p.

    Returns the identity when fewer than `MIN_MATCHES` corners track or RANSAC
    fails.
    """
    identity = np.eye(3, dtype=np.float64)
    corners = cv2.goodFeaturesToTrack(prev_gray, **_CORNER_ARGS)
    if corners is None or len(corners) < MIN_MATCHES:
        return identity
    tracked, status, _ = cv2.calcOpticalFlowPyrLK(prev_gray, next_gray, corners, None,
                                                  **_LK_ARGS)
    found = status.ravel() == 1
    if found.sum() < MIN_MATCHES:
        return identity
    homography, inliers = cv2.findHomography(corners[found], tracked[found], cv2.RANSAC,
                                             _RANSAC_THRESHOLD_PX)
    if homography is None or inliers is None or inliers.sum() < MIN_MATCHES:
        return identity
    return homography


def warp_to_previous(next_gray: np.ndarray, homography: np.ndarray) -> np.ndarray:
    """`next_gray` resampled at H p for every pixel p of the previous frame."""
    height, width = next_gray.shape[:2]
    return cv2.warpPerspective(next_gray, homography, (width, height),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)


class WarpedFlowEstimator:
    """Warped flow of consecutive grayscale frames with a reused flow engine."""

    def __init__(self, algorithm: str = "tvl1"):
        self.algorithm = algorithm
        self._flow = flow_lib.FlowEstimator(algorithm)

    def __call__(self, prev_gray: np.ndarray, next_gray: np.ndarray) -> np.ndarray:
        """(H, W, 2) float32 flow of `prev_gray` to the camera-stabilized next frame."""
        homography = estimate_camera_motion(prev_gray, next_gray)
        return self._flow(prev_gray, warp_to_previous(next_gray, homography))


def compute_warped_flow(prev_gray: np.ndarray, next_gray: np.ndarray,
                        algorithm: str = "tvl1") -> np.ndarray:
    """Warped flow of one frame pair; for a whole video reuse a `WarpedFlowEstimator`."""
    return WarpedFlowEstimator(algorithm)(prev_gray, next_gray)
