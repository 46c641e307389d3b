"""Scoring one video file with exported TSN SavedModels (one stream or a fusion).

The video is decoded and encoded by `client.read_encoded_video` (ingestion's
code and settings), then each model's signature runs on its streams. Fusion
adds the models' pre-softmax scores with weights (RGB 1, flow 1.5, warped
flow 0.5 by default, DESIGN.md §5) and applies softmax.

Audio models get the log-mel frames of the file's audio track, decoded and
computed by ingestion's code (`client.read_log_mel`), with a default weight
of 1 (RGB : flow : audio = 1 : 1.5 : 1, the weights of
experiments/synthetic_audio.py). A video without an audio track skips its
audio models with a note (no evidence, not silence: the same as the zero
scores tsn-eval writes for such videos, neutral in the weighted sum).
"""
import dataclasses
import os
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from tsn_tf import metrics, temporal_integration
from tsn_tf.export import client
from tsn_tf.export import saved_model

AUDIO = "audio"


@dataclasses.dataclass
class ServedModel:
    """A loaded SavedModel version and what its export recorded."""
    path: str
    modality: str
    labels: List[str]
    signatures: Dict[str, object]


def resolve_version(path: str) -> str:
    """`path` itself if it holds saved_model.pb, else its largest numeric version folder."""
    if tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = sorted(int(name.rstrip("/")) for name in tf.io.gfile.listdir(path)
                      if name.rstrip("/").isdigit()) if tf.io.gfile.isdir(path) else []
    if not versions:
        raise FileNotFoundError(f"{path!r} is neither a SavedModel folder nor a model folder "
                                "with numeric version subfolders")
    return os.path.join(path, str(versions[-1]))


def load_served_model(path: str) -> ServedModel:
    """Loads a tsn-export SavedModel (a version folder or the model folder above it)."""
    path = resolve_version(path)
    info = saved_model.read_export_info(path)
    loaded = tf.saved_model.load(path)
    return ServedModel(path=path, modality=info["view_settings"]["modality"],
                       labels=list(info["labels"]), signatures=dict(loaded.signatures))


def fusion_weights(models: Sequence[ServedModel], weights: Optional[Sequence[float]] = None):
    """Per-model weights: given, or the modality defaults."""
    if weights is None or len(weights) == 0:
        return metrics.default_fusion_weights([m.modality for m in models])
    if len(weights) != len(models):
        raise ValueError(f"{len(weights)} fusion weights for {len(models)} models. "
                         f"Received: {list(weights)}")
    return [float(w) for w in weights]


def _check_same_labels(models: Sequence[ServedModel]):
    for model in models[1:]:
        if model.labels != models[0].labels:
            raise ValueError(f"Cannot fuse {model.path} with {models[0].path}: their label maps "
                             "differ")


def _encode(video_path, models, flow_algorithm, max_frames):
    streams, frame_rate = client.read_encoded_video(
            video_path, [m.modality for m in models], flow_algorithm=flow_algorithm,
            max_frames=max_frames)
    return streams, frame_rate


def _call(signature, inputs):
    outputs = signature(**{name: tf.constant(value) for name, value in inputs.items()})
    return {name: value.numpy() for name, value in outputs.items()}


def softmax(scores):
    """Softmax over the last axis of a NumPy array."""
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


@dataclasses.dataclass
class VideoPrediction:
    """The fused prediction of one video."""
    probabilities: np.ndarray   # (C,) softmax of `scores`
    scores: np.ndarray          # (C,) weighted sum of the used models' pre-softmax scores
    notes: List[str]            # one per skipped model: which and why


def score_video(video_path: str, models: Sequence[ServedModel], *,
                weights: Optional[Sequence[float]] = None, flow_algorithm: str = "tvl1",
                max_frames: Optional[int] = None) -> VideoPrediction:
    """Weighted fusion of `models` on one video; audio models skipped without a track.

    Raises:
      ValueError: no model can score the video (only audio models, no track).
    """
    _check_same_labels(models)
    weights = fusion_weights(models, weights)
    streams, frame_rate = _encode(video_path, models, flow_algorithm, max_frames)
    log_mel = None
    if any(m.modality == AUDIO for m in models):
        log_mel = client.read_log_mel(video_path, streams.num_frames / frame_rate)
    fused, notes = None, []
    for model, weight in zip(models, weights):
        if model.modality == AUDIO and log_mel is None:
            notes.append(f"{video_path} has no audio track: audio model {model.path} skipped "
                         "(no evidence, not silence)")
            continue
        inputs = client.audio_inputs(log_mel) if model.modality == AUDIO \
            else client.jpeg_inputs(streams, model.modality)
        scores = weight * _call(model.signatures[saved_model.SERVING_DEFAULT], inputs)["scores"]
        fused = scores if fused is None else fused + scores
    if fused is None:
        raise ValueError(f"No model can score {video_path}: " + "; ".join(notes))
    return VideoPrediction(softmax(fused), fused, notes)


def snippet_scores(video_path: str, models: Sequence[ServedModel], *,
                   weights: Optional[Sequence[float]] = None, flow_algorithm: str = "tvl1",
                   max_frames: Optional[int] = None):
    """Fused pre-softmax scores of one snippet per second: ((S, C), timestamps (S,))."""
    _check_same_labels(models)
    for model in models:
        if model.modality == AUDIO:
            raise ValueError(f"{model.path} is an audio model: audio has no untrimmed mode "
                             "(snippet_scores); leave it out of --untrimmed")
    streams, frame_rate = _encode(video_path, models, flow_algorithm, max_frames)
    results = [_call(m.signatures[saved_model.SNIPPET_SCORES],
                     {**client.jpeg_inputs(streams, m.modality),
                      "frame_rate": np.float32(frame_rate)}) for m in models]
    count = min(len(r["scores"]) for r in results)  # flow has one frame fewer
    fused = sum(w * r["scores"][:count]
                for r, w in zip(results, fusion_weights(models, weights)))
    return fused, results[0]["timestamps"][:count]


def untrimmed_probabilities(scores) -> np.ndarray:
    """M-TWI over snippet scores (S, C) taken at 1 per second: probabilities (C,)."""
    return temporal_integration.mtwi(tf.constant(scores, tf.float32),
                                     snippet_rate=saved_model.SNIPPETS_PER_SECOND).numpy()


def top_k(probabilities, labels: Sequence[str], k: int = 5):
    """[(label, probability)] of the k most probable classes, best first."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [(labels[i], float(probabilities[i])) for i in order]
