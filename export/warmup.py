"""TF Serving warm-up file: real PredictRequests of a synthetic video, in a TFRecord.

TF Serving replays `assets.extra/tf_serving_warmup_requests` (PredictionLog
records) when it loads a version, so the first user request does not pay for
graph optimization. One record per signature, each a short synthetic video
encoded with ingestion's code (340x256 frames, JPEG quality 90); for audio
models a 1.5 s tone as a waveform and as ingestion's log-mel frames.
"""
import numpy as np
import tensorflow as tf

from tsn_tf.export import client
from tsn_tf.ops import serving
from tsn_tf.input.contract import log_mel as log_mel_lib
from tsn_tf.input.ingestion import encode, flow_pool
from tsn_tf.input.pipeline import modalities
from tsn_tf.synthetic import audio as synthetic_audio

WARMUP_FILE = "tf_serving_warmup_requests"
WARMUP_FRAMES = 6
WARMUP_FRAME_RATE = 2.0
WARMUP_AUDIO_S = 1.5


def synthetic_frames_bgr(num_frames: int = WARMUP_FRAMES, size=encode.TSN_SIZE):
    """uint8 (num_frames, H, W, 3) smooth frames of a bar moving right."""
    width, height = size
    ramp = np.linspace(40, 200, width, dtype=np.float32)
    frames = []
    for t in range(num_frames):
        frame = np.repeat(np.tile(ramp, (height, 1))[..., None], 3, axis=2)
        left = (t * 8) % (width - 40)
        frame[height // 4:3 * height // 4, left:left + 40] = (30, 160, 220)
        frames.append(frame.astype(np.uint8))
    return np.stack(frames)


def warmup_requests(model_name: str, modality: str, flow=None):
    """PredictRequests, one per signature, for a model of `modality` (with `flow`, a
    `serving_flow.InGraphFlow`: also its video_* signatures); snippet_features requests
    take the smallest valid interval, the frames one snippet reads."""
    if modality == "audio":
        return audio_warmup_requests(model_name)
    interval = modalities.get_stream(modality).default_items
    frames_bgr = synthetic_frames_bgr()
    streams = client.encoded_streams(list(frames_bgr), [modality], flow_algorithm="farneback")
    jpegs = client.jpeg_inputs(streams, modality)
    if serving.stream_names(modality) == serving.FLOW_STREAMS:
        x, y = (np.stack([tf.io.decode_jpeg(j, channels=1).numpy() for j in jpegs[name]])
                for name in serving.FLOW_STREAMS)
        frames = {"flow": np.concatenate([x, y], axis=-1)}
    else:
        frames = {"frames": frames_bgr[..., ::-1].copy()}
    rate = {"frame_rate": np.float32(WARMUP_FRAME_RATE)}
    features = {**jpegs, **rate, "interval": np.int32(interval)}
    requests = [client.predict_request(jpegs, model_name, signature_name="serving_default"),
                client.predict_request(frames, model_name, signature_name="predict_frames"),
                client.predict_request({**jpegs, **rate}, model_name,
                                       signature_name="snippet_scores"),
                client.predict_request(features, model_name, signature_name="snippet_features")]
    return requests + (_video_requests(model_name, flow, interval) if flow is not None else [])


def _video_requests(model_name: str, flow, interval: int):
    """Requests of the video_* signatures: RGB frames at the model's recorded size."""
    frames_bgr = synthetic_frames_bgr(size=flow.frame_size)
    jpegs = {"frames": np.array([flow_pool.jpeg(frame, flow.jpeg_quality)
                                 for frame in frames_bgr], dtype=object)}
    rgb = {"frames": frames_bgr[..., ::-1].copy()}
    rate = {"frame_rate": np.float32(WARMUP_FRAME_RATE)}
    return [client.predict_request(jpegs, model_name, signature_name="video_jpegs"),
            client.predict_request(rgb, model_name, signature_name="video_frames"),
            client.predict_request({**jpegs, **rate}, model_name,
                                   signature_name="video_snippet_scores"),
            client.predict_request({**jpegs, **rate, "interval": np.int32(interval)},
                                   model_name, signature_name="video_snippet_features")]


def audio_warmup_requests(model_name: str):
    """serving_default (log_mel) and predict_waveform requests of a 440 Hz tone."""
    waveform = synthetic_audio.tone(440.0, WARMUP_AUDIO_S, amplitude=0.3, noise_std=0.01,
                                    rng=np.random.default_rng(0))
    return [client.predict_request({"log_mel": log_mel_lib.log_mel(waveform)}, model_name,
                                   signature_name="serving_default"),
            client.predict_request({"waveform": waveform.astype(np.float32)}, model_name,
                                   signature_name="predict_waveform")]


def write_warmup_file(path: str, model_name: str, modality: str, flow=None):
    """Writes the PredictionLog TFRecord TF Serving reads at load time."""
    from tensorflow_serving.apis import prediction_log_pb2

    with tf.io.TFRecordWriter(path) as writer:
        for request in warmup_requests(model_name, modality, flow):
            log = prediction_log_pb2.PredictionLog(
                    predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


def read_warmup_file(path: str):
    """The PredictRequests stored in a warm-up file."""
    from tensorflow_serving.apis import prediction_log_pb2

    requests = []
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        requests.append(log.predict_log.request)
    return requests
