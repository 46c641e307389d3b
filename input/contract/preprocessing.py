"""How a model's training frames were made: what prediction must reproduce.

Ingestion records it in every video's context (`schema.IMAGE_RESIZE`,
`IMAGE_JPEG_QUALITY`, `FLOW_ALGORITHM`, `FLOW_PARAMETERS`, `FLOW_BOUND`);
tsn-train copies it from its first training video into
``<model_dir>/preprocessing.json``; tsn-export puts it into the SavedModel's
``assets.extra/tsn_export.json``; tsn-predict decodes, resizes and computes
flow the same way (`ingestion.encode.options_for`) and says where a flag
overrides it. Imports no TensorFlow at module level (flow workers import the
defaults).
"""
import dataclasses
import json
import os
from typing import List, Optional, Tuple

FILE_NAME = "preprocessing.json"
FLOW_MODALITIES = ("flow", "warped_flow")

# tsn-ingest's defaults
DEFAULT_SIZE = (340, 256)          # (width, height): TSN's frames
DEFAULT_JPEG_QUALITY = 90
DEFAULT_FLOW_ALGORITHM = "tvl1"
DEFAULT_FLOW_BOUND = 20.0          # px: flow is clipped to [-bound, bound] before quantization


def resize_text(size: Optional[Tuple[int, int]] = None, short_side: Optional[int] = None) -> str:
    """The sizing rule as recorded in shards: "340x256", "short_side=256" or "source"."""
    if size is not None and short_side is not None:
        raise ValueError(f"pass either size or short_side, not both; received "
                         f"size={size}, short_side={short_side}")
    if size is not None:
        return f"{int(size[0])}x{int(size[1])}"
    return f"short_side={int(short_side)}" if short_side is not None else "source"


def parse_resize(text: str) -> Tuple[Optional[Tuple[int, int]], Optional[int]]:
    """Inverse of `resize_text`: (size, short_side)."""
    try:
        if text == "source":
            return None, None
        if text.startswith("short_side="):
            return None, int(text[len("short_side="):])
        width, height = text.split("x")
        return (int(width), int(height)), None
    except ValueError:
        raise ValueError(f"resize must be WIDTHxHEIGHT, short_side=S or source; "
                         f"received {text!r}") from None


IMPORTED = "imported:"  # flow read from extracted frames: "imported:<algorithm it names>"


def flow_to_compute(algorithm: str) -> str:
    """The flow algorithm that reproduces `algorithm` here: itself, or for imported flow
    (``imported:tvl1_tsn``) the algorithm its name gives."""
    return algorithm[len(IMPORTED):] if algorithm.startswith(IMPORTED) else algorithm


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """The ingestion settings a model depends on (defaults: tsn-ingest's)."""
    resize: str = resize_text(DEFAULT_SIZE)  # "340x256", "short_side=S" or "source"
    jpeg_quality: int = DEFAULT_JPEG_QUALITY
    flow_algorithm: str = DEFAULT_FLOW_ALGORITHM   # "" when the shards hold no flow
    flow_bound: float = DEFAULT_FLOW_BOUND
    flow_parameters: Optional[dict] = None  # `FlowEstimator.parameters()` at ingestion

    def __post_init__(self):
        parse_resize(self.resize)

    @classmethod
    def from_record(cls, record) -> "Preprocessing":
        """From a shard record (`schema.VideoRecord`); a record of older shards
        without `resize` gets its stored frame size (what tsn-ingest's --frame_size did)."""
        return cls(resize=record.resize or f"{record.width}x{record.height}",
                   jpeg_quality=record.jpeg_quality if record.jpeg_quality >= 0
                   else DEFAULT_JPEG_QUALITY,
                   flow_algorithm=record.flow_algorithm,
                   flow_bound=record.flow_bound or DEFAULT_FLOW_BOUND,
                   flow_parameters=json.loads(record.flow_parameters)
                   if record.flow_parameters else None)

    @classmethod
    def from_shard(cls, path: str) -> "Preprocessing":
        """From the first video of the TFRecord shard `path`."""
        from tsn_tf.input.contract import layout, schema

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
        import tensorflow as tf

        with tf.io.gfile.GFile(os.path.join(folder, FILE_NAME), "w") as f:
            json.dump(self.to_dict(), f, indent=2)

    @classmethod
    def load(cls, folder: str) -> Optional["Preprocessing"]:
        """The `preprocessing.json` of a run folder; None if the run recorded none."""
        import tensorflow as tf

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

    def encoding_key(self, modality: str) -> Tuple:
        """Settings that change `modality`'s encoded streams (models sharing it share them)."""
        flow = (self.flow_algorithm, self.flow_bound) if modality in FLOW_MODALITIES else ()
        return (self.resize, self.jpeg_quality, *flow)
