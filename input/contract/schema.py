"""Shard schema: a video is a `tf.train.SequenceExample` with MediaSequence keys.

Key names follow mediapipe's `util/sequence/media_sequence.py` so a video's
record reads in other TF video tooling. Extra streams reuse the image keys
behind a prefix (``FLOW_X/image/encoded``). Units are given beside each key.
Shards store a video's frames as records of their own and its context in an
index record (`layout`); `layout.read_videos` gives back the full
SequenceExamples.
"""
import dataclasses
from typing import Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

# --- context ---------------------------------------------------------------
MEDIA_ID = "clip/media_id"                    # bytes: unique video id
DATA_PATH = "clip/data_path"                  # bytes: source path of the video
LABEL_INDEX = "clip/label/index"              # int64 list: class indices
LABEL_STRING = "clip/label/string"            # bytes list: class names
IMAGE_HEIGHT = "image/height"                 # int64: stored frame height, px
IMAGE_WIDTH = "image/width"                   # int64: stored frame width, px
IMAGE_FRAME_RATE = "image/frame_rate"         # float: frames per second (mean over timestamps)
IMAGE_FORMAT = "image/format"                 # bytes: "JPEG"
SEGMENT_START = "segment/start/timestamp"     # int64 list: microseconds
SEGMENT_END = "segment/end/timestamp"         # int64 list: microseconds
SEGMENT_LABEL_INDEX = "segment/label/index"   # int64 list: class per segment
SEGMENT_LABEL_STRING = "segment/label/string"  # bytes list: name per segment
FLOW_BOUND = "FLOW/flow/bound"                # float: |flow| clip, px/frame
FLOW_ALGORITHM = "FLOW/flow/algorithm"        # bytes: tvl1 | dis | farneback | imported:<name>
FLOW_PARAMETERS = "FLOW/flow/parameters"      # bytes: JSON of the algorithm's settings
IMAGE_RESIZE = "image/resize"                 # bytes: "340x256" | "short_side=S" | "source"
IMAGE_JPEG_QUALITY = "image/jpeg_quality"     # int64: JPEG quality of stored frames, 0-100
# audio (written only when ingested with the "audio" modality)
AUDIO_PRESENT = "AUDIO/present"                        # int64: 1 track decoded, 0 none
AUDIO_DIMENSIONS = "AUDIO/feature/dimensions"          # int64 list: [mel bins]
AUDIO_FEATURE_RATE = "AUDIO/feature/rate"              # float: log-mel frames per second
AUDIO_SAMPLE_RATE = "AUDIO/feature/sample_rate"        # float: Hz of the analysed waveform
AUDIO_NUM_SAMPLES = "AUDIO/feature/num_samples"        # int64: window length, samples
AUDIO_HOP_SAMPLES = "AUDIO/feature/hop_samples"        # int64: hop between frames, samples
AUDIO_SOURCE_SAMPLE_RATE = "AUDIO/feature/audio_sample_rate"  # float: Hz of the file's track

# --- feature lists (one entry per frame) -------------------------------------
IMAGE_ENCODED = "image/encoded"               # bytes: JPEG RGB frame
IMAGE_TIMESTAMP = "image/timestamp"           # int64: presentation timestamp, microseconds
AUDIO_FLOATS = "AUDIO/feature/floats"         # float list: one log-mel frame (mel bins)
AUDIO_TIMESTAMP = "AUDIO/feature/timestamp"   # int64: window centre, microseconds
FLOW_PREFIX = "FLOW"
WARPED_FLOW_PREFIX = "WARPED_FLOW"
# --- the shard index (`layout`) ----------------------------------------------
RGB_GROUP = "image"
AUDIO_RECORD_OFFSET = "AUDIO/record/offset"   # int64 [start, end): bytes of the audio record


def stream_key(prefix: str, axis: str, key: str = IMAGE_ENCODED) -> str:
    """Key of an extra stream, e.g. ``stream_key("FLOW", "X")`` -> FLOW_X/image/encoded."""
    return f"{prefix}_{axis}/{key}"


FLOW_X_ENCODED = stream_key(FLOW_PREFIX, "X")  # bytes: grayscale JPEG, 128 = 0
FLOW_Y_ENCODED = stream_key(FLOW_PREFIX, "Y")
WARPED_FLOW_X_ENCODED = stream_key(WARPED_FLOW_PREFIX, "X")
WARPED_FLOW_Y_ENCODED = stream_key(WARPED_FLOW_PREFIX, "Y")
# stream groups stored frame by frame (keys alternate per frame), by index name
FRAME_GROUPS = ((RGB_GROUP, (IMAGE_ENCODED,)),
                (FLOW_PREFIX, (FLOW_X_ENCODED, FLOW_Y_ENCODED)),
                (WARPED_FLOW_PREFIX, (WARPED_FLOW_X_ENCODED, WARPED_FLOW_Y_ENCODED)))


def frame_offsets_key(group: str) -> str:
    """Index key of a group's N + 1 frame byte offsets, e.g. ``FLOW/frame/offset``."""
    return f"{group}/frame/offset"


def media_id_of(example: "tf.train.SequenceExample") -> str:
    """The `MEDIA_ID` of a video's SequenceExample ("?" when it has none)."""
    feature = example.context.feature.get(MEDIA_ID)
    return feature.bytes_list.value[0].decode() if feature and feature.bytes_list.value else "?"


@dataclasses.dataclass
class VideoRecord:
    """Everything one shard record holds about one video (encoded frames)."""
    media_id: str
    label_indices: Sequence[int]
    label_strings: Sequence[str]
    height: int
    width: int
    frame_rate: float
    rgb_jpegs: Sequence[bytes]
    timestamps_us: Sequence[int]
    data_path: str = ""
    flow_x_jpegs: Sequence[bytes] = dataclasses.field(default_factory=list)
    flow_y_jpegs: Sequence[bytes] = dataclasses.field(default_factory=list)
    warped_flow_x_jpegs: Sequence[bytes] = dataclasses.field(default_factory=list)
    warped_flow_y_jpegs: Sequence[bytes] = dataclasses.field(default_factory=list)
    flow_bound: float = 0.0
    flow_algorithm: str = ""
    flow_parameters: str = ""   # JSON
    resize: str = ""            # preprocessing.resize_text; "" = not recorded (older shards)
    jpeg_quality: int = -1      # -1 = not recorded
    segment_start_us: Sequence[int] = dataclasses.field(default_factory=list)
    segment_end_us: Sequence[int] = dataclasses.field(default_factory=list)
    segment_label_indices: Sequence[int] = dataclasses.field(default_factory=list)
    segment_label_strings: Sequence[str] = dataclasses.field(default_factory=list)
    # audio: None = not ingested; False = the video has no (decodable) track
    audio_present: Optional[bool] = None
    audio_log_mel: Sequence[Sequence[float]] = dataclasses.field(default_factory=list)
    audio_timestamps_us: Sequence[int] = dataclasses.field(default_factory=list)
    audio_mel_bins: int = 0
    audio_feature_rate: float = 0.0      # frames per second
    audio_sample_rate: float = 0.0       # Hz
    audio_window_samples: int = 0
    audio_hop_samples: int = 0
    audio_source_sample_rate: float = 0.0  # Hz
    source_size: Tuple[int, int] = (0, 0)  # (width, height) decoded; not stored in shards


def _bytes(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(
            value=[v.encode() if isinstance(v, str) else bytes(v) for v in values]))


def _ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _floats(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


_CONTEXT_FIELDS = (
    (MEDIA_ID, "media_id", _bytes, True), (DATA_PATH, "data_path", _bytes, True),
    (LABEL_INDEX, "label_indices", _ints, False), (LABEL_STRING, "label_strings", _bytes, False),
    (IMAGE_HEIGHT, "height", _ints, True), (IMAGE_WIDTH, "width", _ints, True),
    (IMAGE_FRAME_RATE, "frame_rate", _floats, True),
    (FLOW_BOUND, "flow_bound", _floats, True), (FLOW_ALGORITHM, "flow_algorithm", _bytes, True),
    (FLOW_PARAMETERS, "flow_parameters", _bytes, True), (IMAGE_RESIZE, "resize", _bytes, True),
    (IMAGE_JPEG_QUALITY, "jpeg_quality", _ints, True),
    (SEGMENT_START, "segment_start_us", _ints, False), (SEGMENT_END, "segment_end_us", _ints, False),
    (SEGMENT_LABEL_INDEX, "segment_label_indices", _ints, False),
    (SEGMENT_LABEL_STRING, "segment_label_strings", _bytes, False),
)
_OPTIONAL_CONTEXT = (FLOW_BOUND, FLOW_ALGORITHM, FLOW_PARAMETERS, DATA_PATH, IMAGE_RESIZE,
                     IMAGE_JPEG_QUALITY)  # left out when at the VideoRecord default
_FRAME_FIELDS = (
    (IMAGE_ENCODED, "rgb_jpegs", _bytes), (IMAGE_TIMESTAMP, "timestamps_us", _ints),
    (FLOW_X_ENCODED, "flow_x_jpegs", _bytes), (FLOW_Y_ENCODED, "flow_y_jpegs", _bytes),
    (WARPED_FLOW_X_ENCODED, "warped_flow_x_jpegs", _bytes),
    (WARPED_FLOW_Y_ENCODED, "warped_flow_y_jpegs", _bytes),
)


def encoded_streams(record: VideoRecord) -> dict:
    """Key -> the encoded frames of each stream (`FRAME_GROUPS`' keys), empty or not."""
    return {key: getattr(record, field) for key, field, _ in _FRAME_FIELDS
            if key != IMAGE_TIMESTAMP}


def to_sequence_example(record: VideoRecord, encoded_frames: bool = True
                        ) -> tf.train.SequenceExample:
    """Builds the SequenceExample of `record`; empty optional streams are omitted, and
    with `encoded_frames=False` the encoded frames (`layout.split_record` stores them)."""
    if len(record.timestamps_us) != len(record.rgb_jpegs):
        raise ValueError(f"{record.media_id}: {len(record.rgb_jpegs)} RGB frames but "
                         f"{len(record.timestamps_us)} timestamps.")
    if len(record.flow_x_jpegs) != len(record.flow_y_jpegs):
        raise ValueError(f"{record.media_id}: flow x has {len(record.flow_x_jpegs)} frames, "
                         f"flow y {len(record.flow_y_jpegs)}.")
    example = tf.train.SequenceExample()
    context = example.context.feature
    for key, field, make, scalar in _CONTEXT_FIELDS:
        value = getattr(record, field)
        if scalar:
            if key in _OPTIONAL_CONTEXT and value == VideoRecord.__dataclass_fields__[
                    field].default:
                continue
            value = [value]
        context[key].CopyFrom(make(value))
    context[IMAGE_FORMAT].CopyFrom(_bytes(["JPEG"]))
    for key, field, make in _FRAME_FIELDS:
        values = getattr(record, field)
        if len(values) and (encoded_frames or key == IMAGE_TIMESTAMP):
            feature_list = example.feature_lists.feature_list[key]
            for value in values:
                feature_list.feature.add().CopyFrom(make([value]))
    _add_audio(record, example)
    return example


_AUDIO_CONTEXT = (
    (AUDIO_DIMENSIONS, "audio_mel_bins", _ints),
    (AUDIO_FEATURE_RATE, "audio_feature_rate", _floats),
    (AUDIO_SAMPLE_RATE, "audio_sample_rate", _floats),
    (AUDIO_NUM_SAMPLES, "audio_window_samples", _ints),
    (AUDIO_HOP_SAMPLES, "audio_hop_samples", _ints),
    (AUDIO_SOURCE_SAMPLE_RATE, "audio_source_sample_rate", _floats),
)


def _add_audio(record: VideoRecord, example: tf.train.SequenceExample):
    """Audio context and feature lists; only `AUDIO_PRESENT` = 0 for a video without a track."""
    if record.audio_present is None:
        return
    context = example.context.feature
    context[AUDIO_PRESENT].CopyFrom(_ints([int(bool(record.audio_present))]))
    if not record.audio_present:
        return
    frames = np.asarray(record.audio_log_mel, np.float32)
    if frames.ndim != 2 or len(frames) == 0 or frames.shape[1] != record.audio_mel_bins:
        raise ValueError(f"{record.media_id}: audio_log_mel must be (frames > 0, "
                         f"{record.audio_mel_bins} mel bins); received shape {frames.shape}")
    if len(record.audio_timestamps_us) != len(frames):
        raise ValueError(f"{record.media_id}: {len(frames)} audio frames but "
                         f"{len(record.audio_timestamps_us)} audio timestamps.")
    for key, field, make in _AUDIO_CONTEXT:
        context[key].CopyFrom(make([getattr(record, field)]))
    lists = example.feature_lists.feature_list
    for frame in frames:
        lists[AUDIO_FLOATS].feature.add().float_list.value.extend(frame.tolist())
    for timestamp in record.audio_timestamps_us:
        lists[AUDIO_TIMESTAMP].feature.add().int64_list.value.append(int(timestamp))


def _read_audio(example: tf.train.SequenceExample) -> dict:
    """VideoRecord audio fields of `example` (inverse of `_add_audio`)."""
    context = example.context.feature
    if AUDIO_PRESENT not in context:
        return {}
    values = {"audio_present": bool(context[AUDIO_PRESENT].int64_list.value[0])}
    for key, field, _ in _AUDIO_CONTEXT:
        if key in context:
            kind = context[key].WhichOneof("kind")
            values[field] = getattr(context[key], kind).value[0]
    lists = example.feature_lists.feature_list
    if AUDIO_FLOATS in lists:
        values["audio_log_mel"] = [list(f.float_list.value) for f in lists[AUDIO_FLOATS].feature]
    if AUDIO_TIMESTAMP in lists:
        values["audio_timestamps_us"] = [f.int64_list.value[0]
                                         for f in lists[AUDIO_TIMESTAMP].feature]
    return values


def from_sequence_example(example) -> VideoRecord:
    """Inverse of `to_sequence_example` (accepts the proto or its serialized bytes)."""
    if isinstance(example, (bytes, bytearray)):
        example = tf.train.SequenceExample.FromString(bytes(example))
    context = example.context.feature
    values = {}
    for key, field, make, scalar in _CONTEXT_FIELDS:
        feature = context[key] if key in context else make([])
        kind = feature.WhichOneof("kind")
        listed = list(getattr(feature, kind).value) if kind else []
        listed = [v.decode() if isinstance(v, bytes) else v for v in listed]
        if scalar:
            default = VideoRecord.__dataclass_fields__[field].default
            values[field] = listed[0] if listed else default
        else:
            values[field] = listed
    lists = example.feature_lists.feature_list
    for key, field, _ in _FRAME_FIELDS:
        frames = lists[key].feature if key in lists else []
        values[field] = [
        (f.bytes_list.value[0] if f.HasField("bytes_list") else f.int64_list.value[0])
                for f in frames]
    values.update(_read_audio(example))
    return VideoRecord(**values)


JPEG_MAGIC = b"\xff\xd8\xff"  # every JPEG starts with SOI and a marker


def jpeg_bytes(image: np.ndarray, quality: int = 90) -> bytes:
    """Encodes an HxW or HxWx3 RGB uint8 array as JPEG with TF's encoder."""
    image = np.asarray(image, np.uint8)
    if image.ndim == 2:
        image = image[..., None]
    return tf.io.encode_jpeg(image, quality=quality).numpy()
