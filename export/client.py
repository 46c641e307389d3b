"""Requests for a served TSN model: one video -> REST JSON or gRPC PredictRequest.

A video is decoded with OpenCV and encoded exactly as ingestion stored the
model's training videos (`tsn_tf.input.ingestion.encode.encode_frames` with the
model's recorded `Preprocessing`: frame size or short side, JPEG quality,
flow algorithm and bound), so a served model sees the same bytes as
training did. Inputs are a dict of NumPy arrays keyed by the
signature's input names (`serving.stream_names`): bytes arrays
(object dtype) for JPEG streams, uint8 arrays for `predict_frames`, float32
scalars for `frame_rate`. An audio model takes the video's log-mel frames
float32 (T, 64) (`read_log_mel`: PyAV decode and `log_mel.log_mel`, as
ingestion computes them) as ``log_mel``.

REST uses TF Serving's columnar ("inputs") format, bytes as ``{"b64": ...}``:

    POST http://host:8501/v1/models/<name>:predict
    {"signature_name": "serving_default", "inputs": {"frames": [{"b64": "..."}, ...]}}

gRPC: `predict_request(...)` sent with `grpc_predict("host:8500", request)`.
"""
import base64
import contextlib
import json
import os
import urllib.request
from typing import Dict, Optional, Sequence

import numpy as np
import tensorflow as tf

from tsn_tf.export import sampled_flow
from tsn_tf.ops import serving
from tsn_tf.input.contract import log_mel as log_mel_lib
from tsn_tf.input.ingestion import encode
from tsn_tf.input.ingestion import progress as progress_lib
from tsn_tf.input.contract import preprocessing as preprocessing_lib
from tsn_tf.input.ingestion import video as video_lib

DEFAULT_TIMEOUT_S = 60.0
PARALLEL_FLOW = ("tvl1",)  # flow algorithms whose pairs `flow_workers` processes share


def encoded_streams(frames_bgr, modalities: Sequence[str], *, flow_algorithm: str = "tvl1",
                    jpeg_quality: int = 90) -> encode.EncodedStreams:
    """JPEG streams of equally sized BGR frames, with ingestion's code and settings."""
    options = encode.options_for(preprocessing_lib.Preprocessing(
            flow_algorithm=flow_algorithm, jpeg_quality=jpeg_quality), modalities)
    return encode.encode_frames(frames_bgr, options)


def read_encoded_video(path, modalities: Sequence[str], *,
                       preprocessing: Optional[preprocessing_lib.Preprocessing] = None,
                       flow_algorithm: Optional[str] = None, max_frames: Optional[int] = None,
                       allow_truncated: bool = False, flow_workers: int = 1,
                       progress: bool = False,
                       flow_pairs: Optional[sampled_flow.Selector] = None):
    """Decodes and encodes `path` as the training shards were: (EncodedStreams, frame_rate).

    preprocessing: the model's (default: tsn-ingest's defaults); `flow_algorithm`
        replaces its algorithm.
    flow_workers: processes computing the TV-L1 flow of frame ranges (same bytes).
    progress: draw a bar of the flow pairs on stderr (`progress.pairs_bar`).
    flow_pairs: (number of flow frames, frame rate) -> the flow frames the model
        reads (`sampled_flow.selector`); only those pairs are computed, the other
        positions of the flow streams hold `sampled_flow.PLACEHOLDER_JPEG` (same
        scores, see sampled_flow). Ignored (every pair computed) for flow that is
        not OpenCV's (`sampled_flow.OPENCV_ALGORITHMS`). None: every pair.
    The streams' `timestamps_us` are the frames' presentation timestamps.
    Raises:
        VideoDecodeError: unreadable, or truncated unless `allow_truncated`.
    """
    preprocessing = (preprocessing or preprocessing_lib.Preprocessing()).overridden(
            flow_algorithm=flow_algorithm)
    options = encode.options_for(preprocessing, modalities, max_frames=max_frames,
                                 allow_truncated=allow_truncated)
    def open_reader():
        return video_lib.VideoReader(path, size=options.size, short_side=options.short_side,
                                     max_frames=max_frames)

    # DIS and Farneback take milliseconds a pair: less than starting the workers
    workers = flow_workers if options.flow_algorithm in PARALLEL_FLOW else 1
    reader = open_reader()  # an unreadable file fails here, before a bar is drawn
    name = os.path.basename(str(path))
    if flow_pairs is not None and options.has_flow and \
            options.flow_algorithm in sampled_flow.OPENCV_ALGORITHMS:
        bar = progress_lib.pairs_bar(None, name, delay=0.0) if progress \
            else contextlib.nullcontext()
        with bar as pairs:
            streams, _ = sampled_flow.encode_sampled(
                    open_reader, options, flow_pairs, bar=pairs, workers=workers,
                    allow_truncated=allow_truncated, reader=reader)
    else:
        bar = encode.flow_progress(reader, options, name, delay=0.0) if progress \
            else contextlib.nullcontext()
        with reader, bar as pairs:
            streams = encode.encode_frames(reader, options, progress=pairs, workers=workers)
        reader.check_truncated(allow_truncated)
    streams.timestamps_us = reader.timestamps_us()
    return streams, reader.frame_rate


def read_log_mel(path, video_duration_s: float) -> Optional[np.ndarray]:
    """Log-mel frames float32 (T, 64) of the file's audio track clipped to the video's
    duration (seconds), by ingestion's code (`encode.audio_fields`); None without a
    track (or one shorter than a 25 ms window)."""
    fields = encode.audio_fields(path, video_duration_s)
    return fields["audio_log_mel"] if fields["audio_present"] else None


def audio_inputs(log_mel: np.ndarray) -> Dict[str, np.ndarray]:
    """The `serving_default` inputs of an audio model."""
    log_mel = np.asarray(log_mel, np.float32)
    if log_mel.ndim != 2 or log_mel.shape[1] != log_mel_lib.MEL_BINS or not len(log_mel):
        raise ValueError(f"log_mel must be float32 (T, {log_mel_lib.MEL_BINS}) with T >= 1. "
                         f"Received shape {log_mel.shape}")
    return {"log_mel": log_mel}


def jpeg_inputs(streams: encode.EncodedStreams, modality: str) -> Dict[str, np.ndarray]:
    """The `serving_default` inputs of a model of `modality`."""
    if serving.stream_names(modality) == serving.FLOW_STREAMS:
        if modality == "warped_flow":
            values = (streams.warped_flow_x_jpegs, streams.warped_flow_y_jpegs)
        else:
            values = (streams.flow_x_jpegs, streams.flow_y_jpegs)
    else:
        values = (streams.rgb_jpegs,)
    inputs = {}
    for name, jpegs in zip(serving.stream_names(modality), values):
        if not jpegs:
            raise ValueError(f"No {name} frames for a {modality} model (a flow model needs "
                             "at least 2 video frames)")
        inputs[name] = np.array(jpegs, dtype=object)
    return inputs


# --- gRPC --------------------------------------------------------------------

def predict_request(inputs: Dict[str, np.ndarray], model_name: str, *,
                    signature_name: str = "serving_default", version: Optional[int] = None):
    """A `tensorflow_serving.apis.predict_pb2.PredictRequest` carrying `inputs`."""
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def request_inputs(request) -> Dict[str, np.ndarray]:
    """The input tensors of a PredictRequest as NumPy arrays."""
    return {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}


def response_outputs(response) -> Dict[str, np.ndarray]:
    """The output tensors of a PredictResponse as NumPy arrays."""
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def grpc_predict(target: str, request, timeout_s: float = DEFAULT_TIMEOUT_S):
    """Sends `request` to TF Serving's gRPC port (e.g. "localhost:8500")."""
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(target, options=[
            ("grpc.max_send_message_length", 256 << 20)]) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return stub.Predict(request, timeout_s)


# --- REST --------------------------------------------------------------------

def _to_json_value(value: np.ndarray):
    if value.dtype == object or value.dtype.kind == "S":
        flat = [{"b64": base64.b64encode(bytes(v)).decode("ascii")} for v in value.reshape(-1)]
        return np.array(flat, dtype=object).reshape(value.shape).tolist()
    return value.tolist()


def rest_body(inputs: Dict[str, np.ndarray], signature_name: str = "serving_default") -> str:
    """TF Serving REST predict body in the columnar "inputs" format."""
    return json.dumps({"signature_name": signature_name,
                       "inputs": {name: _to_json_value(np.asarray(value))
                                  for name, value in inputs.items()}})


def _from_json_value(value):
    if isinstance(value, dict):
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_from_json_value(v) for v in value]
    return value


def parse_rest_body(body: str, dtypes: Dict[str, tf.DType]) -> Dict[str, np.ndarray]:
    """Inverse of `rest_body`: tensors of the named inputs with the signature's dtypes."""
    values = json.loads(body)["inputs"]
    unknown = set(values) - set(dtypes)
    if unknown:
        raise ValueError(f"REST body has inputs {sorted(unknown)} not in {sorted(dtypes)}")
    return {name: np.array(_from_json_value(value),
                           dtype=object if dtypes[name] == tf.string
                           else dtypes[name].as_numpy_dtype)
            for name, value in values.items()}


def rest_predict(url: str, body: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """POSTs `body` to a REST predict URL (http://host:8501/v1/models/<name>:predict)."""
    request = urllib.request.Request(url, data=body.encode("utf-8"),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.loads(response.read())
