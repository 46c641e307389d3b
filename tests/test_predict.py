"""tsn-predict on real and synthetic video files; the REST/gRPC client's requests."""
import pathlib

import cv2
import numpy as np
import pytest
import tensorflow as tf

from conftest import pyav_timestamps_us, write_vfr_video
from export_helpers import (check_top5, make_run_dir, printed_ranking, run_module,
                            signature_outputs)
from tsn_tf.export import client, predict, saved_model, timeline
from tsn_tf.input.pipeline import sampling

DATA_DIR = pathlib.Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """{modality: version dir} of exported RGB and flow models (6 classes)."""
    base = tmp_path_factory.mktemp("predict_models")
    return {modality: saved_model.export_saved_model(
                make_run_dir(base / f"run_{modality}", modality, seed=seed), str(base / "models"),
                f"tsn_{modality}", warmup_requests=False)
            for seed, modality in enumerate(("rgb", "flow"))}


@pytest.fixture(scope="module")
def synthetic_video(tmp_path_factory):
    """A 3 s MJPG .avi at 10 fps, 80x60: a bright square moving right over a gradient."""
    path = tmp_path_factory.mktemp("video") / "moving_square.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (80, 60))
    assert writer.isOpened()
    for t in range(30):
        frame = np.tile(np.linspace(20, 120, 80, dtype=np.uint8)[None, :, None], (60, 1, 3))
        frame[20:40, 2 * t:2 * t + 16] = (40, 200, 250)
        writer.write(frame)
    writer.release()
    return path


def test_predict_on_real_clip_prints_top5_of_the_served_model(models):
    video = DATA_DIR / "part_0.mp4"
    result = run_module("tsn_tf.export.predict_main", f"--model={models['rgb']}", video)
    assert result.returncode == 0, result.stderr[-3000:]
    streams, _ = client.read_encoded_video(video, ["rgb"])
    expected = signature_outputs(models["rgb"], client.jpeg_inputs(streams, "rgb"))["probabilities"]
    check_top5(printed_ranking(result.stdout), expected)


def test_predict_fuses_rgb_and_flow_scores_1_to_1_5_on_a_synthetic_video(models,
                                                                          synthetic_video):
    model_folders = f"{pathlib.Path(models['rgb']).parent},{pathlib.Path(models['flow']).parent}"
    result = run_module("tsn_tf.export.predict_main", f"--model={model_folders}",
                        "--flow_algorithm=farneback", f"--video={synthetic_video}")
    assert result.returncode == 0, result.stderr[-3000:]
    streams, _ = client.read_encoded_video(synthetic_video, ["rgb", "flow"],
                                           flow_algorithm="farneback")
    rgb = signature_outputs(models["rgb"], client.jpeg_inputs(streams, "rgb"))["scores"]
    flow = signature_outputs(models["flow"], client.jpeg_inputs(streams, "flow"))["scores"]
    assert len(streams.flow_x_jpegs) == len(streams.rgb_jpegs) - 1 == 29
    check_top5(printed_ranking(result.stdout), predict.softmax(rgb + 1.5 * flow))


def test_predict_untrimmed_applies_mtwi_and_writes_a_png_timeline(models, synthetic_video,
                                                                   tmp_path):
    png = tmp_path / "new" / "folder" / "timeline.png"  # folders created after the prediction
    result = run_module("tsn_tf.export.predict_main", f"--model={models['rgb']}",
                        "--untrimmed", f"--timeline={png}", synthetic_video)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "3 snippets" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == f"timeline written to {png}"
    streams, frame_rate = client.read_encoded_video(synthetic_video, ["rgb"])
    inputs = {**client.jpeg_inputs(streams, "rgb"), "frame_rate": np.float32(frame_rate)}
    snippets = signature_outputs(models["rgb"], inputs, "snippet_scores")
    np.testing.assert_allclose(snippets["timestamps"], [0.0, 1.0, 2.0], atol=1e-6)
    check_top5(printed_ranking(result.stdout), predict.untrimmed_probabilities(snippets["scores"]))
    image = cv2.imread(str(png))
    assert image is not None and image.shape == (360, 960, 3)
    top_colour = np.all(image == timeline.COLORS_BGR[0], axis=-1)
    assert top_colour.sum() > 100  # the top class's curve and legend are drawn


def test_predict_names_a_missing_video_and_a_folder_that_is_no_export(models, tmp_path):
    missing = run_module("tsn_tf.export.predict_main", f"--model={models['rgb']}",
                         tmp_path / "nope.mp4")
    assert missing.returncode == 1, missing.stderr
    assert missing.stderr.splitlines() == [f"error: {tmp_path / 'nope.mp4'}: file does not exist"]
    not_export = run_module("tsn_tf.export.predict_main", f"--model={tmp_path}",
                            DATA_DIR / "part_0.mp4")
    assert not_export.returncode == 1, not_export.stderr
    assert not_export.stderr.startswith(f"error: '{tmp_path}' is neither a SavedModel folder")
    assert len(not_export.stderr.splitlines()) == 1, not_export.stderr


def test_predict_prints_the_prediction_before_a_timeline_it_cannot_write(models,
                                                                         synthetic_video,
                                                                         tmp_path):
    (tmp_path / "a_file").write_text("")
    png = tmp_path / "a_file" / "timeline.png"  # its folder is a file
    result = run_module("tsn_tf.export.predict_main", f"--model={models['rgb']}",
                        "--untrimmed", f"--timeline={png}", synthetic_video)
    assert result.returncode == 1
    assert len(printed_ranking(result.stdout)) == 5
    errors = [line for line in result.stderr.splitlines() if not line.startswith("note: ")]
    assert errors == [f"error: [Errno 17] File exists: '{tmp_path / 'a_file'}'"]


def test_grpc_request_and_rest_body_carry_the_same_tensors_and_outputs(models):
    streams, _ = client.read_encoded_video(DATA_DIR / "part_0.mp4", ["rgb"])
    inputs = client.jpeg_inputs(streams, "rgb")
    direct = signature_outputs(models["rgb"], inputs)

    request = client.predict_request(inputs, "tsn_rgb", version=1)
    request = type(request).FromString(request.SerializeToString())  # over the wire
    assert (request.model_spec.name, request.model_spec.signature_name,
            request.model_spec.version.value) == ("tsn_rgb", "serving_default", 1)
    from_grpc = client.request_inputs(request)
    assert list(from_grpc["frames"]) == list(inputs["frames"])
    via_grpc = signature_outputs(models["rgb"], from_grpc)
    for name, value in direct.items():
        np.testing.assert_array_equal(via_grpc[name], value)

    body = client.rest_body(inputs)
    assert '"b64"' in body and '"signature_name": "serving_default"' in body
    from_rest = client.parse_rest_body(body, {"frames": tf.string})
    assert list(from_rest["frames"]) == list(inputs["frames"])
    frames = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)
    parsed = client.parse_rest_body(client.rest_body({"frames": frames}, "predict_frames"),
                                    {"frames": tf.uint8})
    np.testing.assert_array_equal(parsed["frames"], frames)
    assert parsed["frames"].dtype == np.uint8


def test_timeline_rejects_mismatched_inputs(tmp_path):
    with pytest.raises(ValueError, match=r"\(S,\) and probabilities \(S, C\)"):
        timeline.draw_timeline(tmp_path / "t.png", [0.0, 1.0], np.ones((3, 2)), ["a", "b"], [0])
    image = timeline.draw_timeline(tmp_path / "one.png", [0.0], [[0.2, 0.8]], ["a", "b"], [1, 0])
    assert (tmp_path / "one.png").exists() and image.shape == (360, 960, 3)


def test_predict_refuses_a_truncated_video_as_ingest_does_unless_allowed(models, tmp_path):
    """test.avi cut in half decodes 77 of the 164 frames its header lists."""
    data = (DATA_DIR / "test.avi").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:len(data) // 2])
    refused = run_module("tsn_tf.export.predict_main", f"--model={models['rgb']}", cut)
    assert refused.returncode != 0
    assert f"{cut}: truncated or corrupt: decoded 77 of the 164 frames" in refused.stderr
    assert "--allow_truncated" in refused.stderr
    # one error line, no traceback (FFmpeg's own decoder messages aside)
    assert "Traceback" not in refused.stderr
    assert len([l for l in refused.stderr.splitlines() if l.startswith("error:")]) == 1
    allowed = run_module("tsn_tf.export.predict_main", f"--model={models['rgb']}",
                         "--allow_truncated", cut)
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    reader_options = predict.ReadOptions(allow_truncated=True)
    streams, _ = client.read_encoded_video(cut, ["rgb"], allow_truncated=True)
    assert len(streams.rgb_jpegs) == 77
    expected = predict.score_video(str(cut), [predict.load_served_model(models["rgb"])],
                                   options=reader_options).probabilities
    check_top5(printed_ranking(allowed.stdout), expected)


def test_untrimmed_snippet_times_are_presentation_timestamps(models, tmp_path):
    """A 30 fps file with a 200 ms gap: snippet times are the PTS of their first frames."""
    path = write_vfr_video(tmp_path / "vfr.mp4", rate=30, num_frames=90, gap_after=45,
                           gap_ms=200)
    pts_us = pyav_timestamps_us(path)
    rate = (len(pts_us) - 1) * 1e6 / (pts_us[-1] - pts_us[0])  # 28.4 frames/s over the span
    offsets = [0, 28, 56, 85]  # floor(j * 28.4)
    assert list(sampling.np_untrimmed_offsets(90, rate, 1.0)) == offsets
    _, times = predict.snippet_scores(str(path), [predict.load_served_model(models["rgb"])])
    np.testing.assert_allclose(times, [pts_us[i] / 1e6 for i in offsets], atol=1e-6)
    assert times[2] == pytest.approx(55 / 30 + 0.2)  # not 56 / rate = 1.97 s


def test_fused_models_that_read_the_same_frames_share_one_decode(monkeypatch):
    """RGB, flow and audio at one frame size: one read; a flow of another algorithm: two."""
    from tsn_tf.input.contract.preprocessing import Preprocessing

    reads = []
    monkeypatch.setattr(client, "read_encoded_video", lambda path, modalities, **kw: (
            reads.append((sorted(modalities), kw["preprocessing"].flow_algorithm)) or
            (object(), 30.0)))

    def model(modality, **recorded):
        return predict.ServedModel(path=modality, modality=modality, labels=[], signatures={},
                                   preprocessing=Preprocessing(**recorded))

    encoded = predict.encode_for_models("v.mp4", [model("rgb"), model("flow"), model("audio")],
                                        predict.ReadOptions())
    assert reads == [(["audio", "flow", "rgb"], "tvl1")] and len(encoded) == 3
    reads.clear()
    predict.encode_for_models("v.mp4", [model("rgb"), model("flow", flow_algorithm="dis"),
                                        model("warped_flow")], predict.ReadOptions())
    assert reads == [(["flow", "rgb"], "dis"), (["warped_flow"], "tvl1")]


def test_predict_names_a_bad_frame_size_in_one_line_before_loading_models(tmp_path):
    result = run_module("tsn_tf.export.predict_main", f"--model={tmp_path / 'none'}",
                        "--frame_size=340", DATA_DIR / "part_0.mp4")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: --frame_size must be WIDTHxHEIGHT like 340x256, got '340'"]


def test_preprocessing_notes_name_overrides_a_missing_record_and_drifted_flow_parameters():
    """One note per video model whose reading differs from its training's; audio none."""
    from tsn_tf.input.ingestion import flow
    from tsn_tf.input.contract.preprocessing import Preprocessing

    def model(modality, recorded):
        return predict.ServedModel(path=f"/models/{modality}", modality=modality, labels=[],
                                   signatures={}, preprocessing=recorded)

    dis = Preprocessing(resize="short_side=72", flow_algorithm="dis")
    drifted = Preprocessing(resize="short_side=72", flow_algorithm="dis",
                            flow_parameters={"algorithm": "dis", "PatchSize": 4})
    models = [model("rgb", None), model("audio", None), model("flow", dis),
              model("warped_flow", drifted)]
    now = flow.FlowEstimator("dis").parameters()
    assert now["PatchSize"] == 8  # OpenCV's DIS preset MEDIUM: not the recorded 4
    assert predict.preprocessing_notes(models[1:], predict.ReadOptions()) == [
        f"/models/warped_flow: this OpenCV's dis parameters {now} differ from training's "
        "{'algorithm': 'dis', 'PatchSize': 4}"]
    overridden = predict.preprocessing_notes(
            models, predict.ReadOptions(flow_algorithm="farneback"))
    assert overridden == [
        "/models/rgb records no preprocessing (exported before it was recorded): reading "
        "with resize='340x256', flow_algorithm='farneback'; pass the ones its shards were "
        "ingested with",
        "/models/flow: flow_algorithm='farneback' (training: 'dis') differs from training",
        "/models/warped_flow: flow_algorithm='farneback' (training: 'dis') differs from "
        "training"]  # a different algorithm: its parameters are not compared
    assert predict.preprocessing_notes(models[2:3], predict.ReadOptions(
            resize="short_side=72", flow_algorithm="dis")) == []
    imported = Preprocessing(flow_algorithm="imported:tvl1_tsn",
                             flow_parameters={"imported": "tvl1_tsn"})
    assert predict.preprocessing_notes([model("flow", imported)], predict.ReadOptions()) == [
        "/models/flow: trained on imported flow ('imported:tvl1_tsn'); computing 'tvl1_tsn' "
        "in its place"]
