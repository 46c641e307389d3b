"""Audio track of a video: decode with PyAV, resample, log-mel spectrogram frames.

Why PyAV: its wheels bundle FFmpeg, so `pip install av` decodes every codec
and container OpenCV's FFmpeg reads (mp3 in avi, AAC in mp4, ...) with no
system package, and it resamples (libswresample) in the same pass.

Waveform: mono (the mean of the channels) float32 in [-1, 1] at
`SAMPLE_RATE` Hz, placed on the video's clock: sample 0 of the returned
track is at ``start_s`` seconds of video time (the audio stream's start
minus the video stream's start). Samples before video time 0 and after the
video's end are dropped; a late start is kept as ``start_s > 0``, never
padded with silence.

The log-mel features computed from it are defined in `contract.log_mel`.
"""
import dataclasses
from typing import Optional

import numpy as np

from tsn_tf.input.contract.log_mel import SAMPLE_RATE

class AudioDecodeError(ValueError):
    """An audio track that exists but cannot be decoded; names the file and why."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclasses.dataclass
class DecodedAudio:
    """Mono waveform on the video clock (see the module doc)."""
    samples: np.ndarray          # float32 (n,), in [-1, 1]
    sample_rate: int             # Hz of `samples`
    source_sample_rate: int      # Hz of the stream in the file
    start_s: float               # video time of samples[0], seconds (>= 0)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def _stream_start_s(stream) -> float:
    if stream is None or stream.start_time is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def read_audio(path, *, sample_rate: int = SAMPLE_RATE,
               max_duration_s: Optional[float] = None) -> Optional[DecodedAudio]:
    """Decodes the first audio stream of `path` to mono float32 at `sample_rate`.

    Args:
        path: local media file.
        sample_rate: output rate, Hz.
        max_duration_s: drop samples after this video time (the video's
            duration), seconds; None keeps all.
    Returns:
        `DecodedAudio`, or None when the file has no audio stream.
    Raises:
        AudioDecodeError: the file does not open with FFmpeg or its audio
            stream does not decode.
    """
    import av  # imported here: only ingestion with audio needs FFmpeg's Python bindings

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as error:
        raise AudioDecodeError(path, f"FFmpeg (PyAV) cannot open it: {error}") from None
    with container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        video = container.streams.video[0] if container.streams.video else None
        start_s = _stream_start_s(stream) - _stream_start_s(video)
        source_rate = int(stream.codec_context.sample_rate or 0)
        try:
            samples = _decode_mono(container, stream, sample_rate)
        except av.FFmpegError as error:
            raise AudioDecodeError(path, f"audio stream does not decode: {error}") from None
    return clip_to_video(DecodedAudio(samples, sample_rate, source_rate, start_s),
                         max_duration_s)


def _decode_mono(container, stream, sample_rate: int) -> np.ndarray:
    """All samples of `stream`, resampled to planar float and averaged over channels."""
    import av

    resampler = av.AudioResampler(format="fltp", rate=sample_rate)
    chunks = []
    for frame in container.decode(stream):
        chunks.extend(out.to_ndarray() for out in resampler.resample(frame))
    chunks.extend(out.to_ndarray() for out in resampler.resample(None))
    if not chunks:
        return np.zeros([0], np.float32)
    return np.concatenate(chunks, axis=1).mean(axis=0).astype(np.float32)


def clip_to_video(audio: DecodedAudio, max_duration_s: Optional[float]) -> DecodedAudio:
    """Drops samples before video time 0 and after `max_duration_s` (if given)."""
    samples, start_s = audio.samples, audio.start_s
    if start_s < 0:
        samples = samples[int(round(-start_s * audio.sample_rate)):]
        start_s = 0.0
    if max_duration_s is not None:
        keep = max(0, int(round((max_duration_s - start_s) * audio.sample_rate)))
        samples = samples[:keep]
    return dataclasses.replace(audio, samples=samples, start_s=start_s)
