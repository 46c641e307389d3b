"""What a training run leaves in `--model_dir`, and how to rebuild its model.

    model_dir/
      run_config.json     RunConfig: everything needed to rebuild the model
      label_map.txt       one class name per line, index = line number
      preprocessing.json  how the training frames were made (input/contract/preprocessing.py)
      ckpt/               tf.train.CheckpointManager (model, optimizer, step)
      train/, eval/       TensorBoard event files

Exporters and evaluators rebuild the model from `run_config.json` with
`build_tsn` and restore the latest checkpoint's weights; no pickled Python.
"""
import dataclasses
import json
import os

import tensorflow as tf


from tsn_tf.input.contract import log_mel
from tsn_tf.model import build_tsn, with_num_segments

RUN_CONFIG = "run_config.json"
LABEL_MAP = "label_map.txt"
CHECKPOINTS = "ckpt"


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The model-defining settings of a training run."""
    num_classes: int
    backbone: str
    modality: str
    num_segments: int
    consensus: str = "avg"
    topk: int = 3
    input_size: int = 224
    dropout: float | None = None
    rgb_mean: tuple = (0.0, 0.0, 0.0)
    rgb_std: tuple = (1.0, 1.0, 1.0)
    flow_mean: float = 128.0
    flow_std: float = 1.0
    audio_mean: float = log_mel.LOG_MEL_MEAN
    audio_std: float = log_mel.LOG_MEL_STD

    def save(self, model_dir):
        tf.io.gfile.makedirs(model_dir)
        with tf.io.gfile.GFile(os.path.join(model_dir, RUN_CONFIG), "w") as f:
            json.dump(dataclasses.asdict(self), f, indent=2)

    @classmethod
    def load(cls, model_dir):
        path = os.path.join(model_dir, RUN_CONFIG)
        if not tf.io.gfile.exists(path):
            raise FileNotFoundError(f"{path} not found: is {model_dir!r} a tsn-train --model_dir?")
        with tf.io.gfile.GFile(path) as f:
            values = json.load(f)
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v
                      for k, v in values.items() if k in known})

    def normalization(self):
        """(mean, std) of this stream's inputs on the 0..255 scale (audio: log-mel)."""
        if self.modality in ("flow", "warped_flow"):
            return self.flow_mean, self.flow_std
        if self.modality == "audio":
            return self.audio_mean, self.audio_std
        return self.rgb_mean, self.rgb_std

    def build_model(self, num_replicas=1, **init):
        """The training model (K = num_segments); `init` goes to `build_tsn`
        (weights, cross_modality_from, partial_bn)."""
        return build_tsn(self.num_classes, backbone=self.backbone, modality=self.modality,
                         num_segments=self.num_segments, consensus=self.consensus,
                         topk=self.topk, dropout=self.dropout, input_size=self.input_size,
                         num_replicas=num_replicas, **init)


def write_label_map(model_dir, class_names):
    with tf.io.gfile.GFile(os.path.join(model_dir, LABEL_MAP), "w") as f:
        f.write("".join(f"{name}\n" for name in class_names))


def read_class_names(path):
    """Class names of a label_map.txt (one per line, index = line), blank lines skipped."""
    with tf.io.gfile.GFile(path) as f:
        return [line.strip() for line in f if line.strip()]


def read_label_map(model_dir):
    """The run's class names, in index order."""
    return read_class_names(os.path.join(model_dir, LABEL_MAP))


def latest_checkpoint(model_dir) -> str:
    """Path of the run's latest checkpoint; FileNotFoundError when it has none."""
    path = tf.train.latest_checkpoint(os.path.join(model_dir, CHECKPOINTS))
    if path is None:
        raise FileNotFoundError(f"No checkpoint in {os.path.join(model_dir, CHECKPOINTS)}")
    return path


def restore_model(model_dir, num_segments=None, checkpoint=None):
    """Rebuilds the run's model and loads the latest (or given) checkpoint's weights.

    Returns the model over `num_segments` segments (default: the training K),
    sharing the restored weights.
    """
    config = RunConfig.load(model_dir)
    model = config.build_model()
    path = checkpoint or latest_checkpoint(model_dir)
    # The checkpoint also holds the optimizer: only the model must match completely.
    tf.train.Checkpoint(model=model).restore(path).expect_partial().assert_existing_objects_matched()
    if num_segments and num_segments != config.num_segments:
        model = with_num_segments(model, num_segments)
    return model
