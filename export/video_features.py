"""Per-snippet TSN features of a video (BSN / BMN input) with exported SavedModels.

`video_snippet_features` reads a video file as each model's training read it
(`predict.encode_for_models`: ingestion's code, the export's recorded
preprocessing, OpenCV flow only for the pairs the snippets read) and calls
each model's ``snippet_features`` signature (``video_snippet_features`` for a
model computing its TF TV-L1 flow in the graph, fed the RGB JPEGs): snippets
centred on frames ``interval // 2 + t * interval`` of the model's stream (N
RGB frames; N - 1 flow frames), features and pre-softmax scores averaged over
the export's eval views.

`chunked_snippet_features` makes those calls on windows of the encoded
streams so that the decoded views of at most `snippets_per_call` snippets
exist at once, however long the video: snippets k0..k1-1 get the stream slice
``[k0 * interval, min(N, k1 * interval))`` (the last window ends at N), and
the result is that of one call on the whole stream (see `snippet_windows`).
"""
import dataclasses
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np
import tensorflow as tf

from tsn_tf.export import client
from tsn_tf.export import predict
from tsn_tf.export import saved_model
from tsn_tf.input.pipeline import sampling
from tsn_tf.ops import serving

# Decoded views of one call: snippets x views x S^2 x C·L float32 (RGB, 1 view, 224 px:
# 0.6 MB a snippet; flow, 10 views: 20 MB a snippet).
DEFAULT_SNIPPETS_PER_CALL = 32
OUTPUTS = ("features", "scores", "centres", "timestamps")


@dataclasses.dataclass
class SnippetFeatures:
    """One model's snippets of one video."""
    features: np.ndarray  # float32 (T, D): the backbone's pooled output, mean over views
    scores: np.ndarray    # float32 (T, C): pre-softmax, mean over views
    centres: np.ndarray   # int32 (T,): centre frames of the model's stream
    times: np.ndarray     # float64 (T,): seconds, the centre frames' presentation times
    num_frames: int       # the video's decoded RGB frames
    frame_rate: float     # its frames per second


def num_snippets(num_frames: int, interval: int) -> int:
    """T of a stream of `num_frames` frames: centres ``interval // 2 + t * interval`` < N."""
    _check_positive(interval, "interval")
    return sampling.interval_count(num_frames, interval)


def snippet_windows(num_frames: int, interval: int,
                    snippets_per_call: int) -> List[Tuple[int, int, int, int]]:
    """(k0, k1, start, stop) per call: snippets k0..k1-1 from stream frames [start, stop).

    start = k0 * interval; stop = k1 * interval, or N for the last window. Why one
    call per window gives the whole stream's snippets (items: the frames a snippet
    reads, <= interval, which the signature enforces): in a window the signature
    puts centres at r_t = interval // 2 + t * interval, the absolute centres minus
    start. Snippet t reads r_t - items // 2 .. r_t + ceil(items / 2) - 1; since
    items // 2 <= interval // 2 and ceil(items / 2) <= ceil(interval / 2) =
    interval - interval // 2, these lie in [t * interval, (t + 1) * interval): its
    own interval, inside the window. A window other than the last has stop = k1 *
    interval < N (snippet k1 exists: k1 * interval + interval // 2 < N), so it
    holds exactly k1 - k0 centres (r_{k1-k0} >= its length) and no frame is
    clipped; the last window ends at N, so its centres are those < N and its
    clipping at the last frame (`sampling.snippet_indices`) is the whole stream's.
    """
    _check_positive(snippets_per_call, "snippets_per_call")
    total = num_snippets(num_frames, interval)
    windows = []
    for k0 in range(0, total, snippets_per_call):
        k1 = min(total, k0 + snippets_per_call)
        windows.append((k0, k1, k0 * interval, num_frames if k1 == total else k1 * interval))
    return windows


def chunked_snippet_features(signature, streams: Mapping[str, np.ndarray], *,
                             frame_rate: float, interval: int,
                             snippets_per_call: int = DEFAULT_SNIPPETS_PER_CALL,
                             rgb_for_flow: bool = False) -> Dict[str, np.ndarray]:
    """A ``snippet_features`` signature's outputs on whole streams, called per window.

    Args:
      signature: a loaded ``snippet_features`` or ``video_snippet_features`` signature.
      streams: its encoded inputs, {name: object (N,) JPEG bytes} (`client.jpeg_inputs`).
      frame_rate: frames per second (sent as float32, as the signature takes it).
      interval: frames between snippet centres.
      snippets_per_call: snippets per signature call at most.
      rgb_for_flow: `streams` are the RGB frames of flow computed in the graph
        (``video_snippet_features``): snippets are on its N - 1 flow frames and
        flow frames [start, stop) need RGB frames [start, stop + 1).
    Returns:
      {"features": (T, D), "scores": (T, C), "centres": int32 (T,), "timestamps":
      float32 (T,) centre / frame_rate}, equal to one call on the whole streams.
    """
    streams = {name: np.asarray(value, dtype=object) for name, value in streams.items()}
    length = min(len(value) for value in streams.values())
    count = length - 1 if rgb_for_flow else length
    windows = snippet_windows(count, int(interval), snippets_per_call)
    if not windows:  # no snippet: the whole stream, for the signature's checks and shapes
        windows = [(0, 0, 0, count)]
    parts = []
    for _, _, start, stop in windows:
        stop += 1 if rgb_for_flow else 0
        inputs = {name: tf.constant(value[start:stop]) for name, value in streams.items()}
        outputs = signature(**inputs, frame_rate=tf.constant(frame_rate, tf.float32),
                            interval=tf.constant(interval, tf.int32))
        parts.append({name: outputs[name].numpy() for name in OUTPUTS})
        parts[-1]["centres"] = parts[-1]["centres"] + np.int32(start)
    result = {name: np.concatenate([part[name] for part in parts]) for name in OUTPUTS}
    # as the signature computes them: float32(centre) / float32(frame_rate)
    result["timestamps"] = result["centres"].astype(np.float32) / np.float32(frame_rate)
    return result


def video_snippet_features(video_path: str, models: Sequence[predict.ServedModel], *,
                           interval: int, options: predict.ReadOptions = predict.ReadOptions(),
                           snippets_per_call: int = DEFAULT_SNIPPETS_PER_CALL
                           ) -> List[SnippetFeatures]:
    """Per model, the snippet features of one video file.

    Args:
      video_path: a video file.
      models: loaded exports of video models (not audio).
      interval: frames between snippet centres, >= the frames a snippet of every
        model reads (1 RGB, 5 flow, L + 1 RGB diff).
      options: how the video is read (`predict.ReadOptions`); OpenCV flow is
        computed only for the pairs the snippets read unless `all_flow_pairs`.
      snippets_per_call: snippets per signature call at most (bounds the decoded
        views in memory).
    Returns:
      One `SnippetFeatures` per model; `times` are the presentation timestamps of
      the centre frames (a flow frame's: that of its pair's first frame).
    Raises:
      ValueError: an audio model, a bad interval or snippets_per_call.
      VideoDecodeError: unreadable, or truncated unless `options.allow_truncated`.
    """
    for model in models:
        if model.modality == predict.AUDIO:
            raise ValueError(f"{model.path} is an audio model: snippet features are for the "
                             "video streams (rgb, rgb_diff, flow, warped_flow)")
        serving.check_interval(interval, model.view_settings)
    _check_positive(snippets_per_call, "snippets_per_call")
    graph_flow = [predict.uses_graph_flow(model, options) for model in models]
    signatures = [_signature(model, saved_model.VIDEO_SNIPPET_FEATURES if graph
                             else saved_model.SNIPPET_FEATURES)
                  for model, graph in zip(models, graph_flow)]
    encoded = predict.encode_for_models(video_path, models, options, interval=int(interval))
    results = []
    for model, graph, signature, (streams, frame_rate) in zip(models, graph_flow, signatures,
                                                               encoded):
        outputs = chunked_snippet_features(
                signature, client.jpeg_inputs(streams, "rgb" if graph else model.modality),
                frame_rate=frame_rate, interval=int(interval),
                snippets_per_call=snippets_per_call, rgb_for_flow=graph)
        times = np.asarray(streams.timestamps_us, np.float64)[outputs["centres"]] / 1e6
        results.append(SnippetFeatures(outputs["features"], outputs["scores"],
                                       outputs["centres"], times, streams.num_frames,
                                       float(frame_rate)))
    return results


def output_dims(model: predict.ServedModel) -> Dict[str, int]:
    """Columns of the model's snippet features: {"features": D, "scores": C}."""
    outputs = _signature(model, saved_model.SNIPPET_FEATURES).structured_outputs
    return {name: int(outputs[name].shape[-1]) for name in ("features", "scores")}


def _signature(model: predict.ServedModel, name: str):
    if name not in model.signatures:
        raise ValueError(f"{model.path} has no {name} signature (exported before it "
                         "existed): export the run again")
    return model.signatures[name]


def _check_positive(value: int, name: str):
    if int(value) < 1:
        raise ValueError(f"{name} must be >= 1. Received: {value}")
