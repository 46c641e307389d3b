"""A flow model served from a video's RGB frames: flow of the sampled pairs, in the graph.

For a flow model whose training shards hold TF TV-L1 flow (``--flow=tvl1_*``),
the SavedModel's ``video_*`` signatures take the RGB frames of one video at the
recorded frame size, sample the test protocol's flow snippets (K segments of L
pairs, or one snippet a second), compute TV-L1 only for those pairs with the
ingestion's own function (`video_flow.quantized_flows`: decode, grey, TV-L1,
quantize), JPEG-encode the x and y images at the ingestion's quality (training
saw JPEG-decoded flow; TF's encoder writes cv2's bytes for grey images) and
score them as the flow-JPEG signatures do. Decoded uint8 frames are first
JPEG-encoded at the ingestion's quality: the shards' flow was made from the
stored RGB JPEGs.
"""
import dataclasses
from typing import Optional, Tuple

import tensorflow as tf

from tsn_tf.input.contract.preprocessing import flow_to_compute, parse_resize
from tsn_tf.input.pipeline import sampling
from tsn_tf.ops import serving
from tsn_tf.ops import video_flow



@dataclasses.dataclass(frozen=True)
class InGraphFlow:
    """How the training shards' flow was made, as the graph recomputes it."""
    algorithm: str         # ingestion's --flow name, e.g. "tvl1_tsn"
    bound: float           # px, quantization clip
    jpeg_quality: int      # of the stored RGB and flow JPEGs
    frame_size: Tuple[int, int]  # (width, height) of the stored frames

    @classmethod
    def of(cls, preprocessing) -> Tuple[Optional["InGraphFlow"], str]:
        """(settings, "") when a model trained on `preprocessing` (a `Preprocessing`, or
        None) can compute its flow in the graph, else (None, why not)."""
        if preprocessing is None:
            return None, "the run records no preprocessing"
        algorithm = flow_to_compute(preprocessing.flow_algorithm)  # imported: its variant
        if algorithm not in video_flow.ALGORITHMS:
            return None, (f"its flow ({preprocessing.flow_algorithm!r}) is not a TF TV-L1 "
                          f"variant ({', '.join(video_flow.ALGORITHMS)})")
        size, _ = parse_resize(preprocessing.resize)
        if size is None:
            return None, (f"its frames were stored at {preprocessing.resize!r}; the graph "
                          "needs a fixed WIDTHxHEIGHT")
        return cls(algorithm, float(preprocessing.flow_bound),
                   int(preprocessing.jpeg_quality), size), ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def check_frame_size(frames, flow: InGraphFlow, name: str = "frames"):
    """uint8 (N, H, W, 3) at the recorded size, N >= 2; InvalidArgument otherwise."""
    width, height = flow.frame_size
    frames = tf.ensure_shape(frames, [None, None, None, 3], name=f"check_shape_{name}")
    shape = tf.shape(frames)
    checks = [tf.debugging.assert_equal(shape[1:3], tf.constant([height, width]), message=(
                  f"{name}: frames must be {width}x{height} (the training shards' size)")),
              tf.debugging.assert_greater_equal(shape[0], 2, message=(
                  f"{name}: flow needs at least 2 frames"))]
    with tf.control_dependencies(checks):
        return tf.identity(frames)


def check_video_jpegs(jpegs, flow: InGraphFlow, name: str = "frames"):
    """string (N,) RGB JPEGs, N >= 2, each at the recorded size; InvalidArgument otherwise."""
    jpegs = serving.check_jpegs(jpegs, name)
    width, height = flow.frame_size
    shapes = tf.map_fn(lambda jpeg: tf.io.extract_jpeg_shape(jpeg)[:2], jpegs,
                       fn_output_signature=tf.TensorSpec([2], tf.int32))
    checks = [tf.debugging.assert_greater_equal(tf.size(jpegs), 2, message=(
                  f"{name}: flow needs at least 2 frames")),
              tf.debugging.Assert(tf.reduce_all(shapes == [height, width]), [
                  f"{name}: frames must be {width}x{height} JPEGs (the training shards' "
                  "size); a frame differs"])]
    with tf.control_dependencies(checks):
        return tf.identity(jpegs)


def encode_frames(frames, flow: InGraphFlow):
    """uint8 (N, H, W, c) images -> string (N,) JPEGs at the ingestion's quality."""
    return tf.map_fn(lambda frame: tf.io.encode_jpeg(frame, quality=flow.jpeg_quality), frames,
                     fn_output_signature=tf.TensorSpec([], tf.string))


def sampled_flow_jpegs(rgb_jpegs, offsets, settings: serving.ViewSettings, flow: InGraphFlow):
    """x and y flow JPEGs, string (K·L,) each, of the snippets starting at `offsets` of
    the video's N - 1 flow frames (the last repeated past the end, as `snippet_indices`
    does); TV-L1 runs once per distinct pair, one pair after the other."""
    indices = tf.reshape(sampling.snippet_indices(offsets, settings.length,
                                                  tf.size(rgb_jpegs) - 1), [-1])
    pairs, position = tf.unique(indices)
    width, height = flow.frame_size

    def one_pair(jpegs):  # a pair at a time: flat memory; a batch would run all pairs
        return video_flow.quantized_flows(  # until the slowest converges
                jpegs[0][None], jpegs[1][None], variant=video_flow.ALGORITHMS[flow.algorithm],
                bound=flow.bound, height=height, width=width)[0]

    quantized = tf.map_fn(one_pair, (tf.gather(rgb_jpegs, pairs),
                                     tf.gather(rgb_jpegs, pairs + 1)),
                          fn_output_signature=tf.TensorSpec([height, width, 2], tf.uint8))

    return tuple(tf.gather(encode_frames(quantized[..., axis:axis + 1], flow), position)
                 for axis in (0, 1))


def clips_from_rgb(rgb_jpegs, offsets, settings: serving.ViewSettings, flow: InGraphFlow):
    """float32 (crops, K, S, S, C·L): `serving.clips_from_jpegs` of the flow the training
    shards would hold for these RGB JPEGs, at the snippets starting at `offsets`."""
    flow_x, flow_y = sampled_flow_jpegs(rgb_jpegs, offsets, settings, flow)
    count = offsets.shape[0] or tf.size(offsets)  # static K (trimmed) or per video (untrimmed)
    consecutive = tf.range(count, dtype=tf.int32) * settings.length
    return serving.clips_from_jpegs([flow_x, flow_y], consecutive, settings)
