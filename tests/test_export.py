"""tsn-export: SavedModel signatures, no train/serve skew, serving contract, versions."""
import hashlib
import os
import pathlib
import re

import numpy as np
import pytest
import tensorflow as tf

from export_helpers import (LABELS, REPORT_MALFORMED, SAVED_MODEL_CLI, assert_invalid_requests,
                            call_in_fresh_process, ingest_clip, jpeg_arrays, make_run_dir,
                            read_json, run_command, run_module, run_python, saved_model_cli_scores)
from tsn_tf.export import client, saved_model, warmup
from tsn_tf.ops import serving
from tsn_tf.input import pipeline
from tsn_tf.trainers import evaluate, model_dir as model_dir_lib

DATA_DIR = pathlib.Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def part_0(tmp_path_factory):
    """tests/data/part_0.mp4 ingested (RGB + Farneback flow): (shard path, VideoRecord)."""
    return ingest_clip(DATA_DIR / "part_0.mp4", tmp_path_factory.mktemp("part_0"))


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """{(modality, crops): (run dir, version dir)}: RGB centre crop and flow 10 crops."""
    base = tmp_path_factory.mktemp("exports")
    result = {}
    for modality, crops in (("rgb", 1), ("flow", 10)):
        run_dir = make_run_dir(base / f"run_{modality}", modality)
        result[(modality, crops)] = (run_dir, saved_model.export_saved_model(
                run_dir, str(base / "models"), f"tsn_{modality}", eval_crops=crops))
    return result


def _tree_digest(folder):
    """{relative path: (sha256, mtime)} of every file under `folder`."""
    digest = {}
    for path in sorted(pathlib.Path(folder).rglob("*")):
        if path.is_file():
            digest[str(path.relative_to(folder))] = (
                    hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    return digest


def _decoded(record, modality):
    """predict_frames input: uint8 (N, H, W, 3) RGB or (N-1, H, W, 2) flow, decoded by TF."""
    decode = lambda jpegs, c: np.stack([tf.io.decode_jpeg(j, channels=c).numpy() for j in jpegs])
    if modality == "rgb":
        return {"frames": decode(record.rgb_jpegs, 3)}
    return {"flow": np.concatenate([decode(record.flow_x_jpegs, 1),
                                    decode(record.flow_y_jpegs, 1)], axis=-1)}


@pytest.mark.parametrize("modality,crops", [("rgb", 1), ("flow", 10)])
def test_saved_model_in_fresh_process_matches_tsn_eval_scores(exports, part_0, tmp_path,
                                                              modality, crops):
    run_dir, version_dir = exports[(modality, crops)]
    shard, record = part_0
    # tsn-eval's own path: its dataset builder and score_videos on the restored K=25 model.
    config = model_dir_lib.RunConfig.load(run_dir)
    dataset = evaluate.eval_dataset(config, shard, num_segments=25, eval_crops=crops,
                                    batch_size=1)
    _, eval_scores, _ = evaluate.score_videos(model_dir_lib.restore_model(run_dir, 25), dataset,
                                              progress=False)
    # Untrimmed reference: the eval pipeline at 1 snippet/s, per-snippet scores, max over crops.
    untrimmed = pipeline.make_dataset(shard, modality=modality, num_segments=25, training=False,
                                      batch_size=1, mean=config.normalization()[0],
                                      std=config.normalization()[1], output_size=32,
                                      eval_crops=crops, untrimmed_fps=1.0)
    clips, _, extras = next(iter(untrimmed))
    one_segment = model_dir_lib.restore_model(run_dir, 1)
    snippets = tf.reshape(clips[0], (-1, 1, *clips.shape[3:]))
    snippet_reference = tf.reduce_max(tf.reshape(one_segment(snippets), (crops, -1, 6)), axis=0)

    jpegs = jpeg_arrays(record, modality)
    out = call_in_fresh_process(version_dir, {
        "serving_default": jpegs,
        "predict_frames": _decoded(record, modality),
        "snippet_scores": {**jpegs, "frame_rate": np.float32(record.frame_rate)}}, tmp_path)

    assert np.abs(eval_scores[0]).max() > 0.5  # scores of order 1: 1e-4 can see a skew
    np.testing.assert_allclose(out["serving_default/scores"], eval_scores[0], atol=1e-4)
    probabilities = out["serving_default/probabilities"]
    np.testing.assert_allclose(probabilities, tf.nn.softmax(eval_scores[0]).numpy(), atol=1e-5)
    order = np.argsort(-probabilities)[:5]
    np.testing.assert_array_equal(out["serving_default/top_k_indices"], order)
    assert [v.decode() for v in out["serving_default/top_k_labels"]] == [LABELS[i] for i in order]
    np.testing.assert_allclose(out["predict_frames/scores"], out["serving_default/scores"],
                               atol=1e-5)
    np.testing.assert_allclose(out["snippet_scores/scores"], snippet_reference, atol=1e-4)
    # the signature places snippets at offset / frame_rate (it has no frame times);
    # tsn-eval reports each snippet's stored presentation time, as tsn-predict does
    offsets = np.rint(out["snippet_scores/timestamps"] * np.float64(record.frame_rate))
    np.testing.assert_array_equal(offsets, np.floor(np.arange(len(offsets)) * record.frame_rate))
    np.testing.assert_allclose(extras["timestamps"][0],
                               np.asarray(record.timestamps_us)[offsets.astype(int)] / 1e6,
                               atol=2e-6)


@pytest.mark.parametrize("modality,crops", [("rgb", 10), ("flow", 10), ("rgb_diff", 3)])
def test_uint8_frames_path_gives_the_same_clips_as_jpeg_path(part_0, modality, crops):
    _, record = part_0
    settings = serving.ViewSettings(modality=modality, input_size=32, mean=(100.0,),
                                       std=(50.0,), num_segments=25, eval_crops=crops)
    jpegs = [tf.constant(v) for v in jpeg_arrays(record, "rgb" if modality != "flow"
                                                 else "flow").values()]
    frames = tf.constant(next(iter(_decoded(record, "rgb" if modality != "flow"
                                            else "flow").values())))
    offsets = serving.test_offsets(tf.shape(frames)[0], settings)
    from_jpegs = serving.clips_from_jpegs(jpegs, offsets, settings)
    from_frames = serving.clips_from_frames(frames, offsets, settings)
    assert from_jpegs.shape == (crops, 25, 32, 32, settings.channels)
    np.testing.assert_array_equal(from_frames.numpy(), from_jpegs.numpy())


def test_signatures_and_assets_of_the_export(exports):
    _, version_dir = exports[("rgb", 1)]
    assert pathlib.Path(version_dir).name == "1"
    assert (pathlib.Path(version_dir) / "assets" / "label_map.txt").read_text().splitlines() \
        == LABELS
    info = read_json(pathlib.Path(version_dir) / "assets.extra" / "tsn_export.json")
    assert info["view_settings"]["num_segments"] == 25 and info["labels"] == LABELS
    loaded = tf.saved_model.load(version_dir)
    assert set(loaded.signatures) == {"serving_default", "predict_frames", "snippet_scores",
                                      "snippet_features"}
    flow = tf.saved_model.load(exports[("flow", 10)][1]).signatures["serving_default"]
    assert set(flow.structured_input_signature[1]) == {"flow_x", "flow_y"}


def test_warmup_file_holds_predict_requests_that_the_model_answers(exports):
    for modality, crops in exports:
        _, version_dir = exports[(modality, crops)]
        requests = warmup.read_warmup_file(
                os.path.join(version_dir, "assets.extra", "tf_serving_warmup_requests"))
        assert [r.model_spec.signature_name for r in requests] == \
            ["serving_default", "predict_frames", "snippet_scores", "snippet_features"]
        assert {r.model_spec.name for r in requests} == {f"tsn_{modality}"}
        signatures = tf.saved_model.load(version_dir).signatures
        for request in requests:
            inputs = client.request_inputs(request)
            outputs = signatures[request.model_spec.signature_name](
                    **{k: tf.constant(v) for k, v in inputs.items()})
            assert np.isfinite(outputs["scores"].numpy()).all()


def test_saved_model_cli_show_and_run(exports, part_0, tmp_path):
    _, version_dir = exports[("rgb", 1)]
    show = run_command(SAVED_MODEL_CLI, "show", "--all", "--dir", version_dir)
    assert show.returncode == 0, show.stderr[-2000:]
    for text in ("signature_def['serving_default']", "signature_def['predict_frames']",
                 "signature_def['snippet_scores']", "Method name is: tensorflow/serving/predict",
                 "outputs['top_k_labels']", "dtype: DT_STRING"):
        assert text in show.stdout, text

    frames = jpeg_arrays(part_0[1], "rgb")["frames"]
    cli_scores = saved_model_cli_scores(version_dir, "frames", frames, tmp_path)
    expected = tf.saved_model.load(version_dir).signatures["serving_default"](
            frames=tf.constant(frames))["scores"].numpy()
    np.testing.assert_allclose(cli_scores, expected, rtol=1e-5, atol=1e-5)


MALFORMED = r"""
import json, sys
import numpy as np
import tensorflow as tf

version_dir, good_path, modality = sys.argv[1:4]
good = {k: v for k, v in np.load(good_path, allow_pickle=True).items()}
signatures = tf.saved_model.load(version_dir).signatures
jpeg_fn, frames_fn = signatures["serving_default"], signatures["predict_frames"]
names = list(good)
png = tf.io.encode_png(tf.zeros([4, 4, 3], tf.uint8)).numpy()
channels = 3 if modality == "rgb" else 2
frames_name = "frames" if modality == "rgb" else "flow"
bad = {
    "no_frames": lambda: jpeg_fn(**{n: tf.constant([], tf.string) for n in names}),
    "not_jpeg": lambda: jpeg_fn(**{n: tf.constant([b"not a jpeg", png]) for n in names}),
    "one_bad_frame": lambda: jpeg_fn(**{n: tf.constant(list(good[n][:-1]) + [b"x"])
                                        for n in names}),
    "rank_2": lambda: jpeg_fn(**{n: tf.constant([list(good[n][:2])]) for n in names}),
    "float_dtype": lambda: jpeg_fn(**{n: tf.constant([1.0, 2.0]) for n in names}),
    "frames_wrong_channels": lambda: frames_fn(**{frames_name: tf.zeros([3, 8, 8, 4], tf.uint8)}),
    "frames_empty": lambda: frames_fn(**{frames_name: tf.zeros([0, 8, 8, channels], tf.uint8)}),
    "frames_float": lambda: frames_fn(**{frames_name: tf.zeros([3, 8, 8, channels])}),
}
good_call = lambda: jpeg_fn(**{n: tf.constant(v) for n, v in good.items()})
""" + REPORT_MALFORMED


@pytest.mark.parametrize("modality,crops", [("rgb", 1), ("flow", 10)])
def test_malformed_requests_fail_with_invalid_argument_and_next_succeeds(
        exports, part_0, tmp_path, modality, crops):
    _, version_dir = exports[(modality, crops)]
    np.savez(tmp_path / "good.npz", **jpeg_arrays(part_0[1], modality))
    result = run_python(MALFORMED, version_dir, tmp_path / "good.npz", modality)
    assert_invalid_requests(result, {
        "no_frames": "no frames in the request", "not_jpeg": "is not a JPEG image",
        "one_bad_frame": "is not a JPEG image", "rank_2": "is not compatible with expected "
        "shape [?]", "float_dtype": "expected to be a string tensor",
        "frames_wrong_channels": "is not compatible with expected shape",
        "frames_empty": "empty frames", "frames_float": "expected to be a uint8 tensor"})


def test_export_into_existing_version_fails_and_leaves_it_untouched(exports, tmp_path):
    run_dir, version_dir = exports[("rgb", 1)]
    model_base = pathlib.Path(version_dir).parent
    before = _tree_digest(model_base)
    with pytest.raises(FileExistsError, match=re.escape(str(model_base / "1"))):
        saved_model.export_saved_model(run_dir, str(model_base.parent), model_base.name,
                                       version=1)
    assert _tree_digest(model_base) == before
    assert sorted(p.name for p in model_base.iterdir()) == ["1"]
    assert saved_model.next_version(str(model_base)) == 2


def test_export_cli_writes_next_version_and_refuses_an_existing_one(exports, tmp_path):
    run_dir, _ = exports[("rgb", 1)]
    first = run_module("tsn_tf.export.export_main", f"--model_dir={run_dir}",
                       f"--export_base={tmp_path}", "--model_name=m", "--nowarmup")
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.strip().splitlines()[-1] == str(tmp_path / "m" / "1")
    before = _tree_digest(tmp_path / "m")
    again = run_module("tsn_tf.export.export_main", f"--model_dir={run_dir}",
                       f"--export_base={tmp_path}", "--model_name=m", "--version=1")
    assert again.returncode != 0
    assert f"{tmp_path / 'm' / '1'} already exists" in again.stderr
    assert _tree_digest(tmp_path / "m") == before
    assert not (tmp_path / "m" / "1" / "assets.extra" / "tf_serving_warmup_requests").exists()


def test_export_names_a_missing_checkpoint_and_writes_nothing(exports, tmp_path):
    run_dir, _ = exports[("rgb", 1)]
    with pytest.raises(FileNotFoundError, match=r"Checkpoint '.*ckpt-999' not found"):
        saved_model.export_saved_model(run_dir, str(tmp_path), "m",
                                       checkpoint=f"{run_dir}/ckpt/ckpt-999")
    assert list(tmp_path.iterdir()) == []
