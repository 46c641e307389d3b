"""A trained TSN run -> SavedModel in TF Serving's layout, preprocessing in the graph.

    <export_base>/<model_name>/<version>/
      saved_model.pb, variables/
      assets/label_map.txt                       class names, index = line
      assets.extra/tf_serving_warmup_requests    PredictionLogs (TFRecord)
      assets.extra/tsn_export.json               modality, view settings, labels, the
                                                 run's preprocessing (how its frames were
                                                 made, contract/preprocessing.py), snippet rate

One video per request; outputs are unbatched. Signatures (method
``tensorflow/serving/predict``):

- ``serving_default``: encoded JPEG frames of one video: ``frames`` string
  (N,) for RGB models; ``flow_x``, ``flow_y`` string (N-1,) grayscale JPEGs
  for flow models. Test-time sampling of K segments (25), eval views (centre
  or 10 crops), normalization, the K-segment model and its consensus, mean
  over views.
- ``predict_frames``: the same from decoded uint8 frames: ``frames`` (N, H, W, 3)
  RGB, or ``flow`` (N, H, W, 2) quantized flow with x in channel 0, y in 1.
- ``snippet_scores``: untrimmed videos: the encoded streams and
  ``frame_rate`` (float32 scalar, frames per second): one snippet every
  second, scored without consensus, max over views (M-TWI input).
- ``snippet_features``: per-snippet features (BSN / BMN input): the encoded
  streams, ``frame_rate`` and ``interval`` (int32 scalar): snippets centred
  on frames ``interval // 2 + t * interval`` of the stream (mmaction2's
  UntrimmedSampleFrames; flow: of its N - 1 frames), the eval views, no
  consensus. Features and scores are the MEAN over views (``snippet_scores``
  takes the max). ``interval`` below the frames a snippet reads (or <= 0) is
  InvalidArgument; a stream of at most ``interval // 2`` frames gives T = 0.

A flow model whose shards hold TF TV-L1 flow at a fixed frame size
(``--flow=tvl1_*``; `serving_flow.InGraphFlow`) also serves from the RGB
frames of the video, computing the flow of the sampled pairs in the graph:

- ``video_jpegs``: ``frames`` string (N,) RGB JPEGs at the recorded size;
- ``video_frames``: ``frames`` uint8 (N, H, W, 3) RGB, JPEG-encoded in the
  graph at the ingestion's quality first (the shards' flow was made so);
- ``video_snippet_scores``: ``frames`` JPEGs and ``frame_rate``, as
  ``snippet_scores``;
- ``video_snippet_features``: ``frames`` JPEGs, ``frame_rate`` and
  ``interval``, as ``snippet_features`` (snippets of the N - 1 flow frames).

Outputs of the first two: ``scores`` float32 (C,) pre-softmax, ``probabilities``
(C,), ``top_k_indices`` int32 (k,), ``top_k_probabilities`` (k,),
``top_k_labels`` string (k,). Of ``snippet_scores``: ``scores`` (S, C) and
``timestamps`` (S,) seconds. Of ``snippet_features``: ``features`` float32
(T, D) the backbone's pooled output, ``scores`` (T, C) pre-softmax,
``timestamps`` (T,) = centre / frame_rate and ``centres`` int32 (T,).

Audio models (`AudioServing`, one view, no untrimmed mode) have instead:

- ``serving_default``: ``log_mel`` float32 (T, 64), the log-mel frames of one
  video at 100 per second as ingestion computes them (`contract/log_mel.py`
  `log_mel`): K (25) patches of 96 frames at the segment centres,
  normalization by the run's audio_mean/audio_std, the K-segment model.
- ``predict_waveform``: ``waveform`` float32 (N,), the mono 16 kHz track
  in [-1, 1]; log-mel frames computed in the graph (tf.signal, equal to
  `log_mel` within 1e-4), then as ``serving_default``.

Both have the outputs of the first two signatures above.
"""
import json
import os
import uuid

import numpy as np
import tensorflow as tf

from tsn_tf import modalities as tsn_modalities
from tsn_tf import model as tsn_model
from tsn_tf.ops import serving_audio
from tsn_tf.ops import serving
from tsn_tf.ops import serving_flow
from tsn_tf.export import warmup
from tsn_tf.input.contract.preprocessing import Preprocessing
from tsn_tf.trainers import model_dir as model_dir_lib

SERVING_DEFAULT = "serving_default"
PREDICT_FRAMES = "predict_frames"
SNIPPET_SCORES = "snippet_scores"
PREDICT_WAVEFORM = "predict_waveform"
VIDEO_JPEGS = "video_jpegs"
VIDEO_FRAMES = "video_frames"
VIDEO_SNIPPET_SCORES = "video_snippet_scores"
SNIPPET_FEATURES = "snippet_features"
VIDEO_SNIPPET_FEATURES = "video_snippet_features"
VIDEO_SIGNATURES = (VIDEO_JPEGS, VIDEO_FRAMES, VIDEO_SNIPPET_SCORES,
                    VIDEO_SNIPPET_FEATURES)
EXPORT_INFO = "tsn_export.json"
ASSETS_EXTRA = "assets.extra"
SNIPPETS_PER_SECOND = 1.0
RATE_SPEC = tf.TensorSpec([], tf.float32, name="frame_rate")
INTERVAL_SPEC = tf.TensorSpec([], tf.int32, name="interval")


class TSNServing:
    """The serving functions of one TSN stream and the `root` object to save.

    `root` tracks the label table, its asset and the tf.Variables the traced
    functions read, but not the Keras model: saving Keras 3 variables through
    the model leaves TF1-style loaders (TF Serving, `saved_model_cli run`)
    unable to find them (keras-team/keras#20095, tensorflow#72963); Keras's
    own ExportArchive tracks the functions' variables the same way.
    """

    def __init__(self, model, settings: serving.ViewSettings, label_map_path: str,
                 top_k: int = 5, flow: serving_flow.InGraphFlow = None):
        self.model = model
        self.flow = flow  # set: also the video_* signatures (flow from RGB frames)
        self.snippet_model = tsn_model.snippet_model(model, features=True)
        self.settings = settings
        self.root = tf.Module(name="tsn_serving")
        self.root.label_asset = tf.saved_model.Asset(label_map_path)
        self.labels = self.root.labels = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
                self.root.label_asset, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
                tf.string, tf.lookup.TextFileIndex.WHOLE_LINE), default_value="")
        self.top_k = min(top_k, model.output_shape[-1])

    def _video_outputs(self, clips):
        """(views, K, S, S, C·L) -> outputs of one video (see the module doc)."""
        scores = tf.reduce_mean(self.model(clips, training=False), axis=0)
        probabilities = tf.nn.softmax(scores)
        top = tf.math.top_k(probabilities, k=self.top_k)
        return {"scores": scores, "probabilities": probabilities,
                "top_k_indices": top.indices, "top_k_probabilities": top.values,
                "top_k_labels": self.labels.lookup(tf.cast(top.indices, tf.int64))}

    def _checked_jpegs(self, inputs):
        names = serving.stream_names(self.settings.modality)
        return [serving.check_jpegs(inputs[name], name) for name in names]

    def predict_jpegs(self, inputs):
        streams = self._checked_jpegs(inputs)
        count = tf.reduce_min(tf.stack([tf.size(s) for s in streams]))
        offsets = serving.test_offsets(count, self.settings)
        return self._video_outputs(serving.clips_from_jpegs(streams, offsets, self.settings))

    def predict_frames(self, frames):
        name = "flow" if self.settings.stream.jpeg_channels == 1 else "frames"
        frames = serving.check_frames(frames, name, 2 if name == "flow" else 3)
        offsets = serving.test_offsets(tf.shape(frames)[0], self.settings)
        return self._video_outputs(serving.clips_from_frames(frames, offsets, self.settings))

    def snippet_scores(self, inputs, frame_rate):
        streams = self._checked_jpegs(inputs)
        count = tf.reduce_min(tf.stack([tf.size(s) for s in streams]))
        offsets, frame_rate = _snippet_offsets(count, frame_rate)
        return self._snippet_outputs(serving.clips_from_jpegs(streams, offsets, self.settings),
                                     offsets, frame_rate)

    def _snippet_outputs(self, clips, offsets, frame_rate):
        scores = tf.reduce_max(self.snippet_model(clips, training=False)["scores"], axis=0)
        return {"scores": scores, "timestamps": tf.cast(offsets, tf.float32) / frame_rate}

    def snippet_features(self, inputs, frame_rate, interval):
        streams = self._checked_jpegs(inputs)
        count = tf.reduce_min(tf.stack([tf.size(s) for s in streams]))
        return self._feature_outputs(
                lambda offsets: serving.clips_from_jpegs(streams, offsets, self.settings),
                count, frame_rate, interval)

    def video_snippet_features(self, jpegs, frame_rate, interval):
        jpegs = serving_flow.check_video_jpegs(jpegs, self.flow)
        return self._feature_outputs(
                lambda offsets: serving_flow.clips_from_rgb(jpegs, offsets, self.settings,
                                                            self.flow),
                tf.size(jpegs) - 1, frame_rate, interval)

    def _feature_outputs(self, clips_of, num_frames, frame_rate, interval):
        """Outputs of `snippet_features` for a stream of `num_frames` frames; `clips_of`:
        start frames (T,) -> eval views (views, T, S, S, C·L), called only when T > 0."""
        frame_rate = _checked_frame_rate(frame_rate)
        interval = _checked_interval(interval, self.settings)
        centres, offsets = serving.interval_snippets(num_frames, interval, self.settings)
        outputs = self.snippet_model.output

        def scored():
            result = self.snippet_model(clips_of(offsets), training=False)
            return [tf.reduce_mean(result[key], axis=0) for key in ("features", "scores")]

        def empty():  # a stream shorter than one snippet: nothing to decode
            return [tf.zeros([0, outputs[key].shape[-1]]) for key in ("features", "scores")]

        features, scores = tf.cond(tf.size(centres) > 0, scored, empty)
        return {"features": features, "scores": scores, "centres": centres,
                "timestamps": tf.cast(centres, tf.float32) / frame_rate}

    def predict_video_jpegs(self, jpegs):
        return self._video_flow_outputs(serving_flow.check_video_jpegs(jpegs, self.flow))

    def predict_video_frames(self, frames):
        frames = serving_flow.check_frame_size(frames, self.flow)
        return self._video_flow_outputs(serving_flow.encode_frames(frames, self.flow))

    def _video_flow_outputs(self, jpegs):
        """Outputs of checked RGB JPEGs: the flow of the test protocol's pairs, scored."""
        offsets = serving.test_offsets(tf.size(jpegs) - 1, self.settings)
        return self._video_outputs(serving_flow.clips_from_rgb(jpegs, offsets, self.settings,
                                                               self.flow))

    def video_snippet_scores(self, jpegs, frame_rate):
        jpegs = serving_flow.check_video_jpegs(jpegs, self.flow)
        offsets, frame_rate = _snippet_offsets(tf.size(jpegs) - 1, frame_rate)
        clips = serving_flow.clips_from_rgb(jpegs, offsets, self.settings, self.flow)
        return self._snippet_outputs(clips, offsets, frame_rate)

    def signatures(self):
        """Concrete functions keyed by signature name."""
        names = serving.stream_names(self.settings.modality)
        string_specs = {name: tf.TensorSpec([None], tf.string, name=name) for name in names}
        if names == serving.FLOW_STREAMS:
            frames_spec = tf.TensorSpec([None, None, None, 2], tf.uint8, name="flow")
        else:
            frames_spec = tf.TensorSpec([None, None, None, 3], tf.uint8, name="frames")

        @tf.function(input_signature=list(string_specs.values()))
        def serve_jpegs(*streams):
            return self.predict_jpegs(dict(zip(names, streams)))

        @tf.function(input_signature=[frames_spec])
        def serve_frames(frames):
            return self.predict_frames(frames)

        @tf.function(input_signature=[*string_specs.values(), RATE_SPEC])
        def serve_snippets(*args):
            return self.snippet_scores(dict(zip(names, args[:-1])), args[-1])

        @tf.function(input_signature=[*string_specs.values(), RATE_SPEC, INTERVAL_SPEC])
        def serve_features(*args):
            return self.snippet_features(dict(zip(names, args[:-2])), args[-2], args[-1])

        functions = {SERVING_DEFAULT: serve_jpegs.get_concrete_function(),
                     PREDICT_FRAMES: serve_frames.get_concrete_function(),
                     SNIPPET_SCORES: serve_snippets.get_concrete_function(),
                     SNIPPET_FEATURES: serve_features.get_concrete_function()}
        if self.flow is not None:
            functions.update(self._video_signatures())
        return self._tracked(functions)

    def _video_signatures(self):
        """The video_* signatures: flow from the RGB frames in the graph."""
        jpegs_spec = tf.TensorSpec([None], tf.string, name="frames")
        width, height = self.flow.frame_size
        frames_spec = tf.TensorSpec([None, height, width, 3], tf.uint8, name="frames")
        return {VIDEO_JPEGS: tf.function(self.predict_video_jpegs, input_signature=[
                    jpegs_spec]).get_concrete_function(),
                VIDEO_FRAMES: tf.function(self.predict_video_frames, input_signature=[
                    frames_spec]).get_concrete_function(),
                VIDEO_SNIPPET_SCORES: tf.function(self.video_snippet_scores, input_signature=[
                    jpegs_spec, RATE_SPEC]).get_concrete_function(),
                VIDEO_SNIPPET_FEATURES: tf.function(self.video_snippet_features, input_signature=[
                    jpegs_spec, RATE_SPEC, INTERVAL_SPEC]).get_concrete_function()}

    def _tracked(self, functions):
        """`functions`, after putting the variables they read on `root`."""
        used = {id(v): v for f in functions.values() for v in f.variables}
        self.root.model_variables = list(used.values())
        return functions


class AudioServing(TSNServing):
    """The serving functions of an audio stream (`settings`: `serving_audio.AudioSettings`)."""

    def predict_log_mel(self, log_mel):
        log_mel = serving_audio.check_log_mel(log_mel, self.settings.mel_bins)
        return self._video_outputs(serving_audio.eval_clip(log_mel, self.settings))

    def predict_waveform(self, waveform):
        waveform = serving_audio.check_waveform(waveform)
        log_mel = serving_audio.tf_log_mel(waveform)
        return self._video_outputs(serving_audio.eval_clip(log_mel, self.settings))

    def signatures(self):
        """Concrete functions keyed by signature name."""
        log_mel_spec = tf.TensorSpec([None, self.settings.mel_bins], tf.float32,
                                     name=serving_audio.LOG_MEL)
        waveform_spec = tf.TensorSpec([None], tf.float32, name=serving_audio.WAVEFORM)

        @tf.function(input_signature=[log_mel_spec])
        def serve_log_mel(log_mel):
            return self.predict_log_mel(log_mel)

        @tf.function(input_signature=[waveform_spec])
        def serve_waveform(waveform):
            return self.predict_waveform(waveform)

        return self._tracked({SERVING_DEFAULT: serve_log_mel.get_concrete_function(),
                              PREDICT_WAVEFORM: serve_waveform.get_concrete_function()})


def _snippet_offsets(num_frames, frame_rate):
    """Snippet start frames at `SNIPPETS_PER_SECOND` and the checked scalar frame rate."""
    frame_rate = _checked_frame_rate(frame_rate)
    return serving.snippet_offsets(num_frames, frame_rate, SNIPPETS_PER_SECOND), frame_rate


def _checked_frame_rate(frame_rate):
    frame_rate = tf.ensure_shape(frame_rate, [], name="check_rank_frame_rate")
    check = tf.debugging.assert_positive(
            frame_rate, message="frame_rate: must be > 0 frames per second")
    with tf.control_dependencies([check]):
        return tf.identity(frame_rate)


def _checked_interval(interval, settings: serving.ViewSettings):
    """The scalar `interval`, InvalidArgument unless >= the frames a snippet reads."""
    items = serving.snippet_items(settings)
    interval = tf.ensure_shape(interval, [], name="check_rank_interval")
    check = tf.debugging.Assert(interval >= items, [tf.strings.format(
            f"interval: must be >= {items}, the frames a {settings.modality} snippet reads, "
            "got {}", interval)])
    with tf.control_dependencies([check]):
        return tf.identity(interval)


def next_version(model_base: str) -> int:
    """1 + the largest numeric version under `model_base` (1 when none)."""
    if not tf.io.gfile.isdir(model_base):
        return 1
    versions = [int(name.rstrip("/")) for name in tf.io.gfile.listdir(model_base)
                if name.rstrip("/").isdigit()]
    return max(versions, default=0) + 1


def export_saved_model(model_dir: str, export_base: str, model_name: str, *,
                       version: int = None, checkpoint: str = None, num_segments: int = 25,
                       eval_crops: int = 1, top_k: int = 5, warmup_requests: bool = True) -> str:
    """Exports a tsn-train run to `<export_base>/<model_name>/<version>/`.

    Args:
      model_dir: the run folder (run_config.json, label_map.txt, ckpt/).
      export_base: root of the model repository TF Serving watches.
      model_name: the served model's name.
      version: positive integer; default: next after the largest existing one.
        An existing version is never overwritten (FileExistsError).
      checkpoint: a checkpoint path; default the latest in model_dir/ckpt.
      num_segments: K at test time (paper: 25).
      eval_crops: views per segment: 1 (centre), 3 or 10 (audio: always 1).
      top_k: labels returned per video.
      warmup_requests: write assets.extra/tf_serving_warmup_requests.
    Returns:
      The version folder written.
    """
    model_base = os.path.join(export_base, model_name)
    version = next_version(model_base) if version is None else int(version)
    if version < 1:
        raise ValueError(f"version must be a positive integer. Received: {version}")
    target = os.path.join(model_base, str(version))
    if tf.io.gfile.exists(target):
        raise FileExistsError(f"Export version {target} already exists; pick another "
                              "--version or leave it unset for the next one")
    config = model_dir_lib.RunConfig.load(model_dir)
    labels = model_dir_lib.read_label_map(model_dir)
    if len(labels) != config.num_classes:
        raise ValueError(f"{os.path.join(model_dir, model_dir_lib.LABEL_MAP)} has {len(labels)} "
                         f"names but the run has num_classes={config.num_classes}")
    settings = _settings(config, num_segments, eval_crops)
    if checkpoint and not tf.io.gfile.exists(checkpoint + ".index"):
        raise FileNotFoundError(f"Checkpoint {checkpoint!r} not found (expected "
                                f"{checkpoint}.index, e.g. {model_dir}/ckpt/ckpt-1000)")
    model = model_dir_lib.restore_model(model_dir, num_segments, checkpoint)

    # Written to a hidden staging folder (TF Serving only loads numeric ones),
    # then renamed: a version folder appears complete or not at all.
    staging = os.path.join(model_base, f".staging-{version}-{uuid.uuid4().hex[:8]}")
    tf.io.gfile.makedirs(staging)
    recorded = Preprocessing.load(model_dir)
    flow, no_flow = serving_flow.InGraphFlow.of(recorded) if config.modality == "flow" \
        else (None, f"a {config.modality} model")
    try:
        label_map = os.path.join(model_dir, model_dir_lib.LABEL_MAP)
        if config.modality == serving_audio.MODALITY:
            module = AudioServing(model, settings, label_map, top_k)
        else:
            module = TSNServing(model, settings, label_map, top_k, flow=flow)
        signatures = module.signatures()  # traces, then tracks the variables on module.root
        tf.saved_model.save(module.root, staging, signatures=signatures)
        info = {"model_name": model_name, "version": version, "top_k": module.top_k,
                "labels": labels, "view_settings": vars(settings), "run_config": vars(config),
                "preprocessing": recorded.to_dict() if recorded else None,
                "snippets_per_second": SNIPPETS_PER_SECOND,
                "in_graph_flow": {**flow.to_dict(), "signatures": list(VIDEO_SIGNATURES)}
                if flow else {"unavailable": no_flow}}
        _write_extra_assets(staging, info, model_name, config.modality,
                            warmup_requests, flow)
        tf.io.gfile.rename(staging, target, overwrite=False)
    finally:
        if tf.io.gfile.exists(staging):
            tf.io.gfile.rmtree(staging)
    return target


def _settings(config, num_segments, eval_crops):
    """`ViewSettings` of a video stream, `AudioSettings` of the audio stream."""
    mean, std = config.normalization()
    if config.modality == serving_audio.MODALITY:
        patch_frames, mel_bins = tsn_modalities.get_modality(config.modality).item_shape
        return serving_audio.AudioSettings(mean=float(mean), std=float(std),
                                              num_segments=num_segments,
                                              patch_frames=patch_frames, mel_bins=mel_bins)
    return serving.ViewSettings(
            modality=config.modality, input_size=config.input_size,
            mean=tuple(np.ravel(mean).tolist()), std=tuple(np.ravel(std).tolist()),
            num_segments=num_segments, eval_crops=eval_crops)


def _write_extra_assets(folder, info, model_name, modality, warmup_requests, flow=None):
    """assets.extra/: tsn_export.json and (optionally) the TF Serving warm-up file."""
    extra = os.path.join(folder, ASSETS_EXTRA)
    tf.io.gfile.makedirs(extra)
    with tf.io.gfile.GFile(os.path.join(extra, EXPORT_INFO), "w") as f:
        json.dump(info, f, indent=2)
    if warmup_requests:
        warmup.write_warmup_file(os.path.join(extra, warmup.WARMUP_FILE), model_name, modality,
                                 flow)


def read_export_info(saved_model_dir: str) -> dict:
    """The `tsn_export.json` of an exported version folder."""
    path = os.path.join(saved_model_dir, ASSETS_EXTRA, EXPORT_INFO)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path} not found: is {saved_model_dir!r} a tsn-export "
                                "version folder (<base>/<name>/<version>)?")
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)
