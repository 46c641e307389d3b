"""Snippet features served (issue 24): the snippet_features signatures, chunked calls, and
features of raw video files with OpenCV flow only for the pairs the snippets read.

References are written here: mmaction2's UntrimmedSampleFrames centres
(``np.arange(interval // 2, total_frames, interval)``), the Keras backbone and
classifier of the restored run on crops cut independently (RGB centre crop) or by
tsn-eval's pipeline (`make_dataset(snippet_interval=...)`).
"""
import json
import pathlib

import cv2
import numpy as np
import pytest
import tensorflow as tf

from conftest import write_records
from export_helpers import (REPORT_MALFORMED, assert_invalid_requests, make_run_dir, run_python,
                            succeeded)
from tsn_tf.export import client, predict, sampled_flow, saved_model, video_features, warmup
from tsn_tf.input import pipeline
from tsn_tf.input.contract import schema
from tsn_tf.input.contract.preprocessing import Preprocessing
from tsn_tf.input.ingestion import flow_pool
from tsn_tf.ops import serving
from tsn_tf.trainers import model_dir as model_dir_lib

SIZE = (48, 36)      # width x height: short side 36 = 32 * 256 // 224, no eval rescale
NUM_FRAMES = 40
FRAME_RATE = 10.0
CROPS = {"rgb": 1, "flow": 10, "rgb_diff": 3}
FLOW = serving.ViewSettings(modality="flow", input_size=32, mean=(128.0,), std=(1.0,))


def moving_square(num_frames, size, seed=0):
    """uint8 BGR frames: a square moving right and down over a noisy gradient."""
    width, height = size
    rng = np.random.default_rng(seed)
    frames = []
    for t in range(num_frames):
        frame = np.tile(np.linspace(20, 160, width)[None, :, None], (height, 1, 3))
        frame += rng.normal(0, 8, frame.shape)
        x, y = (3 * t) % (width - 12), (t // 2) % (height - 12)
        frame[y:y + 12, x:x + 12] = (40, 200, 250)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """A 40-frame video encoded by ingestion's code (RGB + DIS flow at 48x36) as a shard:
    (shard path, VideoRecord)."""
    folder = tmp_path_factory.mktemp("features_video")
    streams = client.encoded_streams(moving_square(NUM_FRAMES, SIZE), ["rgb", "flow"],
                                     flow_algorithm="dis")
    record = schema.VideoRecord(
            media_id="square", label_indices=[1], label_strings=["b"], height=SIZE[1],
            width=SIZE[0], frame_rate=FRAME_RATE, rgb_jpegs=streams.rgb_jpegs,
            timestamps_us=[100_000 * i for i in range(NUM_FRAMES)],
            flow_x_jpegs=streams.flow_x_jpegs, flow_y_jpegs=streams.flow_y_jpegs,
            flow_bound=20.0, flow_algorithm="dis")
    return write_records(folder / "square-00000-of-00001.tfrecord", [record]), record


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """{modality: (run dir, version dir)}: RGB 1 view, flow 10 views, RGB diff 3 views."""
    base = tmp_path_factory.mktemp("feature_exports")
    result = {}
    for seed, (modality, crops) in enumerate(CROPS.items()):
        run_dir = make_run_dir(base / f"run_{modality}", modality, seed=seed)
        result[modality] = (run_dir, saved_model.export_saved_model(
                run_dir, str(base / "models"), f"tsn_{modality}", eval_crops=crops))
    return result


def _inputs(record, modality, interval, frames=None):
    names = serving.stream_names(modality)
    values = (record.rgb_jpegs,) if names == serving.RGB_STREAMS else \
        (record.flow_x_jpegs, record.flow_y_jpegs)
    return {**{name: np.array(list(v)[:frames], dtype=object) for name, v in zip(names, values)},
            "frame_rate": np.float32(FRAME_RATE), "interval": np.int32(interval)}


# A fresh process that knows nothing of tsn_tf: {name: (model dir, signature, inputs)},
# called in order; outputs (or the InvalidArgument message) into an .npz.
CALL = r"""
import sys
import numpy as np
import tensorflow as tf

requests = np.load(sys.argv[1], allow_pickle=True).item()
loaded, out = {}, {}
for name, (path, signature, inputs) in requests.items():
    model = loaded.setdefault(path, tf.saved_model.load(path))
    try:
        result = model.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        out.update({f"{name}/{k}": v.numpy() for k, v in result.items()})
    except tf.errors.InvalidArgumentError as error:
        out[f"{name}/error"] = np.array(error.message)
np.savez(sys.argv[2], **out)
"""


def call_fresh(requests, folder):
    folder = pathlib.Path(folder)
    np.save(folder / "requests.npy", requests, allow_pickle=True)
    succeeded(run_python(CALL, folder / "requests.npy", folder / "outputs.npz"))
    with np.load(folder / "outputs.npz") as data:
        return {key: data[key] for key in data.files}


def mmaction2_centres(total_frames, interval):
    """mmaction2 UntrimmedSampleFrames: frame_inds = np.arange(start, total, clip_interval)
    with start = clip_interval // 2."""
    return np.arange(interval // 2, total_frames, interval)


def _reference_views(run_dir, shard, record, modality, interval):
    """Eval views (views, T, 32, 32, C·L) of the snippets, cut outside the serving code:
    RGB centre crop by hand; otherwise tsn-eval's pipeline (make_dataset)."""
    config = model_dir_lib.RunConfig.load(run_dir)
    mean, std = config.normalization()
    if modality == "rgb":
        frames = np.stack([tf.io.decode_jpeg(j, channels=3).numpy() for j in record.rgb_jpegs])
        assert frames.shape[1:3] == (36, 48)  # short side 36: no rescale before the crop
        centres = mmaction2_centres(len(frames), interval)
        crops = frames[centres, 2:34, 8:40].astype(np.float32)  # (36-32)//2, (48-32)//2
        return ((crops - np.float32(mean)) / np.float32(std))[None]
    dataset = pipeline.make_dataset(shard, modality=modality, num_segments=1, training=False,
                                    batch_size=1, mean=mean, std=std, output_size=32,
                                    eval_crops=CROPS[modality], snippet_interval=interval)
    clips, _, _ = next(iter(dataset))
    return clips[0].numpy()


@pytest.mark.parametrize("interval", [7, 16])
def test_fresh_process_features_are_the_backbone_mean_over_views(exports, video, tmp_path,
                                                                  interval):
    shard, record = video
    requests = {m: (exports[m][1], "snippet_features", _inputs(record, m, interval))
                for m in exports}
    out = call_fresh(requests, tmp_path)
    for modality, (run_dir, _) in exports.items():
        total = NUM_FRAMES - 1 if modality == "flow" else NUM_FRAMES
        centres = mmaction2_centres(total, interval)
        np.testing.assert_array_equal(out[f"{modality}/centres"], centres, err_msg=modality)
        assert out[f"{modality}/centres"].dtype == np.int32
        np.testing.assert_array_equal(out[f"{modality}/timestamps"],
                                      centres.astype(np.float32) / np.float32(FRAME_RATE))
        model = model_dir_lib.restore_model(run_dir, 1)
        views = _reference_views(run_dir, shard, record, modality, interval)
        assert views.shape[:2] == (CROPS[modality], len(centres))
        per_view = model.get_layer("backbone")(views).numpy()  # (views, T, D)
        features = per_view.mean(axis=0)
        assert np.abs(features).max() > 0.1 and features.std() > 0.01
        np.testing.assert_allclose(out[f"{modality}/features"], features, atol=1e-5,
                                   err_msg=modality)
        # pre-softmax scores: the classifier of each view's features, mean over views
        scores = model.get_layer("classifier")(per_view).numpy().mean(axis=0)
        np.testing.assert_allclose(out[f"{modality}/scores"], scores, atol=1e-5,
                                   err_msg=modality)
        # the classifier is affine, so its mean over views is its value on the mean
        np.testing.assert_allclose(out[f"{modality}/scores"],
                                   model.get_layer("classifier")(features[None])[0], atol=1e-5)


FEATURE_MALFORMED = r"""
import json, sys
import numpy as np
import tensorflow as tf

version_dir, good_path = sys.argv[1:3]
good = dict(np.load(good_path, allow_pickle=True))
signature = tf.saved_model.load(version_dir).signatures["snippet_features"]

def features(interval, **changes):  # not `call`: REPORT_MALFORMED's loop variable
    inputs = {**good, "interval": np.int32(interval), **changes}
    return signature(**{k: tf.constant(v) for k, v in inputs.items()})

bad = {"interval_4": lambda: features(4), "interval_0": lambda: features(0),
       "interval_negative": lambda: features(-7),
       "frame_rate_0": lambda: features(7, frame_rate=np.float32(0))}
good_call = lambda: features(7)
""" + REPORT_MALFORMED


def test_an_interval_below_a_snippet_is_invalid_argument_and_the_next_request_succeeds(
        exports, video, tmp_path):
    inputs = _inputs(video[1], "flow", 7)
    del inputs["interval"]
    np.savez(tmp_path / "good.npz", **inputs)
    result = run_python(FEATURE_MALFORMED, exports["flow"][1], tmp_path / "good.npz")
    assert_invalid_requests(result, {
        "interval_4": "[interval: must be >= 5, the frames a flow snippet reads, got 4]",
        "interval_0": "[interval: must be >= 5, the frames a flow snippet reads, got 0]",
        "interval_negative": "[interval: must be >= 5, the frames a flow snippet reads, got -7]",
        "frame_rate_0": "frame_rate: must be > 0"})


def test_a_stream_of_at_most_half_an_interval_has_no_snippets(exports, video, tmp_path):
    record = video[1]
    requests = {}
    for modality in ("rgb", "flow"):
        for frames in (3, 4, 5):  # interval 8: the first centre is frame 4
            requests[f"{modality}_{frames}"] = (exports[modality][1], "snippet_features",
                                                _inputs(record, modality, 8, frames))
    out = call_fresh(requests, tmp_path)
    for modality in ("rgb", "flow"):
        for frames in (3, 4):
            name = f"{modality}_{frames}"
            assert out[f"{name}/features"].shape == (0, 32), name
            assert out[f"{name}/scores"].shape == (0, 6)
            assert out[f"{name}/centres"].shape == out[f"{name}/timestamps"].shape == (0,)
        assert list(out[f"{modality}_5/centres"]) == [4]
        assert out[f"{modality}_5/features"].shape == (1, 32)


def test_snippet_windows_by_hand():
    """39 flow frames, interval 7: centres 3, 10, .., 38 (T = 6); 2 snippets a call."""
    assert video_features.num_snippets(39, 7) == len(mmaction2_centres(39, 7)) == 6
    assert video_features.snippet_windows(39, 7, 2) == [(0, 2, 0, 14), (2, 4, 14, 28),
                                                        (4, 6, 28, 39)]
    assert video_features.snippet_windows(42, 7, 6) == [(0, 6, 0, 42)]
    assert video_features.snippet_windows(3, 8, 2) == []
    for frames, interval in ((1, 1), (4, 8), (5, 8), (100, 16), (101, 5), (17, 16)):
        assert video_features.num_snippets(frames, interval) == \
            len(mmaction2_centres(frames, interval)), (frames, interval)
    with pytest.raises(ValueError, match=r"^snippets_per_call must be >= 1. Received: 0$"):
        video_features.snippet_windows(39, 7, 0)


@pytest.mark.parametrize("modality,interval", [("flow", 7), ("rgb", 5), ("rgb_diff", 6)])
def test_chunked_calls_equal_one_call_on_the_whole_stream(exports, video, modality, interval):
    """N = 40 RGB (39 flow) frames, not a multiple of the interval; windows of 1, 2, 4 and
    more snippets than the video has."""
    signature = tf.saved_model.load(exports[modality][1]).signatures["snippet_features"]
    inputs = _inputs(video[1], modality, interval)
    streams = {k: v for k, v in inputs.items() if k not in ("frame_rate", "interval")}
    whole = {k: v.numpy() for k, v in signature(
            **{k: tf.constant(v) for k, v in inputs.items()}).items()}
    assert len(whole["centres"]) >= 5
    sizes = []

    def counting(**request):
        sizes.append(int(tf.size(request[next(iter(streams))])))
        return signature(**request)

    for per_call in (1, 2, 4, 100):
        sizes.clear()
        chunked = video_features.chunked_snippet_features(
                counting, streams, frame_rate=FRAME_RATE, interval=interval,
                snippets_per_call=per_call)
        for name in video_features.OUTPUTS:
            np.testing.assert_allclose(chunked[name], whole[name], atol=1e-6, rtol=0,
                                       err_msg=f"{name}, {per_call} a call")
        np.testing.assert_array_equal(chunked["centres"], whole["centres"])
        np.testing.assert_array_equal(chunked["timestamps"], whole["timestamps"])
        assert len(sizes) == -(-len(whole["centres"]) // per_call)
        assert max(sizes) < (per_call + 1) * interval  # the decoded part stays bounded


# --- raw video files ------------------------------------------------------------

def test_interval_flow_frames_by_hand():
    """39 flow frames, interval 7: snippets c - 2 .. c + 2 around 3, 10, .., 38, the last
    clipped at frame 38; interval 16 reads 5 of every 16 pairs."""
    expected = [c - 2 + s for c in (3, 10, 17, 24, 31) for s in range(5)] + [36, 37, 38]
    assert list(sampled_flow.interval_flow_frames(39, 7, FLOW)) == expected
    assert list(sampled_flow.interval_flow_frames(279, 16, FLOW)) == [
        c - 2 + s for c in range(8, 279, 16) for s in range(5)]  # 85 of 279
    assert list(sampled_flow.interval_flow_frames(4, 16, FLOW)) == []
    assert sampled_flow.selector([FLOW], interval=7)(39, 30.0) == expected
    with pytest.raises(ValueError, match=r"^interval must be >= 5, the frames a flow snippet "
                                         r"reads. Received: 4$"):
        sampled_flow.selector([FLOW], interval=4)


@pytest.fixture(scope="module")
def video_file(tmp_path_factory):
    """A 70-frame MJPG .avi at 10 fps, 48x32."""
    path = tmp_path_factory.mktemp("feature_video") / "square.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FRAME_RATE, (48, 32))
    assert writer.isOpened()
    for frame in moving_square(70, (48, 32), seed=1):
        writer.write(frame)
    writer.release()
    return path


def test_raw_video_features_from_the_sampled_pairs_equal_every_pair(exports, video_file,
                                                                     monkeypatch):
    """Interval 16 on 70 frames: RGB and flow centres 8, 24, 40, 56; the flow model reads
    pairs c - 2 .. c + 2: 20 of the 69."""
    models = [predict.load_served_model(exports[m][1]) for m in ("rgb", "flow")]
    read = dict(flow_algorithm="dis", resize="48x32")
    expected_pairs = [c - 2 + s for c in (8, 24, 40, 56) for s in range(5)]
    calls = []
    original = flow_pool.PairEncoder.__call__
    monkeypatch.setattr(flow_pool.PairEncoder, "__call__",
                        lambda self, *a: calls.append(1) or original(self, *a))
    sampled = video_features.video_snippet_features(
            str(video_file), models, interval=16, options=predict.ReadOptions(**read),
            snippets_per_call=3)
    # DIS computes one pair more: the pair before the first, to warm it (sampled_flow)
    assert len(calls) == len(expected_pairs) + 1 == 21
    calls.clear()
    full = video_features.video_snippet_features(
            str(video_file), models, interval=16,
            options=predict.ReadOptions(**read, all_flow_pairs=True))
    assert len(calls) == 69
    for model, few, every in zip(("rgb", "flow"), sampled, full):
        np.testing.assert_array_equal(few.centres, [8, 24, 40, 56])
        np.testing.assert_array_equal(few.features, every.features, err_msg=model)
        np.testing.assert_array_equal(few.scores, every.scores, err_msg=model)
        np.testing.assert_allclose(few.times, [0.8, 2.4, 4.0, 5.6], atol=1e-6)
        assert few.features.shape == (4, 32) and few.scores.shape == (4, 6)
    # the streams sent: real flow JPEGs exactly at the pairs the snippets read
    encoded = predict.encode_for_models(str(video_file), models[1:],
                                        predict.ReadOptions(**read), interval=16)
    streams, _ = encoded[0]
    real = [i for i, jpeg in enumerate(streams.flow_x_jpegs)
            if jpeg != sampled_flow.PLACEHOLDER_JPEG]
    assert real == expected_pairs and len(streams.flow_x_jpegs) == 69


def test_raw_video_features_refuse_audio_models_and_a_short_interval(exports, video_file):
    flow = predict.load_served_model(exports["flow"][1])
    with pytest.raises(ValueError, match=r"^interval must be >= 5, the frames a flow snippet "
                                         r"reads. Received: 3$"):
        video_features.video_snippet_features(str(video_file), [flow], interval=3)
    audio = predict.ServedModel(path="/m/audio", modality="audio", labels=[], signatures={})
    with pytest.raises(ValueError, match=r"^/m/audio is an audio model"):
        video_features.video_snippet_features(str(video_file), [audio], interval=16)


def test_warmup_requests_include_snippet_features(exports):
    for modality, (_, version_dir) in exports.items():
        requests = warmup.read_warmup_file(
                str(pathlib.Path(version_dir) / "assets.extra" / warmup.WARMUP_FILE))
        assert [r.model_spec.signature_name for r in requests] == [
            "serving_default", "predict_frames", "snippet_scores", "snippet_features"]
        request = client.request_inputs(requests[-1])
        assert int(request["interval"]) == {"rgb": 1, "flow": 5, "rgb_diff": 6}[modality]
        outputs = tf.saved_model.load(version_dir).signatures["snippet_features"](
                **{k: tf.constant(v) for k, v in request.items()})
        assert outputs["features"].shape[0] >= 1  # a real snippet, not an empty request


# --- flow computed in the graph (TF TV-L1) ----------------------------------------

@pytest.mark.slow
def test_in_graph_flow_video_snippet_features_equal_the_flow_jpeg_signature(tmp_path,
                                                                             video_file):
    """A flow model trained on TF TV-L1 flow at 48x32: video_snippet_features on the RGB
    frames equals snippet_features on the flow ingestion computes; chunked calls send RGB
    windows one frame longer than their flow frames."""
    run_dir = make_run_dir(tmp_path / "run", "flow")
    recorded = Preprocessing(resize="48x32", flow_algorithm="tvl1_tsn")
    recorded.save(run_dir)
    export = saved_model.export_saved_model(run_dir, str(tmp_path / "models"), "flow")
    info = json.loads((pathlib.Path(export) / "assets.extra" / "tsn_export.json").read_text())
    assert info["in_graph_flow"]["signatures"][-1] == "video_snippet_features"
    requests = warmup.read_warmup_file(str(pathlib.Path(export) / "assets.extra" /
                                           warmup.WARMUP_FILE))
    assert [r.model_spec.signature_name for r in requests][-1] == "video_snippet_features"
    model = predict.load_served_model(export)
    options = predict.ReadOptions(max_frames=30)
    assert predict.uses_graph_flow(model, options)

    result, = video_features.video_snippet_features(str(video_file), [model], interval=8,
                                                    options=options, snippets_per_call=1)
    np.testing.assert_array_equal(result.centres, mmaction2_centres(29, 8))  # 4, 12, 20, 28
    flow, rate = client.read_encoded_video(video_file, ["flow"], preprocessing=recorded,
                                           max_frames=30)
    rgb, _ = client.read_encoded_video(video_file, ["rgb"], preprocessing=recorded,
                                       max_frames=30)
    inputs = {**client.jpeg_inputs(flow, "flow"), "frame_rate": np.float32(rate),
              "interval": np.int32(8)}
    reference = model.signatures["snippet_features"](
            **{k: tf.constant(v) for k, v in inputs.items()})
    # not exact: decoded, the graph's flow differs from ingestion's by 1-2 of 255 levels
    # at a few pixels of a few pairs (measured: 4 of 29 pairs); other pairs would differ
    # by far more than 1e-3
    np.testing.assert_allclose(result.features, reference["features"], atol=1e-3)
    np.testing.assert_allclose(result.scores, reference["scores"], atol=1e-3)
    whole = model.signatures["video_snippet_features"](
            frames=tf.constant(client.jpeg_inputs(rgb, "rgb")["frames"]),
            frame_rate=tf.constant(np.float32(rate)), interval=tf.constant(8))
    np.testing.assert_allclose(result.features, whole["features"], atol=1e-6, rtol=0)
    np.testing.assert_array_equal(result.centres, whole["centres"])
    np.testing.assert_allclose(result.times, np.asarray(rgb.timestamps_us)[[4, 12, 20, 28]]
                               / 1e6)
