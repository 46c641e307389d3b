"""Serving-time preprocessing: one video's frames -> evaluation clips, in the graph.

Both paths call the evaluation pipeline's own functions
(`sampling.eval_offsets` / `untrimmed_offsets`, `eval_views.eval_clip`, which
decodes, stacks the modality, rescales the short side, cuts the eval views,
flips and normalizes), so evaluation and serving share one implementation.
The uint8 path gathers the sampled frames and hands them to the same code as
lossless PNGs; a test checks that both paths give identical clips.

Streams of a modality (`stream_names`): rgb and rgb_diff take ``frames``
(RGB JPEGs); flow and warped_flow take ``flow_x`` and ``flow_y`` (grayscale
JPEGs of quantized flow, one fewer than the RGB frames, as ingestion writes
them).
"""
import dataclasses
from typing import Sequence, Tuple

import tensorflow as tf

from tsn_tf.input.pipeline import modalities
from tsn_tf.input.pipeline import eval_views
from tsn_tf.input.pipeline import sampling

RGB_STREAMS = ("frames",)
FLOW_STREAMS = ("flow_x", "flow_y")


def stream_names(modality: str) -> Tuple[str, ...]:
    """Request input names of a modality's encoded streams."""
    return FLOW_STREAMS if modalities.get_stream(modality).jpeg_channels == 1 else RGB_STREAMS


@dataclasses.dataclass(frozen=True)
class ViewSettings:
    """How a video becomes model input (the evaluation protocol)."""
    modality: str
    input_size: int            # S: side of the model input
    mean: Tuple[float, ...]    # normalization on the 0..255 scale
    std: Tuple[float, ...]
    num_segments: int = 25     # K at test time
    eval_crops: int = 1        # 1 (centre), 3 or 10 views
    snippet_length: int = 0    # L; 0: the modality's default (1 RGB, 5 flow)

    def __post_init__(self):
        modalities.get_stream(self.modality)
        if self.eval_crops not in (1, 3, 10):
            raise ValueError(f"eval_crops must be 1, 3 or 10. Received: {self.eval_crops}")
        if self.num_segments < 1:
            raise ValueError(f"num_segments must be >= 1. Received: {self.num_segments}")

    @property
    def stream(self) -> modalities.Stream:
        return modalities.get_stream(self.modality)

    @property
    def length(self) -> int:
        return self.snippet_length or self.stream.default_length

    @property
    def channels(self) -> int:
        """C·L of one snippet as the model sees it."""
        per_item = self.stream.jpeg_channels * len(self.stream.keys)
        return per_item * self.length

    def normalization(self):
        """(mean, std) float32 (C·L,) vectors, as `make_dataset` builds them."""
        return modalities.normalization(self.mean, self.std, self.modality, self.channels)


# --- request checks ----------------------------------------------------------

def check_jpegs(jpegs, name: str):
    """Asserts string (N,) with N >= 1 JPEGs; InvalidArgument naming `name` otherwise."""
    jpegs = tf.ensure_shape(jpegs, [None], name=f"check_rank_{name}")
    all_jpeg = tf.reduce_all(tf.map_fn(tf.io.is_jpeg, jpegs, fn_output_signature=tf.bool))
    checks = [
        tf.debugging.assert_positive(tf.size(jpegs), message=f"{name}: no frames in the request "
                                     "(expected a string (N,) tensor of JPEG images, N >= 1)"),
        tf.debugging.Assert(all_jpeg, [f"{name}: a frame is not a JPEG image (expected JPEG "
                                       "bytes; base64 in REST as {\"b64\": ...})"]),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(jpegs)


def check_frames(frames, name: str, channels: int):
    """Asserts uint8 (N, H, W, channels) with N, H, W >= 1; InvalidArgument otherwise."""
    frames = tf.ensure_shape(frames, [None, None, None, channels], name=f"check_shape_{name}")
    shape = tf.shape(frames)
    check = tf.debugging.assert_positive(
            shape[:3], message=f"{name}: empty frames (expected uint8 (N, H, W, {channels}) "
            "with N, H, W >= 1)")
    with tf.control_dependencies([check]):
        return tf.identity(frames)


def _frame_count(streams: Sequence[tf.Tensor]):
    """N of a modality: the shortest stream (flow x and y should match)."""
    return tf.reduce_min(tf.stack([tf.shape(s)[0] for s in streams]))


# --- clips -------------------------------------------------------------------

def test_offsets(num_frames, settings: ViewSettings):
    """Start frame of each of the K test-time segments: int32 (K,)."""
    return sampling.eval_offsets(num_frames, settings.num_segments, snippet_items(settings))


def snippet_offsets(num_frames, frame_rate, snippets_per_second: float = 1.0):
    """Start frames of snippets at a fixed rate (untrimmed videos): int32 (S,)."""
    return sampling.untrimmed_offsets(num_frames, frame_rate, snippets_per_second)


def interval_snippets(num_frames, interval, settings: ViewSettings):
    """Snippets centred every `interval` frames (BSN / BMN features): (centres, start
    frames), int32 (T,) each; centres ``interval // 2 + t * interval`` < N
    (`sampling.interval_centres`), each snippet's L + extra frames starting at
    ``c - items // 2`` (`sampling.centred_offsets`)."""
    centres = sampling.interval_centres(num_frames, interval)
    return centres, sampling.centred_offsets(centres, snippet_items(settings))


def snippet_items(settings: ViewSettings) -> int:
    """Frames one snippet reads: L + the modality's extra frames (RGB diff: L + 1)."""
    return settings.length + settings.stream.extra_frames


def check_interval(interval: int, settings: ViewSettings):
    """ValueError unless snippets centred every `interval` frames hold the frames one
    reads (the `snippet_features` signature refuses the same as InvalidArgument)."""
    sampling.check_interval(interval, snippet_items(settings), settings.modality)


def clips_from_jpegs(jpeg_streams: Sequence[tf.Tensor], offsets, settings: ViewSettings):
    """Eval views of the snippets at `offsets` from encoded frames.

    Args:
      jpeg_streams: string (N,) tensors, one per stream (`stream_names`).
      offsets: int32 (K,) snippet start frames.
      settings: `ViewSettings`.
    Returns:
      float32 (crops, K, S, S, C·L), exactly what `make_dataset(training=False)`
      yields for the same frames.
    """
    mean_vector, std_vector = settings.normalization()
    features = {"frames": dict(zip(settings.stream.keys, jpeg_streams))}
    return _with_static_shape(eval_views.eval_clip(
            features, offsets, _frame_count(jpeg_streams), stream=settings.stream,
            modality=settings.modality, length=settings.length,
            output_size=settings.input_size, eval_crops=settings.eval_crops,
            mean_vector=mean_vector, std_vector=std_vector), offsets, settings)


def clips_from_frames(frames, offsets, settings: ViewSettings):
    """Eval views of the snippets at `offsets` from decoded frames.

    The sampled frames are PNG-encoded (lossless, no compression) and run
    through `clips_from_jpegs` (`tf.io.decode_jpeg` decodes PNG too), so this
    path is the evaluation pipeline's code, not a copy of it.

    Args:
      frames: uint8 (N, H, W, c): RGB (c = 3) or flow with x, y channels (c = 2).
      offsets: int32 (K,) snippet start frames.
      settings: `ViewSettings`.
    Returns:
      float32 (crops, K, S, S, C·L), equal to `clips_from_jpegs` on JPEGs
      that decode to `frames`.
    """
    stream = settings.stream
    items = settings.length + stream.extra_frames
    indices = tf.reshape(sampling.snippet_indices(offsets, items, tf.shape(frames)[0]), [-1])
    sampled = tf.gather(frames, indices)  # (K·items, H, W, c)
    step = stream.jpeg_channels
    encoded = [_png_frames(sampled[..., c:c + step]) for c in range(0, step * len(stream.keys),
                                                                   step)]
    consecutive = tf.range(offsets.shape[0], dtype=tf.int32) * items
    return clips_from_jpegs(encoded, consecutive, settings)


def _png_frames(frames):
    """uint8 (F, H, W, c) -> string (F,) uncompressed PNGs."""
    return tf.map_fn(lambda frame: tf.io.encode_png(frame, compression=0), frames,
                     fn_output_signature=tf.TensorSpec([], tf.string))


def _with_static_shape(clips, offsets, settings: ViewSettings):
    """Sets the static shape (crops, K, S, S, C·L) the Keras model needs."""
    size = settings.input_size
    return tf.ensure_shape(clips, [settings.eval_crops, offsets.shape[0], size, size,
                                   settings.channels])
