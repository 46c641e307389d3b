"""A PNG timeline of class scores over a video, drawn with OpenCV."""
from typing import Sequence

import cv2
import numpy as np

COLORS_BGR = ((180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148))
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 60, 20, 20, 70


def draw_timeline(path: str, timestamps, probabilities, labels: Sequence[str],
                  classes: Sequence[int], *, width: int = 960, height: int = 360) -> np.ndarray:
    """Draws per-snippet probabilities of `classes` over time and writes a PNG.

    Args:
      path: output .png file.
      timestamps: float (S,) seconds of each snippet.
      probabilities: float (S, C) per-snippet class probabilities.
      labels: C class names.
      classes: indices of the classes to draw (at most 5 colours).
    Returns:
      uint8 (height, width, 3) BGR image that was written.
    """
    timestamps = np.asarray(timestamps, np.float64)
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim != 2 or len(timestamps) != len(probabilities) or not len(timestamps):
        raise ValueError(f"Expected timestamps (S,) and probabilities (S, C) with S >= 1. "
                         f"Received: {timestamps.shape}, {probabilities.shape}")
    image = np.full((height, width, 3), 255, np.uint8)
    left, right = MARGIN_LEFT, width - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, height - MARGIN_BOTTOM
    end_s = max(float(timestamps[-1]), 1e-6)

    def point(t, p):
        return (int(round(left + (right - left) * t / end_s)),
                int(round(bottom - (bottom - top) * min(max(p, 0.0), 1.0))))

    _draw_axes(image, left, right, top, bottom, end_s)
    for rank, index in enumerate(classes[:len(COLORS_BGR)]):
        color = COLORS_BGR[rank]
        points = np.array([point(t, p) for t, p in zip(timestamps, probabilities[:, index])],
                          np.int32)
        cv2.polylines(image, [points.reshape(-1, 1, 2)], False, color, 2, cv2.LINE_AA)
        for x, y in points:
            cv2.circle(image, (int(x), int(y)), 3, color, -1, cv2.LINE_AA)
        cv2.putText(image, labels[index][:40], (left + 10 + 180 * rank, height - 15),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    if not cv2.imwrite(str(path), image):
        raise OSError(f"OpenCV could not write the timeline image {path!r} (is it a .png "
                      "path in an existing folder?)")
    return image


def _draw_axes(image, left, right, top, bottom, end_s):
    gray, black = (200, 200, 200), (0, 0, 0)
    for tick in range(6):
        y = int(round(bottom - (bottom - top) * tick / 5))
        cv2.line(image, (left, y), (right, y), gray, 1)
        cv2.putText(image, f"{tick / 5:.1f}", (10, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, black, 1)
    for tick in range(6):
        x = int(round(left + (right - left) * tick / 5))
        cv2.line(image, (x, bottom), (x, bottom + 5), black, 1)
        cv2.putText(image, f"{end_s * tick / 5:.1f}s", (x - 15, bottom + 20),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, black, 1)
    cv2.rectangle(image, (left, top), (right, bottom), black, 1)
