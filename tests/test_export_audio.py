"""Export and predict of the audio stream: log-mel and waveform signatures, no skew, tsn-predict."""
import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from conftest import write_records
from export_helpers import (LABELS, REPORT_MALFORMED, SAVED_MODEL_CLI, assert_invalid_requests,
                            call_in_fresh_process, check_top5, make_run_dir, printed_ranking,
                            run_command, run_module, run_python, saved_model_cli_scores,
                            signature_outputs)
from test_audio_pipeline import np_patch_offsets
from tsn_tf.export import client, predict, saved_model, warmup
from tsn_tf.ops import serving_audio
from tsn_tf.input.ingestion import audio, encode
from tsn_tf.input.contract import log_mel as log_mel_lib
from tsn_tf.input.pipeline import audio_dataset
from tsn_tf.trainers import evaluate, model_dir as model_dir_lib

DATA_DIR = pathlib.Path(__file__).parent / "data"
TEST_AVI = DATA_DIR / "test.avi"      # 6.56 s, mp3 stereo 44.1 kHz track
PART_0 = DATA_DIR / "part_0.mp4"      # no audio track


@pytest.fixture(scope="module")
def test_avi(tmp_path_factory):
    """test.avi ingested with rgb (64x48) and audio: (shard path, VideoRecord)."""
    folder = tmp_path_factory.mktemp("test_avi")
    options = encode.IngestOptions(modalities=("rgb", "audio"), size=(64, 48))
    record = encode.ingest_video(TEST_AVI, media_id="test", label_indices=[1],
                                 label_strings=[LABELS[1]], options=options)
    assert record.audio_present and len(record.audio_log_mel) > 600
    return write_records(folder / "test-00000-of-00001.tfrecord", [record]), record


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """{modality: (run dir, version dir)}: an audio_small audio model, tiny RGB and flow ones."""
    base = tmp_path_factory.mktemp("audio_exports")
    runs = {"audio": make_run_dir(base / "run_audio", "audio", backbone="audio_small",
                                  kernel_std=0.1),
            "rgb": make_run_dir(base / "run_rgb", "rgb", seed=1),
            "flow": make_run_dir(base / "run_flow", "flow", seed=2)}
    return {modality: (run, saved_model.export_saved_model(
                run, str(base / "models"), f"tsn_{modality}", warmup_requests=modality == "audio"))
            for modality, run in runs.items()}


def _waveform(record):
    """test.avi's track as ingestion clips it: mono 16 kHz float32 (N,)."""
    duration_s = len(record.rgb_jpegs) / record.frame_rate
    return audio.read_audio(TEST_AVI, max_duration_s=duration_s).samples


def test_tf_log_mel_matches_ingestion_log_mel(test_avi):
    noise = np.random.default_rng(0).normal(0, 0.3, 5000).astype(np.float32)
    for samples in (_waveform(test_avi[1]), noise, noise[:400], noise[:559], noise[:560]):
        expected = log_mel_lib.log_mel(samples)
        computed = serving_audio.tf_log_mel(tf.constant(samples)).numpy()
        assert computed.shape == expected.shape == (log_mel_lib.num_frames(len(samples)), 64)
        np.testing.assert_allclose(computed, expected, atol=1e-4)
    np.testing.assert_allclose(test_avi[1].audio_log_mel,
                               log_mel_lib.log_mel(_waveform(test_avi[1])),
                               atol=0)


def test_eval_clip_is_the_audio_pipelines_evaluation_clip(test_avi):
    shard, record = test_avi
    dataset = audio_dataset.make_audio_dataset(shard, num_segments=25, training=False,
                                                batch_size=1, mean=-0.5, std=1.5)
    clips, _, extras = next(iter(dataset))
    settings = serving_audio.AudioSettings(mean=-0.5, std=1.5, num_segments=25)
    served = serving_audio.eval_clip(tf.constant(record.audio_log_mel), settings)
    assert bool(extras["audio_present"][0]) and served.shape == (1, 25, 96, 64, 1)
    np.testing.assert_array_equal(served.numpy(), clips[0].numpy())
    log_mel = np.asarray(record.audio_log_mel, np.float32)   # and the rule, independently
    expected = np.stack([log_mel[o:o + 96] for o in np_patch_offsets(len(log_mel), 25, 96)])
    np.testing.assert_allclose(served.numpy()[0, ..., 0], (expected + 0.5) / 1.5, atol=1e-5)


def test_saved_model_in_fresh_process_matches_tsn_eval_scores(exports, test_avi, tmp_path):
    run_dir, version_dir = exports["audio"]
    shard, record = test_avi
    config = model_dir_lib.RunConfig.load(run_dir)
    dataset = evaluate.eval_dataset(config, shard, num_segments=25, eval_crops=10, batch_size=1)
    _, eval_scores, _, present = evaluate.score_stream(model_dir_lib.restore_model(run_dir, 25),
                                                       dataset, progress=False)
    assert present.all() and np.abs(eval_scores[0]).max() > 0.5  # 1e-4 can see a skew

    out = call_in_fresh_process(version_dir, {
        "serving_default": {"log_mel": np.asarray(record.audio_log_mel, np.float32)},
        "predict_waveform": {"waveform": _waveform(record)}}, tmp_path)

    np.testing.assert_allclose(out["serving_default/scores"], eval_scores[0], atol=1e-4)
    probabilities = out["serving_default/probabilities"]
    np.testing.assert_allclose(probabilities, tf.nn.softmax(eval_scores[0]).numpy(), atol=1e-5)
    order = np.argsort(-probabilities)[:5]
    np.testing.assert_array_equal(out["serving_default/top_k_indices"], order)
    np.testing.assert_allclose(out["serving_default/top_k_probabilities"], probabilities[order])
    assert [v.decode() for v in out["serving_default/top_k_labels"]] == [LABELS[i] for i in order]
    np.testing.assert_allclose(out["predict_waveform/scores"], eval_scores[0], atol=1e-4)
    np.testing.assert_array_equal(out["predict_waveform/top_k_indices"], order)


def test_signatures_export_info_and_warmup_requests(exports):
    _, version_dir = exports["audio"]
    info = saved_model.read_export_info(version_dir)
    assert info["view_settings"]["modality"] == "audio"
    assert info["view_settings"]["num_segments"] == 25
    assert info["view_settings"]["patch_frames"] == 96
    assert info["run_config"]["audio_std"] == log_mel_lib.LOG_MEL_STD
    signatures = tf.saved_model.load(version_dir).signatures
    assert set(signatures) == {"serving_default", "predict_waveform"}
    assert set(signatures["serving_default"].structured_input_signature[1]) == {"log_mel"}
    assert set(signatures["predict_waveform"].structured_input_signature[1]) == {"waveform"}
    requests = warmup.read_warmup_file(
            os.path.join(version_dir, "assets.extra", "tf_serving_warmup_requests"))
    assert [r.model_spec.signature_name for r in requests] == \
        ["serving_default", "predict_waveform"]
    for request in requests:
        assert request.model_spec.name == "tsn_audio"
        inputs = client.request_inputs(request)
        outputs = signatures[request.model_spec.signature_name](
                **{k: tf.constant(v) for k, v in inputs.items()})
        assert np.isfinite(outputs["scores"].numpy()).all()
        assert outputs["top_k_labels"].shape == (5,)


def test_saved_model_cli_show_and_run(exports, test_avi, tmp_path):
    version_dir = exports["audio"][1]
    show = run_command(SAVED_MODEL_CLI, "show", "--all", "--dir", version_dir)
    assert show.returncode == 0, show.stderr[-2000:]
    for text in ("signature_def['serving_default']", "signature_def['predict_waveform']",
                 "inputs['log_mel'] tensor_info:", "shape: (-1, 64)",
                 "inputs['waveform'] tensor_info:", "outputs['top_k_labels']",
                 "Method name is: tensorflow/serving/predict"):
        assert text in show.stdout, text
    log_mel = np.asarray(test_avi[1].audio_log_mel, np.float32)
    cli_scores = saved_model_cli_scores(version_dir, "log_mel", log_mel, tmp_path)
    expected = tf.saved_model.load(version_dir).signatures["serving_default"](
            log_mel=tf.constant(log_mel))["scores"].numpy()
    np.testing.assert_allclose(cli_scores, expected, rtol=1e-5, atol=1e-5)


MALFORMED = r"""
import json, sys
import numpy as np
import tensorflow as tf

version_dir, good_path = sys.argv[1:3]
good = np.load(good_path)
signatures = tf.saved_model.load(version_dir).signatures
log_mel_fn, waveform_fn = signatures["serving_default"], signatures["predict_waveform"]
frames = good["log_mel"]
nan_frames = frames.copy()
nan_frames[3, 5] = np.nan
bad = {
    "log_mel_empty": lambda: log_mel_fn(log_mel=tf.zeros([0, 64])),
    "log_mel_wrong_mel_size": lambda: log_mel_fn(log_mel=tf.constant(frames[:, :32])),
    "log_mel_rank_1": lambda: log_mel_fn(log_mel=tf.constant(frames[0])),
    "log_mel_rank_3": lambda: log_mel_fn(log_mel=tf.constant(frames[..., None])),
    "log_mel_float64": lambda: log_mel_fn(log_mel=tf.constant(frames.astype(np.float64))),
    "log_mel_nan": lambda: log_mel_fn(log_mel=tf.constant(nan_frames)),
    "waveform_empty": lambda: waveform_fn(waveform=tf.zeros([0])),
    "waveform_short": lambda: waveform_fn(waveform=tf.zeros([399])),
    "waveform_stereo": lambda: waveform_fn(waveform=tf.zeros([1600, 2])),
    "waveform_int16": lambda: waveform_fn(waveform=tf.zeros([1600], tf.int16)),
}
good_call = lambda: log_mel_fn(log_mel=tf.constant(frames))
""" + REPORT_MALFORMED


def test_malformed_requests_fail_with_invalid_argument_and_next_succeeds(
        exports, test_avi, tmp_path):
    np.savez(tmp_path / "good.npz", log_mel=np.asarray(test_avi[1].audio_log_mel, np.float32))
    result = run_python(MALFORMED, exports["audio"][1], tmp_path / "good.npz")
    assert_invalid_requests(result, {
        "log_mel_empty": "log_mel: no frames in the request",
        "log_mel_wrong_mel_size": "log_mel [654,32] is not compatible with expected shape [?,64]",
        "log_mel_rank_1": "log_mel [64] is not compatible with expected shape [?,64]",
        "log_mel_rank_3": "log_mel [654,64,1] is not compatible with expected shape [?,64]",
        "log_mel_float64": "expected to be a float tensor but is a double tensor",
        "log_mel_nan": "log_mel: values must be finite",
        "waveform_empty": "waveform: fewer samples than one 400-sample window",
        "waveform_short": "waveform: fewer samples than one 400-sample window",
        "waveform_stereo": "waveform [1600,2] is not compatible with expected shape [?]",
        "waveform_int16": "expected to be a float tensor but is a int16 tensor"})


# --- tsn-predict ---------------------------------------------------------------

def test_predict_fuses_rgb_flow_and_audio_1_1_5_1_on_a_real_clip_with_sound(exports,
                                                                           test_avi):
    folders = ",".join(exports[m][1] for m in ("rgb", "flow", "audio"))
    result = run_module("tsn_tf.export.predict_main", f"--model={folders}",
                        "--flow_algorithm=farneback", TEST_AVI)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "note:" not in result.stdout
    streams, frame_rate = client.read_encoded_video(TEST_AVI, ["rgb", "flow"],
                                                    flow_algorithm="farneback")
    log_mel = client.read_log_mel(TEST_AVI, streams.num_frames / frame_rate)
    np.testing.assert_array_equal(log_mel, log_mel_lib.log_mel(_waveform(test_avi[1])))
    scores = {m: signature_outputs(exports[m][1], client.jpeg_inputs(streams, m))["scores"]
              for m in ("rgb", "flow")}
    sound = signature_outputs(exports["audio"][1], client.audio_inputs(log_mel))["scores"]
    check_top5(printed_ranking(result.stdout), predict.softmax(scores["rgb"] + 1.5 * scores["flow"] + sound))


def test_predict_skips_the_audio_model_of_a_video_without_sound(exports):
    folders = f"{exports['rgb'][1]},{exports['audio'][1]}"
    result = run_module("tsn_tf.export.predict_main", f"--model={folders}",
                        "--fusion_weights=1,2", PART_0)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"note: {PART_0} has no audio track: audio model {exports['audio'][1]} skipped " \
        "(no evidence, not silence)" in result.stdout
    streams, _ = client.read_encoded_video(PART_0, ["rgb"])
    rgb = signature_outputs(exports["rgb"][1], client.jpeg_inputs(streams, "rgb"))
    check_top5(printed_ranking(result.stdout), rgb["probabilities"])

    alone = run_module("tsn_tf.export.predict_main", f"--model={exports['audio'][1]}", PART_0)
    assert alone.returncode != 0
    assert f"No model can score {PART_0}: {PART_0} has no audio track" in alone.stderr
    untrimmed = run_module("tsn_tf.export.predict_main", f"--model={exports['audio'][1]}",
                           "--untrimmed", TEST_AVI)
    assert untrimmed.returncode != 0 and "audio has no untrimmed mode" in untrimmed.stderr
