"""Video decoding with OpenCV: frames, presentation timestamps, frame rate, resizing.

Timestamps are the decoder's presentation timestamps (FFmpeg's best-effort
PTS, which OpenCV reports as ``CAP_PROP_POS_MSEC`` after each frame), in
microseconds from the first decoded frame (which is at 0, as the audio track's
start: an AVI with B-frames gives its first frame a PTS of one frame period, a
decoding delay, not a gap before the video). A frame without one (FFmpeg gives none
to the last frame of an AVI) or one not after its predecessor gets the
previous timestamp plus one container frame period. The frame rate is derived
from them: ``(N - 1) / (t[N-1] - t[0])`` frames per second over the decoded
frames (the container's rate for a single frame), so a variable-frame-rate
file gets its mean rate and exact times, not ``i / rate``.

Sizing (the same rule for `read_video` and ingestion):
  * ``size=(W, H)``: every frame is resized to exactly W x H (TSN stores 340x256
    whatever the source aspect ratio; that is `IngestOptions`' default);
  * ``short_side=S``: the short side becomes S, the long side keeps the aspect
    ratio, rounded to an even number of pixels;
  * neither: frames keep the source size. Passing both is an error.

What OpenCV 4.11 (FFmpeg 5) does on broken files, and what we do:
  * missing, empty, garbage bytes, or an mp4 cut short (its index, the moov
    atom, sits at the end of the file, so the container does not open):
    `VideoDecodeError`;
  * a truncated avi opens and decodes the frames before the cut (77 of 164 for
    test.avi cut in half) and then stops as if the video ended: we return those
    frames and set ``truncated=True`` when fewer frames decode than the
    container header promises (beyond a small tolerance, since headers of some
    containers only estimate the count). `VideoReader.check_truncated` then
    raises unless told otherwise: tsn-ingest and tsn-predict share that rule.
"""
import dataclasses
import math
import os
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np


class VideoDecodeError(ValueError):
    """A video that cannot be decoded; the message names the file and why."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclasses.dataclass
class DecodedVideo:
    """Decoded, resized frames of one video."""
    frames: np.ndarray          # uint8 (N, H, W, 3), RGB
    frame_rate: float           # frames per second derived from the timestamps
    timestamps_us: List[int]    # presentation timestamp of each frame (see module doc)
    source_size: Tuple[int, int]  # (width, height) before resizing
    header_frame_count: int     # frame count the container claims (0 if unknown)
    truncated: bool             # fewer frames decoded than the header claims

    @property
    def num_frames(self) -> int:
        return len(self.frames)


def output_size(source_size: Tuple[int, int], size: Optional[Tuple[int, int]] = None,
                short_side: Optional[int] = None) -> Tuple[int, int]:
    """(width, height) of stored frames for a source (width, height); see module doc."""
    if size is not None and short_side is not None:
        raise ValueError(f"pass either size or short_side, not both; received "
                         f"size={size}, short_side={short_side}")
    if size is not None:
        width, height = (int(v) for v in size)
        if width <= 0 or height <= 0:
            raise ValueError(f"size must be positive (width, height); received {size}")
        return width, height
    if short_side is None:
        return tuple(source_size)
    if short_side <= 0:
        raise ValueError(f"short_side must be positive; received {short_side}")
    width, height = source_size
    scale = short_side / min(width, height)
    if width <= height:
        return int(short_side), 2 * max(1, round(height * scale / 2))
    return 2 * max(1, round(width * scale / 2)), int(short_side)


def parse_frame_size(text: str) -> Tuple[int, int]:
    """``--frame_size`` text 'WIDTHxHEIGHT' (either case of x) -> (width, height) > 0;
    a ValueError naming the flag otherwise."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--frame_size must be WIDTHxHEIGHT like 340x256, got {text!r}") from None
    if width <= 0 or height <= 0:
        raise ValueError(f"--frame_size must be positive, got {text!r}")
    return width, height


def presentation_times_us(positions_ms: Sequence[float], container_rate: float
                          ) -> List[float]:
    """Microsecond times from the decoder's per-frame positions (ms), made increasing.

    A position not after the previous frame's (no PTS, or a broken one) becomes
    the previous time plus one container frame period.
    """
    period_us = 1_000_000 / container_rate
    times = []
    for position in positions_ms:
        value = position * 1000.0
        if times and value <= times[-1]:
            value = times[-1] + period_us
        times.append(value)
    return times


def rate_from_times(times_us: Sequence[float], container_rate: float) -> float:
    """Frames per second over the span of `times_us`: (N - 1) / (t[N-1] - t[0])."""
    if len(times_us) < 2 or times_us[-1] <= times_us[0]:
        return float(container_rate)
    return (len(times_us) - 1) * 1_000_000 / (times_us[-1] - times_us[0])


def is_truncated(decoded: int, header_count: int) -> bool:
    """Whether `decoded` frames fall short of the header's count by > 2% + 1 frame."""
    return header_count > 0 and decoded < header_count - (0.02 * header_count + 1)


class VideoReader:
    """Iterates the resized BGR frames of one video (OpenCV's native order).

    Opening checks the file; iterating yields frames; afterwards `num_decoded`,
    `truncated`, `timestamps_us()` and `frame_rate` describe what came out.
    Use as a context manager.
    """

    def __init__(self, path, *, size=None, short_side=None, max_frames=None):
        self.path = str(path)
        if max_frames is not None and max_frames <= 0:
            raise ValueError(f"max_frames must be positive or None; received {max_frames}")
        self.max_frames = max_frames
        check_file(self.path)
        self._capture = cv2.VideoCapture(self.path)
        if not self._capture.isOpened():
            self._capture.release()
            raise VideoDecodeError(self.path, "OpenCV/FFmpeg cannot open it: not a video, an "
                                   "unsupported container or codec, or an mp4 cut short "
                                   "(its index, the moov atom, is missing)")
        self.container_frame_rate = float(self._capture.get(cv2.CAP_PROP_FPS))
        if not math.isfinite(self.container_frame_rate) or self.container_frame_rate <= 0:
            self.close()
            raise VideoDecodeError(self.path, f"container states no valid frame rate "
                                   f"({self.container_frame_rate})")
        self.source_size = (int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                            int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        if min(self.source_size) <= 0:
            self.close()
            raise VideoDecodeError(self.path, f"container states no frame size "
                                   f"({self.source_size})")
        self.header_frame_count = max(0, int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        self.size = output_size(self.source_size, size, short_side)
        self.num_decoded = 0
        self._positions_ms = []
        self._stopped_early = False

    def __iter__(self) -> Iterator[np.ndarray]:
        while self.max_frames is None or self.num_decoded < self.max_frames:
            ok, frame = self._capture.read()
            if not ok:
                break
            self.num_decoded += 1
            self._positions_ms.append(self._capture.get(cv2.CAP_PROP_POS_MSEC))
            yield resize_frame(frame, self.size)
        else:
            self._stopped_early = True
        self.close()
        if self.num_decoded == 0:
            raise VideoDecodeError(self.path, "opened but decoded 0 frames")

    @property
    def truncated(self) -> bool:
        return not self._stopped_early and is_truncated(self.num_decoded,
                                                        self.header_frame_count)

    def check_truncated(self, allow_truncated: bool = False):
        """Raises `VideoDecodeError` for a truncated video unless `allow_truncated`.

        The one rule of tsn-ingest and tsn-predict; call after iterating.
        """
        if self.truncated and not allow_truncated:
            raise VideoDecodeError(
                    self.path, f"truncated or corrupt: decoded {self.num_decoded} of the "
                    f"{self.header_frame_count} frames its header lists (allow_truncated / "
                    "--allow_truncated keeps the decoded ones)")

    def timestamps_us(self) -> List[int]:
        """Presentation timestamp of each decoded frame, microseconds (module doc)."""
        times = presentation_times_us(self._positions_ms, self.container_frame_rate)
        return [int(round(t - times[0])) for t in times] if times else []

    @property
    def frame_rate(self) -> float:
        """Frames per second derived from the decoded frames' timestamps (module doc)."""
        return rate_from_times(presentation_times_us(self._positions_ms,
                                                     self.container_frame_rate),
                               self.container_frame_rate)

    def close(self):
        self._capture.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def resize_frame(frame: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """`frame` at `size` (width, height): INTER_AREA to shrink, else INTER_LINEAR; the
    frame itself when it has that size."""
    source = (frame.shape[1], frame.shape[0])
    if source == tuple(size):
        return frame
    shrink = size[0] * size[1] < source[0] * source[1]
    return cv2.resize(frame, tuple(size), interpolation=cv2.INTER_AREA if shrink
                      else cv2.INTER_LINEAR)


def check_file(path: str):
    """Raises VideoDecodeError unless `path` is a readable regular file."""
    if not os.path.exists(path):
        raise VideoDecodeError(path, "file does not exist")
    if not os.path.isfile(path):
        raise VideoDecodeError(path, "not a regular file")
    if not os.access(path, os.R_OK):
        raise VideoDecodeError(path, "file is not readable (permissions)")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(path, "file is empty (0 bytes)")


def read_video(path, *, size: Optional[Tuple[int, int]] = None,
               short_side: Optional[int] = None,
               max_frames: Optional[int] = None) -> DecodedVideo:
    """Decodes a video file into RGB frames (all in memory; `max_frames` caps it).

    Args:
        path: local video file.
        size: (width, height) to resize every frame to, e.g. (340, 256).
        short_side: resize so the short side is this, keeping the aspect ratio.
        max_frames: stop after this many frames.
    Raises:
        VideoDecodeError: missing, empty, unreadable, not a video, 0 frames.
    """
    with VideoReader(path, size=size, short_side=short_side, max_frames=max_frames) as reader:
        frames = [cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) for frame in reader]
    return DecodedVideo(frames=np.stack(frames), frame_rate=reader.frame_rate,
                        timestamps_us=reader.timestamps_us(), source_size=reader.source_size,
                        header_frame_count=reader.header_frame_count,
                        truncated=reader.truncated)
