"""Serving-time preprocessing of the audio stream, in the graph.

One video's audio arrives as log-mel frames float32 (T, M) at 100 frames/s
(`contract.log_mel.log_mel`, what ingestion stores) or as its mono 16 kHz
waveform float32 (N,) in [-1, 1]. `eval_clip` turns frames into the model
input through the audio pipeline's own evaluation code
(`audio_dataset.eval_patches`: `patch_offsets` at segment centres,
`gather_patches`, ``(x - mean) / std``), so serving and `tsn-eval` share one
implementation. `tf_log_mel` is `log_mel.log_mel` with tf.signal (same window,
hop, FFT size, the same mel matrix and log offset): equal within 1e-4.
"""
import dataclasses

import tensorflow as tf


from tsn_tf.input.contract import log_mel as log_mel_lib
from tsn_tf.input.pipeline import audio_dataset

MODALITY = "audio"
LOG_MEL = "log_mel"
WAVEFORM = "waveform"


@dataclasses.dataclass(frozen=True)
class AudioSettings:
    """How one video's log-mel frames become model input (the evaluation protocol)."""
    mean: float                # normalization of log-mel values
    std: float
    num_segments: int = 25     # K at test time
    patch_frames: int = audio_dataset.PATCH_FRAMES  # P: frames of 10 ms per patch
    mel_bins: int = log_mel_lib.MEL_BINS                   # M
    modality: str = MODALITY
    eval_crops: int = 1        # audio has one view

    def __post_init__(self):
        if self.num_segments < 1 or self.patch_frames < 1 or self.mel_bins < 1:
            raise ValueError(f"num_segments, patch_frames and mel_bins must be >= 1. Received: "
                             f"{self.num_segments}, {self.patch_frames}, {self.mel_bins}")
        if not self.std > 0:
            raise ValueError(f"std must be > 0. Received: {self.std}")


# --- request checks ----------------------------------------------------------

def check_log_mel(log_mel, mel_bins: int, name: str = LOG_MEL):
    """Asserts float32 (T, mel_bins), T >= 1, finite; InvalidArgument naming `name` otherwise."""
    log_mel = tf.ensure_shape(log_mel, [None, mel_bins], name=f"check_shape_{name}")
    check = tf.debugging.assert_positive(
            tf.shape(log_mel)[0], message=f"{name}: no frames in the request (expected float32 "
            f"(T, {mel_bins}) log-mel frames at {log_mel_lib.FRAME_RATE:g} per second, T >= 1)")
    with tf.control_dependencies([check]):
        return tf.debugging.check_numerics(log_mel, f"{name}: values must be finite")


def check_waveform(waveform, name: str = WAVEFORM):
    """Asserts float32 (N,), N >= one window (400 samples), finite; InvalidArgument otherwise."""
    waveform = tf.ensure_shape(waveform, [None], name=f"check_shape_{name}")
    check = tf.debugging.assert_greater_equal(
            tf.size(waveform), log_mel_lib.WINDOW_SAMPLES,
            message=f"{name}: fewer samples than one {log_mel_lib.WINDOW_SAMPLES}-sample window "
            f"(expected a mono float32 (N,) waveform at {log_mel_lib.SAMPLE_RATE} Hz, "
            f"N >= {log_mel_lib.WINDOW_SAMPLES})")
    with tf.control_dependencies([check]):
        return tf.debugging.check_numerics(waveform, f"{name}: samples must be finite")


# --- features and clips --------------------------------------------------------

def tf_log_mel(waveform):
    """Mono `log_mel.SAMPLE_RATE` waveform float32 (N,) -> (log_mel.num_frames(N), MEL_BINS).

    `log_mel.log_mel` in the graph: periodic Hann window of 400 samples every 160,
    |FFT| of 512 points, `log_mel.mel_matrix()`, log(mel + `log_mel.LOG_OFFSET`).
    """
    stft = tf.signal.stft(waveform, log_mel_lib.WINDOW_SAMPLES, log_mel_lib.HOP_SAMPLES,
                          log_mel_lib.FFT_LENGTH,
                          window_fn=tf.signal.hann_window, pad_end=False)
    mel = tf.matmul(tf.abs(stft), tf.constant(log_mel_lib.mel_matrix()))
    return tf.math.log(mel + log_mel_lib.LOG_OFFSET)


def eval_clip(log_mel, settings: AudioSettings):
    """(T, M) log-mel frames, T >= 1 -> float32 (1, K, P, M, 1), one view.

    Exactly what `make_audio_dataset(training=False)` yields for a video with
    these frames: both call `audio_dataset.eval_patches`.
    """
    patches = audio_dataset.eval_patches(log_mel, num_segments=settings.num_segments,
                                          patch_frames=settings.patch_frames,
                                          mean=float(settings.mean), std=float(settings.std))
    clip = patches[None, ..., None]
    return tf.ensure_shape(clip, [1, settings.num_segments, settings.patch_frames,
                                  settings.mel_bins, 1])
