"""Ingestion with the TF TV-L1 (--flow=tvl1_tsn | tvl1_denseflow | tvl1_opencv): batched
pairs equal pairs computed alone, the record names the variant, tvl1_opencv stores the
flow cv2's tvl1 stores, and shards made so train, evaluate, export and predict."""
import contextlib
import json
import pathlib

import cv2
import numpy as np
import pytest

from tsn_tf.input.contract.preprocessing import Preprocessing
from tsn_tf.input.ingestion import encode, flow, flow_tf, video
from tsn_tf.ops import tvl1

DATA_DIR = pathlib.Path(__file__).parent / "data"


def _greys(count, size=(40, 30), clip="part_0.mp4"):
    frames = video.read_video(DATA_DIR / clip, size=size, max_frames=count).frames
    return [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]


def test_batched_pairs_equal_each_pair_alone_with_a_padded_last_batch():
    greys = _greys(10)                     # 9 pairs: a batch of 8, then 1 padded with copies
    batched = list(flow_tf.video_flows(greys, "tvl1_tsn"))
    assert len(batched) == 9 and flow_tf.DEFAULT_BATCH == 8
    alone = flow.FlowEstimator("tvl1_tsn")  # a batch of one pair
    for i, computed in enumerate(batched):
        np.testing.assert_allclose(computed, alone(greys[i], greys[i + 1]), atol=1e-4)
    assert np.abs(batched[7] - batched[8]).max() > 0.01  # the pairs differ: no pair reused


def test_the_record_names_the_variant_and_its_parameters(tmp_path):
    options = encode.IngestOptions(modalities=("rgb", "flow"), flow_algorithm="tvl1_tsn",
                                   size=(40, 30), max_frames=4)
    record = encode.ingest_video(DATA_DIR / "part_0.mp4", media_id="v", label_indices=[0],
                                 label_strings=["a"], options=options)
    assert len(record.rgb_jpegs) == 4 and len(record.flow_x_jpegs) == 3
    assert record.flow_algorithm == "tvl1_tsn"
    parameters = json.loads(record.flow_parameters)
    assert parameters["variant"] == "tsn" and parameters["engine"] == "tensorflow"
    assert (parameters["pyramid"], parameters["flow_upscale"]) == ("halve", 2.0)
    assert (parameters["iterations"], parameters["tau"], parameters["lambda_"]) == (300, 0.25,
                                                                                      0.15)
    recorded = Preprocessing.from_record(record)
    again = encode.options_for(recorded, ["flow"])
    assert again.flow_algorithm == "tvl1_tsn" and again.size == (40, 30)


@contextlib.contextmanager
def _ipp_off():
    before = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(False)
    try:
        yield
    finally:
        cv2.ipp.setUseIPP(before)


def _decoded(jpegs):
    return np.stack([cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_GRAYSCALE)
                     for j in jpegs]).astype(int)


@pytest.mark.slow  # compiling the opencv variant's nested loops with XLA: ~30-70 s
def test_tvl1_opencv_stores_the_flow_cv2_tvl1_stores():
    frames = video.read_video(DATA_DIR / "demo.mp4", size=(68, 51), max_frames=5).frames
    with _ipp_off():
        streams = {name: encode.encode_frames(frames, encode.IngestOptions(
                modalities=("flow",), flow_algorithm=name)) for name in ("tvl1", "tvl1_opencv")}
    for key in ("flow_x_jpegs", "flow_y_jpegs"):
        ours, theirs = (_decoded(getattr(streams[n], key)) for n in ("tvl1_opencv", "tvl1"))
        within_one = np.mean(np.abs(ours - theirs) <= 1)
        assert within_one >= 0.995, (key, within_one)


def test_a_tf_algorithm_is_accepted_where_flow_algorithms_are_named():
    assert set(flow_tf.ALGORITHMS) == set(flow.TF_ALGORITHMS)
    assert {flow_tf.variant(name) for name in flow.TF_ALGORITHMS} == set(tvl1.VARIANTS)
    with pytest.raises(ValueError, match="'tvl1' is not a TF flow algorithm"):
        flow_tf.variant("tvl1")
    assert encode.IngestOptions(flow_algorithm="tvl1_denseflow").flow_algorithm \
        == "tvl1_denseflow"


@pytest.mark.slow
def test_shards_of_tf_flow_train_evaluate_export_and_predict_alike(tmp_path):
    from export_helpers import run_module, run_python, save_drawn_weights
    from tsn_tf.trainers import model_dir as model_dir_lib
    from tsn_tf.trainers import reports

    def ok(result):
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    held_out = DATA_DIR / "test_video_structuralize.mp4"
    (tmp_path / "list.csv").write_text("part_0.mp4,a,train\ndemo.mp4,b,train\n"
                                       f"{held_out.name},a,test\n")
    ok(run_module("tsn_tf.input.ingestion.ingest_main", f"--video_dir={DATA_DIR}",
                  "--list_format=csv", f"--list_files={tmp_path / 'list.csv'}",
                  f"--output={tmp_path / 'shards'}", "--flow=tvl1_tsn", "--short_side=32",
                  "--max_frames=24", "--modalities=flow", "--workers=0", "--num_shards=1"))
    run_dir = tmp_path / "run"
    ok(run_module("tsn_tf.trainers.train", f"--train_shards={tmp_path / 'shards'}/train-*",
                  f"--model_dir={run_dir}", "--modality=flow", "--backbone=tiny",
                  "--input_size=32", "--num_segments=2", "--batch_size=2", "--train_steps=1",
                  "--noprogress"))
    assert json.loads((run_dir / "preprocessing.json").read_text())["flow_algorithm"] \
        == "tvl1_tsn"
    save_drawn_weights(model_dir_lib.restore_model(str(run_dir)), run_dir, 0,
                       checkpoint_number=100)
    export = ok(run_module("tsn_tf.export.export_main", f"--model_dir={run_dir}",
                           f"--export_base={tmp_path / 'models'}", "--model_name=flow",
                           "--eval_crops=1", "--nowarmup")).stdout.strip().splitlines()[-1]
    ok(run_module("tsn_tf.trainers.evaluate", f"--model_dir={run_dir}",
                  f"--eval_shards={tmp_path / 'shards'}/test-*", "--eval_crops=1",
                  f"--output_dir={tmp_path / 'eval'}"))
    _, scores, _, _, _ = reports.load_stream(tmp_path / "eval" / "scores_flow.npz")
    predicted = ok(run_python(
            "import json, sys\nfrom tsn_tf.export import predict\n"
            "model = predict.load_served_model(sys.argv[1])\n"
            "print(json.dumps(predict.score_video(sys.argv[2], [model], weights=[1.0], "
            "options=predict.ReadOptions(max_frames=24)).scores.tolist()))",
            export, str(held_out)))
    np.testing.assert_allclose(json.loads(predicted.stdout.splitlines()[-1]), scores[0],
                               atol=1e-4)
