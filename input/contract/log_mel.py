"""The audio stream's stored feature: log-mel frames of a mono 16 kHz waveform.

Log-mel frames (VGGish-like): a periodic Hann window of `WINDOW_SAMPLES`
(25 ms) every `HOP_SAMPLES` (10 ms, i.e. `FRAME_RATE` = 100 frames/s), the
magnitude of a `FFT_LENGTH`-point FFT, `MEL_BINS` = 64 triangular HTK-mel
filters from `MEL_LOW_HZ` to `MEL_HIGH_HZ` (the same matrix as
`tf.signal.linear_to_mel_weight_matrix`), then ``log(mel + LOG_OFFSET)``.
Frame i covers samples ``[i*hop, i*hop + window)``; no padding, so a track
of n >= window samples gives ``1 + (n - window) // hop`` frames. Its
timestamp is the window centre on the video clock,
``start_s + (i*hop + window/2) / SAMPLE_RATE``.
"""
import numpy as np

SAMPLE_RATE = 16000          # Hz, after resampling
WINDOW_SAMPLES = 400         # 25 ms analysis window
HOP_SAMPLES = 160            # 10 ms between frames
FRAME_RATE = SAMPLE_RATE / HOP_SAMPLES  # log-mel frames per second (100)
FFT_LENGTH = 512             # FFT points (window zero-padded to it)
MEL_BINS = 64                # mel filters
MEL_LOW_HZ = 125.0           # lower edge of the first filter, Hz
MEL_HIGH_HZ = 7500.0         # upper edge of the last filter, Hz
LOG_OFFSET = 0.01            # log(mel + offset): silence maps to log(0.01) = -4.6
# Normalization of log-mel values for the model, (x - mean) / std: between the
# statistics of test.avi's track (mean -0.97, std 1.30) and of the synthetic
# set's tones (-0.32, 1.13). Rescale per dataset if yours differ much.
LOG_MEL_MEAN = -0.6
LOG_MEL_STD = 1.2


def hertz_to_mel(hertz):
    """HTK mel scale: 1127 ln(1 + f / 700)."""
    return 1127.0 * np.log1p(np.asarray(hertz, np.float64) / 700.0)


def mel_matrix(*, num_mel_bins: int = MEL_BINS, fft_length: int = FFT_LENGTH,
               sample_rate: int = SAMPLE_RATE, low_hz: float = MEL_LOW_HZ,
               high_hz: float = MEL_HIGH_HZ) -> np.ndarray:
    """float32 (fft_length // 2 + 1, num_mel_bins) triangular filters in the mel domain.

    The DC bin has zero weight; filter m rises from band edge m to its centre
    m + 1 and falls to edge m + 2, with num_mel_bins + 2 edges equally spaced
    in mel from `low_hz` to `high_hz`.
    """
    if not 0.0 <= low_hz < high_hz <= sample_rate / 2:
        raise ValueError(f"mel band must satisfy 0 <= low < high <= {sample_rate / 2} Hz; "
                         f"received low_hz={low_hz}, high_hz={high_hz}")
    bins = fft_length // 2 + 1
    spectrum_mel = hertz_to_mel(np.linspace(0.0, sample_rate / 2, bins)[1:])[:, None]
    edges = np.linspace(hertz_to_mel(low_hz), hertz_to_mel(high_hz), num_mel_bins + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (spectrum_mel - lower) / (centre - lower)
    falling = (upper - spectrum_mel) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.pad(weights, [[1, 0], [0, 0]]).astype(np.float32)


def mel_centres_hz(num_mel_bins: int = MEL_BINS, low_hz: float = MEL_LOW_HZ,
                   high_hz: float = MEL_HIGH_HZ) -> np.ndarray:
    """Centre frequency of each mel filter, Hz (num_mel_bins,)."""
    edges = np.linspace(hertz_to_mel(low_hz), hertz_to_mel(high_hz), num_mel_bins + 2)
    return 700.0 * np.expm1(edges[1:-1] / 1127.0)


def num_frames(num_samples: int, window: int = WINDOW_SAMPLES, hop: int = HOP_SAMPLES) -> int:
    """Log-mel frames of a track of `num_samples` samples (0 if shorter than a window)."""
    return 0 if num_samples < window else 1 + (num_samples - window) // hop


def log_mel(samples: np.ndarray) -> np.ndarray:
    """Mono `SAMPLE_RATE` waveform (n,) -> float32 (num_frames(n), MEL_BINS) log-mel frames."""
    samples = np.asarray(samples, np.float32)
    if samples.ndim != 1:
        raise ValueError(f"log_mel takes a mono waveform (n,); received shape {samples.shape}")
    count = num_frames(len(samples))
    if count == 0:
        return np.zeros([0, MEL_BINS], np.float32)
    starts = np.arange(count)[:, None] * HOP_SAMPLES + np.arange(WINDOW_SAMPLES)[None, :]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW_SAMPLES) / WINDOW_SAMPLES)
    magnitude = np.abs(np.fft.rfft(samples[starts] * window, n=FFT_LENGTH, axis=1))
    mel = magnitude @ mel_matrix().astype(np.float64)
    return np.log(mel + LOG_OFFSET).astype(np.float32)


def frame_timestamps_us(count: int, start_s: float = 0.0) -> list:
    """Video-clock timestamp of each frame's window centre, microseconds."""
    centres = start_s + (np.arange(count) * HOP_SAMPLES + WINDOW_SAMPLES / 2) / SAMPLE_RATE
    return [int(round(t * 1_000_000)) for t in centres]
