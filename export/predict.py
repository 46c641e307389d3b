"""Scoring one video file with exported TSN SavedModels (one stream or a fusion).

The video is decoded and encoded by `client.read_encoded_video` (ingestion's
code, with the settings each model's export recorded: frame size or short
side, JPEG quality, flow algorithm and bound; `ReadOptions` may override them
and `preprocessing_notes` says where), then each model's signature runs on
its streams. Flow models of OpenCV flow get flow only for the frame pairs
their test protocol samples, the other positions a placeholder the graph
never decodes (`sampled_flow`; `ReadOptions.all_flow_pairs` computes every
pair: the same scores). Fusion
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
from tsn_tf.export import sampled_flow
from tsn_tf.export import saved_model
from tsn_tf.input.contract.preprocessing import (FLOW_MODALITIES, IMPORTED, Preprocessing,
                                                 flow_to_compute)
from tsn_tf.input.ingestion import flow as flow_lib
from tsn_tf.ops import serving

AUDIO = "audio"


@dataclasses.dataclass
class ServedModel:
    """A loaded SavedModel version and what its export recorded."""
    path: str
    modality: str
    labels: List[str]
    signatures: Dict[str, object]
    preprocessing: Optional[Preprocessing] = None  # None: the export recorded none
    snippets_per_second: float = saved_model.SNIPPETS_PER_SECOND
    view_settings: Optional[serving.ViewSettings] = None  # video models: the served protocol
    in_graph_flow: bool = False  # a flow model with the video_* signatures (flow from RGB)


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    """How tsn-predict reads a video; `flow_algorithm` and `resize` override the models'
    recorded preprocessing (None: use it)."""
    flow_algorithm: Optional[str] = None
    resize: Optional[str] = None           # resize_text form: "340x256", "short_side=S"
    max_frames: Optional[int] = None
    allow_truncated: bool = False
    flow_workers: int = 1
    progress: bool = False
    all_flow_pairs: bool = False  # compute every flow pair, not only the sampled ones


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
    recorded = info.get("preprocessing")
    modality = info["view_settings"]["modality"]
    view_settings = None if modality == AUDIO else serving.ViewSettings(**{
            key: tuple(value) if isinstance(value, list) else value
            for key, value in info["view_settings"].items()})
    return ServedModel(path=path, modality=modality,
                       labels=list(info["labels"]), signatures=dict(loaded.signatures),
                       preprocessing=Preprocessing.from_dict(recorded) if recorded else None,
                       snippets_per_second=info.get("snippets_per_second",
                                                    saved_model.SNIPPETS_PER_SECOND),
                       view_settings=view_settings,
                       in_graph_flow="signatures" in (info.get("in_graph_flow") or {}))


def used_preprocessing(model: ServedModel, options: ReadOptions) -> Preprocessing:
    """What reading a video for `model` applies: its record with the overrides."""
    return (model.preprocessing or Preprocessing()).overridden(
            flow_algorithm=options.flow_algorithm, resize=options.resize)


def preprocessing_notes(models: Sequence[ServedModel], options: ReadOptions) -> List[str]:
    """One line per model whose video reading differs from its training's (or is unknown)."""
    notes = []
    for model in models:
        if model.modality == AUDIO:
            continue
        used = used_preprocessing(model, options)
        if model.preprocessing is None:
            notes.append(f"{model.path} records no preprocessing (exported before it was "
                         f"recorded): reading with resize={used.resize!r}, flow_algorithm="
                         f"{used.flow_algorithm!r}; pass the ones its shards were ingested with")
            continue
        differences = model.preprocessing.differences(used, model.modality)
        if differences:
            notes.append(f"{model.path}: {', '.join(differences)} differs from training")
        elif model.modality in FLOW_MODALITIES and used.flow_algorithm.startswith(IMPORTED):
            notes.append(f"{model.path}: trained on imported flow ({used.flow_algorithm!r}); "
                         f"computing {flow_to_compute(used.flow_algorithm)!r} in its place")
        elif (model.modality in FLOW_MODALITIES and (current := flow_lib.parameters_since(
                used.flow_algorithm, used.flow_parameters)) is not None):
            notes.append(f"{model.path}: this OpenCV's {used.flow_algorithm} parameters "
                         f"{current} differ from training's {used.flow_parameters}")
    return notes


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


def uses_graph_flow(model: ServedModel, options: ReadOptions) -> bool:
    """Whether `model` gets the video's RGB JPEGs and computes its flow in the graph: a
    model exported with the video_* signatures, read as it was trained (no override)."""
    return model.in_graph_flow and used_preprocessing(model, options) == model.preprocessing


def _read_modality(model: ServedModel, options: ReadOptions) -> str:
    return "rgb" if uses_graph_flow(model, options) else model.modality


def flow_pairs_selector(models: Sequence[ServedModel], options: ReadOptions,
                        untrimmed: bool = False, interval: Optional[int] = None):
    """The flow frames `models` (one read's) score: a `sampled_flow.Selector` (trimmed
    protocol, `untrimmed` snippets, or snippet features every `interval` frames), or
    None (compute every pair) for `options.all_flow_pairs`, flow that is not OpenCV's or
    a flow model without recorded view settings."""
    flow_models = [m for m in models if _read_modality(m, options) in FLOW_MODALITIES]
    if options.all_flow_pairs or not flow_models or any(
            m.view_settings is None or flow_to_compute(used_preprocessing(m, options)
                                                       .flow_algorithm)
            not in sampled_flow.OPENCV_ALGORITHMS for m in flow_models):
        return None
    return sampled_flow.selector([m.view_settings for m in flow_models], untrimmed=untrimmed,
                                 snippets_per_second=[m.snippets_per_second
                                                      for m in flow_models],
                                 interval=interval)


def encode_for_models(video_path, models, options: ReadOptions, untrimmed: bool = False,
                      interval: Optional[int] = None):
    """Per model, (EncodedStreams, frame_rate) of the video read as its training read it.

    One decode per distinct flow reading; an RGB model joins a read of its frame
    settings and an audio model (which needs only the frame count) any read.
    Flow is computed only for the pairs the read's flow models sample (trimmed
    protocol, `untrimmed`, or snippets centred every `interval` frames), unless
    `options.all_flow_pairs`.
    """
    groups = {}  # encoding key -> (Preprocessing, model indices)
    reads = [_read_modality(model, options) for model in models]
    order = sorted(range(len(models)), key=lambda i: (
            reads[i] == AUDIO, reads[i] not in FLOW_MODALITIES))
    for index in order:
        model = models[index]
        used = used_preprocessing(model, options)
        key = () if model.modality == AUDIO else used.encoding_key(reads[index])
        if reads[index] not in FLOW_MODALITIES:  # flow keys extend the frame key
            key = next((k for k in groups if k[:len(key)] == key), key)
        groups.setdefault(key, (used, []))[1].append(index)
    encoded = [None] * len(models)
    for used, indices in groups.values():
        result = client.read_encoded_video(
                video_path, [reads[i] for i in indices], preprocessing=used,
                max_frames=options.max_frames, allow_truncated=options.allow_truncated,
                flow_workers=options.flow_workers, progress=options.progress,
                flow_pairs=flow_pairs_selector([models[i] for i in indices], options,
                                               untrimmed, interval))
        for index in indices:
            encoded[index] = result
    return encoded


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
                weights: Optional[Sequence[float]] = None,
                options: ReadOptions = ReadOptions()) -> VideoPrediction:
    """Weighted fusion of `models` on one video; audio models skipped without a track.

    Raises:
      ValueError: no model can score the video (only audio models, no track).
      VideoDecodeError: unreadable, or truncated unless `options.allow_truncated`.
    """
    _check_same_labels(models)
    weights = fusion_weights(models, weights)
    encoded = encode_for_models(video_path, models, options)
    log_mel = None
    if any(m.modality == AUDIO for m in models):
        streams, frame_rate = encoded[0]
        log_mel = client.read_log_mel(video_path, streams.num_frames / frame_rate)
    fused, notes = None, []
    for model, weight, (streams, _) in zip(models, weights, encoded):
        if model.modality == AUDIO and log_mel is None:
            notes.append(f"{video_path} has no audio track: audio model {model.path} skipped "
                         "(no evidence, not silence)")
            continue
        if model.modality == AUDIO:
            signature, inputs = saved_model.SERVING_DEFAULT, client.audio_inputs(log_mel)
        elif uses_graph_flow(model, options):
            signature, inputs = saved_model.VIDEO_JPEGS, client.jpeg_inputs(streams, "rgb")
        else:
            signature = saved_model.SERVING_DEFAULT
            inputs = client.jpeg_inputs(streams, model.modality)
        scores = weight * _call(model.signatures[signature], inputs)["scores"]
        fused = scores if fused is None else fused + scores
    if fused is None:
        raise ValueError(f"No model can score {video_path}: " + "; ".join(notes))
    return VideoPrediction(softmax(fused), fused, notes)


def snippet_scores(video_path: str, models: Sequence[ServedModel], *,
                   weights: Optional[Sequence[float]] = None,
                   options: ReadOptions = ReadOptions()):
    """Fused pre-softmax scores of one snippet per second: ((S, C), timestamps (S,)).

    Timestamps are the presentation times (seconds) of the snippets' first frames.
    """
    _check_same_labels(models)
    for model in models:
        if model.modality == AUDIO:
            raise ValueError(f"{model.path} is an audio model: audio has no untrimmed mode "
                             "(snippet_scores); leave it out of --untrimmed")
    encoded = encode_for_models(video_path, models, options, untrimmed=True)
    results = []
    for model, (streams, frame_rate) in zip(models, encoded):
        graph_flow = uses_graph_flow(model, options)
        signature = saved_model.VIDEO_SNIPPET_SCORES if graph_flow else saved_model.SNIPPET_SCORES
        inputs = client.jpeg_inputs(streams, "rgb" if graph_flow else model.modality)
        results.append(_call(model.signatures[signature],
                             {**inputs, "frame_rate": np.float32(frame_rate)}))
    count = min(len(r["scores"]) for r in results)  # flow has one frame fewer
    fused = sum(w * r["scores"][:count]
                for r, w in zip(results, fusion_weights(models, weights)))
    streams, frame_rate = encoded[0]
    # the signature's timestamps are offset / frame_rate: back to frame indices
    offsets = np.rint(results[0]["timestamps"][:count] * np.float64(frame_rate)).astype(int)
    return fused, np.asarray(streams.timestamps_us, np.float64)[offsets] / 1e6


def untrimmed_probabilities(scores, snippets_per_second=saved_model.SNIPPETS_PER_SECOND
                            ) -> np.ndarray:
    """M-TWI over snippet scores (S, C) taken at `snippets_per_second`: probabilities (C,)."""
    return temporal_integration.mtwi(tf.constant(scores, tf.float32),
                                     snippet_rate=snippets_per_second).numpy()


def top_k(probabilities, labels: Sequence[str], k: int = 5):
    """[(label, probability)] of the k most probable classes, best first."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [(labels[i], float(probabilities[i])) for i in order]
