"""A flow model served from the video's RGB frames (issue 22, point 1): flow of the
sampled pairs computed in the SavedModel equals the shards' flow, so the video_*
signatures score what tsn-eval scores on shards ingested with the same TF TV-L1."""
import json
import pathlib

import cv2
import numpy as np
import pytest

from export_helpers import run_module, run_python, save_drawn_weights, succeeded
from tsn_tf.input.contract import layout, schema
from tsn_tf.input.ingestion import video
from tsn_tf.trainers import reports

DATA_DIR = pathlib.Path(__file__).parent / "data"
HELD_OUT = DATA_DIR / "test_video_structuralize.mp4"
SIZE = (48, 32)  # stored frames, width x height
FRAMES = 40


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(export dir, tsn-eval scores of the held-out video (C,), its stored record)."""
    base = tmp_path_factory.mktemp("in_graph_flow")
    (base / "list.csv").write_text(f"part_0.mp4,a,train\ntest.avi,b,train\n"
                                   f"{HELD_OUT.name},a,test\n")
    succeeded(run_module("tsn_tf.input.ingestion.ingest_main", f"--video_dir={DATA_DIR}",
                   "--list_format=csv", f"--list_files={base / 'list.csv'}",
                   f"--output={base / 'shards'}", "--flow=tvl1_tsn",
                   f"--frame_size={SIZE[0]}x{SIZE[1]}", f"--max_frames={FRAMES}",
                   "--workers=0", "--num_shards=1"))
    run_dir = base / "run"
    succeeded(run_module("tsn_tf.trainers.train", f"--train_shards={base / 'shards'}/train-*",
                   f"--model_dir={run_dir}", "--modality=flow", "--backbone=tiny",
                   "--input_size=32", "--num_segments=2", "--batch_size=2", "--train_steps=1",
                   "--noprogress"))
    from tsn_tf.trainers import model_dir as model_dir_lib
    save_drawn_weights(model_dir_lib.restore_model(str(run_dir)), run_dir, 0,
                       checkpoint_number=100)
    export = succeeded(run_module("tsn_tf.export.export_main", f"--model_dir={run_dir}",
                            f"--export_base={base / 'models'}", "--model_name=flow",
                            "--eval_crops=1")).stdout.strip().splitlines()[-1]
    succeeded(run_module("tsn_tf.trainers.evaluate", f"--model_dir={run_dir}",
                   f"--eval_shards={base / 'shards'}/test-*", "--eval_crops=1",
                   f"--output_dir={base / 'eval'}"))
    _, scores, _, _, _ = reports.load_stream(base / "eval" / "scores_flow.npz")
    test_shard = next((base / "shards").glob("test-*.tfrecord"))
    record = schema.from_sequence_example(layout.read_videos(str(test_shard))[0])
    return export, scores[0], record


CALL = r"""
import json, sys
import numpy as np
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
requests = np.load(sys.argv[2], allow_pickle=True).item()
out = {}
for name, inputs in requests.items():
    signature = model.signatures[name.split(":")[0]]
    try:
        result = signature(**{k: tf.constant(v) for k, v in inputs.items()})
        out[name] = {k: v.numpy().tolist() for k, v in result.items()
                     if v.dtype != tf.string}
    except tf.errors.InvalidArgumentError as error:
        out[name] = {"error": error.message}
print(json.dumps(out))
"""


def _call(export, requests, tmp_path):
    path = tmp_path / "requests.npy"
    np.save(path, requests, allow_pickle=True)
    return json.loads(succeeded(run_python(CALL, export, str(path))).stdout.splitlines()[-1])


@pytest.mark.slow
def test_the_export_says_it_computes_flow_in_the_graph(served):
    export, _, _ = served
    info = json.loads((pathlib.Path(export) / "assets.extra" / "tsn_export.json").read_text())
    assert info["in_graph_flow"] == {"algorithm": "tvl1_tsn", "bound": 20.0, "jpeg_quality": 90,
                                     "frame_size": list(SIZE), "signatures": [
                                         "video_jpegs", "video_frames",
                                         "video_snippet_scores",
                                         "video_snippet_features"]}
    from tsn_tf.export import warmup
    requests = warmup.read_warmup_file(str(pathlib.Path(export) / "assets.extra" /
                                           warmup.WARMUP_FILE))
    assert [r.model_spec.signature_name for r in requests][-4:] == [
        "video_jpegs", "video_frames", "video_snippet_scores", "video_snippet_features"]
    shown = succeeded(run_module("tensorflow.python.tools.saved_model_cli", "show", "--dir", export,
                           "--signature_def", "video_jpegs", "--tag_set", "serve")).stdout
    assert "frames" in shown and "DT_STRING" in shown and "scores" in shown


@pytest.mark.slow
def test_flow_from_rgb_frames_scores_what_tsn_eval_scores(served, tmp_path):
    export, eval_scores, record = served
    rgb = np.array(record.rgb_jpegs, dtype=object)
    decoded = np.stack([cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
                        for j in rgb])
    raw = video.read_video(HELD_OUT, size=SIZE, max_frames=FRAMES).frames  # RGB, as ingested
    flow = {"flow_x": np.array(record.flow_x_jpegs, dtype=object),
            "flow_y": np.array(record.flow_y_jpegs, dtype=object)}
    rate = np.float32(record.frame_rate)
    out = _call(export, {"video_jpegs": {"frames": rgb},
                         "video_frames": {"frames": raw},
                         "video_frames:decoded_jpegs": {"frames": decoded},
                         "serving_default": flow,
                         "video_snippet_scores": {"frames": rgb, "frame_rate": rate},
                         "snippet_scores": {**flow, "frame_rate": rate}}, tmp_path)
    assert np.max(np.abs(eval_scores)) > 0.1
    for name in ("video_jpegs", "video_frames", "serving_default"):
        np.testing.assert_allclose(out[name]["scores"], eval_scores, atol=1e-4, err_msg=name)
    np.testing.assert_allclose(out["video_snippet_scores"]["scores"],
                               out["snippet_scores"]["scores"], atol=1e-4)
    np.testing.assert_allclose(out["video_snippet_scores"]["timestamps"],
                               out["snippet_scores"]["timestamps"])
    # frames decoded from the JPEGs are not the frames the flow was made from
    assert np.max(np.abs(np.subtract(out["video_frames:decoded_jpegs"]["scores"],
                                     eval_scores))) > 0


@pytest.mark.slow
def test_a_malformed_video_request_is_invalid_argument_and_the_model_keeps_serving(
        served, tmp_path):
    export, eval_scores, record = served
    rgb = list(record.rgb_jpegs)
    small = cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))[1].tobytes()
    out = _call(export, {
            "video_jpegs:none": {"frames": np.array([], dtype=object)},
            "video_jpegs:one": {"frames": np.array(rgb[:1], dtype=object)},
            "video_jpegs:sizes": {"frames": np.array(rgb[:3] + [small], dtype=object)},
            "video_jpegs:not_jpeg": {"frames": np.array(rgb[:3] + [b"GIF89a"], dtype=object)},
            "video_frames:size": {"frames": np.zeros((4, 20, 20, 3), np.uint8)},
            "video_jpegs": {"frames": np.array(rgb, dtype=object)}}, tmp_path)
    assert "no frames" in out["video_jpegs:none"]["error"]
    assert "at least 2 frames" in out["video_jpegs:one"]["error"]
    assert f"must be {SIZE[0]}x{SIZE[1]}" in out["video_jpegs:sizes"]["error"]
    assert "not a JPEG" in out["video_jpegs:not_jpeg"]["error"]
    assert "error" in out["video_frames:size"]
    np.testing.assert_allclose(out["video_jpegs"]["scores"], eval_scores, atol=1e-4)


PREDICT = r"""
import json, sys
from tsn_tf.export import predict
model = predict.load_served_model(sys.argv[1])
options = predict.ReadOptions(max_frames=int(sys.argv[3]))
assert model.in_graph_flow and predict.uses_graph_flow(model, options)
scores = predict.score_video(sys.argv[2], [model], weights=[1.0], options=options).scores
snippets, times = predict.snippet_scores(sys.argv[2], [model], weights=[1.0], options=options)
print(json.dumps([scores.tolist(), snippets.tolist(), times.tolist()]))
"""


@pytest.mark.slow
def test_tsn_predict_on_the_video_file_uses_the_graph_and_scores_as_tsn_eval(served):
    export, eval_scores, record = served
    scores, snippets, times = json.loads(succeeded(run_python(
            PREDICT, export, str(HELD_OUT), str(FRAMES))).stdout.splitlines()[-1])
    np.testing.assert_allclose(scores, eval_scores, atol=1e-4)
    # 39 flow frames at 29.97 fps: snippets at frames int(0 * 29.97) = 0 and int(29.97) = 29
    assert np.shape(snippets) == (2, len(eval_scores))
    np.testing.assert_allclose(times, [0.0, record.timestamps_us[29] / 1e6], atol=1e-6)


def test_in_graph_flow_needs_a_tf_tvl1_variant_and_a_fixed_frame_size():
    from tsn_tf.input.contract.preprocessing import Preprocessing
    from tsn_tf.ops.serving_flow import InGraphFlow

    flow, why = InGraphFlow.of(Preprocessing(resize="340x256", flow_algorithm="tvl1_tsn"))
    assert why == "" and (flow.algorithm, flow.frame_size, flow.bound, flow.jpeg_quality) \
        == ("tvl1_tsn", (340, 256), 20.0, 90)
    imported, _ = InGraphFlow.of(Preprocessing(resize="48x32",
                                               flow_algorithm="imported:tvl1_denseflow"))
    assert (imported.algorithm, imported.frame_size) == ("tvl1_denseflow", (48, 32))
    for preprocessing, reason in [
            (Preprocessing(resize="short_side=72", flow_algorithm="tvl1_tsn"),
             "stored at 'short_side=72'; the graph needs a fixed WIDTHxHEIGHT"),
            (Preprocessing(flow_algorithm="tvl1"), "'tvl1') is not a TF TV-L1 variant"),
            (Preprocessing(flow_algorithm="imported:unspecified"), "not a TF TV-L1 variant"),
            (None, "records no preprocessing")]:
        flow, why = InGraphFlow.of(preprocessing)
        assert flow is None and reason in why, why
