"""Filling tsn-tf models from a source `Checkpoint` and writing what tsn-tf reads.

Two outputs:
- `write_backbone`: an RGB backbone's `.weights.h5` (what `tsn-train
  --weights=` takes) and its normalization sidecar `<file>.json`
  (`tsn_tf.backbones.weights.normalization_path`), which tsn-train reads
  into the run's RunConfig.
- `write_model_dir`: a complete model directory (run_config.json with the
  source's normalization, label_map.txt, ckpt/) that tsn-eval, tsn-export
  and tsn-predict take as if tsn-train had written it.

Nothing is written unless every backbone weight (and, for a model directory,
the classifier) is filled; source keys left unused are reported.
"""
import dataclasses
import json
import os

import keras
import numpy as np
import tensorflow as tf

from tsn_tf import backbones
from tsn_tf.backbones.weights import normalization_path
from tsn_tf.convert.sources import BN_SUFFIXES, FLOW_ALGORITHMS, IGNORED_SUFFIXES
from tsn_tf.input.contract.preprocessing import FLOW_MODALITIES, Preprocessing
from tsn_tf.modalities import get_modality
from tsn_tf.trainers.model_dir import CHECKPOINTS, RUN_CONFIG, RunConfig, write_label_map

CONVERSION_RECORD = "conversion.json"


class ConversionError(ValueError):
    """The checkpoint does not fill the model."""


@dataclasses.dataclass
class Report:
    """What a conversion used and left out."""
    backbone: str
    modality: str
    unused: list        # source keys no weight took
    ignored: int        # BN update counters (num_batches_tracked), never needed
    skipped: list       # top-level parts of the file not read

    def lines(self):
        yield f"backbone {self.backbone}, modality {self.modality}"
        yield f"source keys not used ({len(self.unused)}): {', '.join(self.unused) or '-'}"
        if self.ignored:
            yield f"ignored {self.ignored} BN num_batches_tracked counters"
        for part in self.skipped:
            yield f"skipped {part}"


def _weight_keys(layer, prefix):
    """Source keys of `layer`'s weights, in Keras order, and how to convert each."""
    def vector(array):
        return array.reshape(-1)  # BN / bias; also tsn-pytorch's (1, C) BN tensors

    if isinstance(layer, keras.layers.Conv2D):
        kernel = [(f"{prefix}.weight", lambda a: a.transpose(2, 3, 1, 0))]
        return kernel + ([(f"{prefix}.bias", vector)] if layer.use_bias else [])
    if isinstance(layer, keras.layers.BatchNormalization):
        return [(f"{prefix}.{name}", vector) for name in BN_SUFFIXES]
    if isinstance(layer, keras.layers.Dense):
        return [(f"{prefix}.weight", lambda a: a.T), (f"{prefix}.bias", vector)]
    raise ConversionError(f"no source mapping for layer {layer.name} ({type(layer).__name__})")


def fill_layer(layer, prefix, state, used):
    """Assigns `state`'s arrays under `prefix` to `layer`; returns the weights left unfilled."""
    unfilled = []
    for variable, (key, convert) in zip(layer.weights, _weight_keys(layer, prefix)):
        if key not in state:
            unfilled.append(f"{variable.path} <- {key}")
            continue
        value = convert(np.asarray(state[key], np.float32))
        if tuple(value.shape) != tuple(variable.shape):
            raise ConversionError(f"{key}: shape {tuple(state[key].shape)} does not fit "
                                  f"{variable.path} {tuple(variable.shape)}")
        variable.assign(value)
        used.add(key)
    return unfilled


def fill_backbone(model, checkpoint, used):
    """Fills every weighted layer of `model`; raises ConversionError listing what is missing."""
    unfilled = []
    for layer in model.layers:
        if layer.weights:
            unfilled += fill_layer(layer, checkpoint.key_of(layer.name), checkpoint.state, used)
    if unfilled:
        raise ConversionError(
            f"{len(unfilled)} backbone weights have no source key (nothing written): "
            f"{'; '.join(unfilled)}")


def input_channels(checkpoint):
    """Input channels of the source's first conv (3 RGB, 2L flow)."""
    if checkpoint.first_conv not in checkpoint.state:
        raise ConversionError(f"first conv {checkpoint.first_conv} is not in the checkpoint: "
                              "is --from right?")
    return int(checkpoint.state[checkpoint.first_conv].shape[1])


def _modality(checkpoint, modality):
    channels = input_channels(checkpoint)
    if modality is None:
        modality = "rgb" if channels == 3 else "flow"
    if get_modality(modality).channels != channels:
        raise ConversionError(f"the checkpoint's first conv takes {channels} channels; "
                              f"--modality={modality} feeds {get_modality(modality).channels}")
    return modality


def _report(checkpoint, backbone, modality, used):
    ignored = [key for key in checkpoint.state if key.endswith(IGNORED_SUFFIXES)]
    unused = sorted(set(checkpoint.state) - used - set(ignored))
    return Report(backbone, modality, unused, len(ignored), list(checkpoint.skipped))


def _record(checkpoint, backbone):
    """Where the weights came from and the input normalization they need."""
    return {**checkpoint.origin, "backbone": backbone,
            **dataclasses.asdict(checkpoint.normalization)}


def write_backbone(checkpoint, output, *, backbone=None):
    """Writes the RGB backbone's `.weights.h5` at `output` and its normalization sidecar.

    Raises:
      ConversionError: a backbone weight is missing, a shape differs, or the
        checkpoint is not an RGB (3-channel) model.
    """
    output = os.fspath(output)
    if not output.endswith(".weights.h5"):
        raise ConversionError(f"--output must end in .weights.h5. Received: {output!r}")
    backbone = backbone or checkpoint.backbone
    channels = input_channels(checkpoint)
    if channels != 3:
        raise ConversionError(f"a backbone weights file holds RGB weights; this checkpoint's "
                              f"first conv takes {channels} channels: write a --model_dir")
    model = backbones.get_backbone(backbone, input_shape=(
        backbones.spec(backbone).input_size, backbones.spec(backbone).input_size, 3))
    used = set()
    fill_backbone(model, checkpoint, used)
    tf.io.gfile.makedirs(os.path.dirname(output) or ".")
    model.save_weights(output)
    with tf.io.gfile.GFile(normalization_path(output), "w") as f:
        json.dump(_record(checkpoint, backbone), f, indent=2)
    return _report(checkpoint, backbone, "rgb", used)


def write_model_dir(checkpoint, model_dir, class_names, *, modality=None,
                    num_segments=3, input_size=None, backbone=None):
    """Writes a complete model directory from a checkpoint with its classifier.

    Raises:
      ConversionError: a weight is missing, a shape differs, the class count
        differs from the classifier's, or `model_dir` already holds a run.
    """
    backbone = backbone or checkpoint.backbone
    modality = _modality(checkpoint, modality)
    if tf.io.gfile.exists(os.path.join(model_dir, RUN_CONFIG)):
        raise ConversionError(f"{model_dir} already holds a run ({RUN_CONFIG}); pick a new "
                              "--model_dir")
    classifier = _classifier_prefix(checkpoint)
    classes = int(checkpoint.state[f"{classifier}.weight"].shape[0])
    if len(class_names) != classes:
        raise ConversionError(f"--class_names lists {len(class_names)} classes; the "
                              f"classifier {classifier} has {classes}")
    norm = checkpoint.normalization
    config = RunConfig(num_classes=classes, backbone=backbone, modality=modality,
                       num_segments=num_segments,
                       input_size=input_size or backbones.spec(backbone).input_size,
                       rgb_mean=norm.rgb_mean, rgb_std=norm.rgb_std, flow_mean=norm.flow_mean,
                       flow_std=norm.flow_std)
    model = config.build_model()
    used = set()
    fill_backbone(model.get_layer("backbone").layer, checkpoint, used)
    fill_layer(model.get_layer("classifier").layer, classifier, checkpoint.state, used)
    config.save(model_dir)
    source = checkpoint.origin.get("from")
    if modality in FLOW_MODALITIES and source in FLOW_ALGORITHMS:
        # tsn-export carries it; tsn-predict then computes the family's flow
        Preprocessing(flow_algorithm=FLOW_ALGORITHMS[source]).save(model_dir)
    write_label_map(model_dir, class_names)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model),
                                         os.path.join(model_dir, CHECKPOINTS), max_to_keep=1)
    manager.save(checkpoint_number=0)
    report = _report(checkpoint, backbone, modality, used)
    with tf.io.gfile.GFile(os.path.join(model_dir, CONVERSION_RECORD), "w") as f:
        json.dump({**_record(checkpoint, backbone), "modality": modality,
                   "unused_source_keys": report.unused}, f, indent=2)
    return report


def _classifier_prefix(checkpoint):
    for prefix in checkpoint.classifier:
        if f"{prefix}.weight" in checkpoint.state and f"{prefix}.bias" in checkpoint.state:
            return prefix
    raise ConversionError(f"no classifier ({' / '.join(checkpoint.classifier)}.weight and "
                          ".bias) in the checkpoint: a complete model needs one; write a "
                          "backbone weights file with --output instead")
