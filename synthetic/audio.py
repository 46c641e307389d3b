"""Sound for the synthetic set: tones, and muxing a track into an OpenCV video.

OpenCV's VideoWriter cannot write audio, so a video is written with OpenCV
and its packets are copied unchanged (same JPEG frames) by PyAV into a new
container together with a 16-bit PCM track (`add_audio_track`).

Audio classes (`AUDIO_CLASSES`) come as a pair whose videos are identical
(the same drifting blob for the same video index) and whose tones differ:
only the sound separates them. Every other class gets an uninformative tone
of random pitch between the two bands, so sound alone does not separate the
video classes either:

| class        | tone, Hz             |
|--------------|----------------------|
| tone_low     | 300-360              |
| tone_high    | 2000-2400            |
| other        | 600-1200             |

For one video index every class draws the same position in its band,
amplitude and noise level.

Each track: a sine of amplitude 0.2-0.5 plus white noise of std 0.01-0.03,
both with 10 ms fade in/out, at `SAMPLE_RATE`.
"""
import os
from typing import Sequence

import numpy as np

AUDIO_CLASSES = ("tone_low", "tone_high")
SAMPLE_RATE = 16000  # Hz
TONE_BANDS = {"tone_low": (300.0, 360.0), "tone_high": (2000.0, 2400.0)}
OTHER_BAND = (600.0, 1200.0)


def tone(frequency_hz: float, duration_s: float, *, amplitude: float = 0.5,
         noise_std: float = 0.0, rng=None, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32 (round(duration * rate),) sine plus white noise, 10 ms fades, in [-1, 1]."""
    count = int(round(duration_s * sample_rate))
    times = np.arange(count) / sample_rate
    samples = amplitude * np.sin(2 * np.pi * frequency_hz * times)
    if noise_std:
        samples = samples + (rng or np.random.default_rng(0)).normal(0, noise_std, count)
    fade = min(count // 2, sample_rate // 100)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        samples[:fade] *= ramp
        samples[count - fade:] *= ramp[::-1]
    return np.clip(samples, -1, 1).astype(np.float32)


def render_track(class_name: str, *, seed: int, index: int, duration_s: float) -> np.ndarray:
    """The track of video `index` of `class_name` (see the module table)."""
    rng = np.random.default_rng([seed, 2000, index])  # shared by all classes: only the band differs
    fraction, amplitude = rng.random(), rng.uniform(0.2, 0.5)
    noise_std = rng.uniform(0.01, 0.03)
    low, high = TONE_BANDS.get(class_name, OTHER_BAND)
    return tone(low + fraction * (high - low), duration_s, amplitude=amplitude,
                noise_std=noise_std, rng=rng)


def add_audio_track(video_path: str, samples: Sequence[float], out_path: str,
                    sample_rate: int = SAMPLE_RATE):
    """Writes `out_path`: the video stream of `video_path` (packets copied) plus a mono
    16-bit PCM track of float `samples` in [-1, 1] at `sample_rate` Hz.

    `out_path` may equal `video_path` (written to a temporary file, then renamed).
    """
    import av

    pcm = (np.clip(np.asarray(samples, np.float64), -1, 1) * 32767).round().astype(np.int16)
    temporary = f"{out_path}.muxing{os.path.splitext(out_path)[1]}"
    with av.open(str(video_path)) as source, av.open(temporary, "w") as target:
        video_in = source.streams.video[0]
        video_out = target.add_stream_from_template(video_in)
        audio_out = target.add_stream("pcm_s16le", rate=sample_rate, layout="mono")
        for packet in source.demux(video_in):
            if packet.dts is None:  # the demuxer's final empty packet
                continue
            packet.stream = video_out
            target.mux(packet)
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate, frame.pts = sample_rate, 0
        for packet in (*audio_out.encode(frame), *audio_out.encode(None)):
            target.mux(packet)
    os.replace(temporary, out_path)
