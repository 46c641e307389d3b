"""How a model's training frames were made: what prediction must reproduce.

Ingestion records it in every video's context (`schema.IMAGE_RESIZE`,
`IMAGE_JPEG_QUALITY`, `FLOW_ALGORITHM`, `FLOW_PARAMETERS`, `FLOW_BOUND`);
tsn-train copies it from its first training video into
``<model_dir>/preprocessing.json``; tsn-export puts it into the SavedModel's
``assets.extra/tsn_export.json``; tsn-predict decodes, resizes and computes
flow the same way (`ingest_options`) and says where a flag overrides it.
"""
import dataclasses
import json
import os
from typing import List, Optional, Tuple

import tensorflow as tf

from tsn_tf.input import encode
from tsn_tf.input import flow as flow_lib
from tsn_tf.input import layout
from tsn_tf.input import schema
from tsn_tf.input import video as video_lib

FILE_NAME = "preprocessing.json"
FLOW_MODALITIES = ("flow", "warped_flow")
_INGEST = encode.IngestOptions()  # tsn-ingest's defaults


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """The ingestion settings a model depends on (defaults: tsn-ingest's)."""
    # "340x256", "short_side=S" or "source" (`video.resize_text`)
    resize: str = video_lib.resize_text(_INGEST.size, _INGEST.short_side)
    jpeg_quality: int = _INGEST.jpeg_quality
    flow_algorithm: str = _INGEST.flow_algorithm   # "" when the shards hold no flow
    flow_bound: float = _INGEST.flow_bound
    flow_parameters: Optional[dict] = None  # `FlowEstimator.parameters()` at ingestion

    def __post_init__(self):
        video_lib.parse_resize(self.resize)

    @classmethod
    def from_record(cls, record: schema.VideoRecord) -> "Preprocessing":
        """From a shard record; a record of older shards without `resize` gets its
        stored frame size (what tsn-ingest's --frame_size did)."""
        return cls(resize=record.resize or f"{record.width}x{record.height}",
                   jpeg_quality=record.jpeg_quality if record.jpeg_quality >= 0
                   else _INGEST.jpeg_quality,
                   flow_algorithm=record.flow_algorithm,
                   flow_bound=record.flow_bound or _INGEST.flow_bound,
                   flow_parameters=json.loads(record.flow_parameters)
                   if record.flow_parameters else None)

    @classmethod
    def from_shard(cls, path: str) -> "Preprocessing":
        """From the first video of the TFRecord shard `path`."""
        index = layout.read_index(path)
        if not index:
            raise ValueError(f"Shard {path} holds no video.")
        return cls.from_record(schema.from_sequence_example(index[0]))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Preprocessing":
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def save(self, folder: str):
        with tf.io.gfile.GFile(os.path.join(folder, FILE_NAME), "w") as f:
            json.dump(self.to_dict(), f, indent=2)

    @classmethod
    def load(cls, folder: str) -> Optional["Preprocessing"]:
        """The `preprocessing.json` of a run folder; None if the run recorded none."""
        path = os.path.join(folder, FILE_NAME)
        if not tf.io.gfile.exists(path):
            return None
        with tf.io.gfile.GFile(path) as f:
            return cls.from_dict(json.load(f))

    def overridden(self, *, flow_algorithm: Optional[str] = None,
                   resize: Optional[str] = None) -> "Preprocessing":
        """A copy with the given settings replaced (None keeps the recorded one)."""
        changes = {}
        if flow_algorithm is not None:
            changes["flow_algorithm"] = flow_algorithm
        if resize is not None:
            changes["resize"] = resize
        return dataclasses.replace(self, **changes)

    def differences(self, other: "Preprocessing", modality: str) -> List[str]:
        """What `modality` reads that differs between self (training) and `other`."""
        names = ["resize", "jpeg_quality"]
        if modality in FLOW_MODALITIES:
            names += ["flow_algorithm", "flow_bound"]
        return [f"{name}={getattr(other, name)!r} (training: {getattr(self, name)!r})"
                for name in names if getattr(self, name) != getattr(other, name)]

    def flow_parameters_now(self, modality: str) -> Optional[dict]:
        """This OpenCV's flow settings if they differ from the recorded ones, else None."""
        if modality not in FLOW_MODALITIES or self.flow_parameters is None:
            return None
        current = flow_lib.FlowEstimator(self.flow_algorithm).parameters()
        return current if current != self.flow_parameters else None

    def encoding_key(self, modality: str) -> Tuple:
        """Settings that change `modality`'s encoded streams (models sharing it share them)."""
        flow = (self.flow_algorithm, self.flow_bound) if modality in FLOW_MODALITIES else ()
        return (self.resize, self.jpeg_quality, *flow)

    def ingest_options(self, modalities, *, max_frames=None,
                       allow_truncated=False) -> encode.IngestOptions:
        """`IngestOptions` that encode `modalities` of a video as the training shards were."""
        size, short_side = video_lib.parse_resize(self.resize)
        stored = tuple(sorted({"rgb" if m in ("rgb", "rgb_diff") else m for m in modalities}))
        needs_flow = any(m in FLOW_MODALITIES for m in stored)
        if needs_flow and self.flow_algorithm not in flow_lib.FLOW_ALGORITHMS:
            raise ValueError(f"The model's flow was made with {self.flow_algorithm!r}, which "
                             f"cannot be computed here; pick one of {flow_lib.FLOW_ALGORITHMS}")
        return encode.IngestOptions(
                modalities=stored, size=size, short_side=short_side,
                jpeg_quality=self.jpeg_quality, max_frames=max_frames,
                allow_truncated=allow_truncated,
                flow_algorithm=self.flow_algorithm if needs_flow else _INGEST.flow_algorithm,
                flow_bound=self.flow_bound)
