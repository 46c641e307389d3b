"""Serving equals training for models trained on DIS, short-side shards (issue 14, 1-2).

A real ingestion (tsn-ingest --flow=dis --short_side=72) of tests/data clips,
tsn-train of a tiny RGB and a tiny flow model on it, tsn-export, tsn-eval on
the held-out 16:9 clip's shard, and tsn-predict on that clip's file: the
scores agree because tsn-predict reads the video as the training shards were
made (recorded by tsn-train, carried by tsn-export), not with its defaults
(340x256, TV-L1), which give other scores.
"""
import json
import pathlib

import numpy as np
import pytest

from export_helpers import (printed_ranking, run_module, run_python, save_drawn_weights,
                            succeeded)
from tsn_tf.trainers import reports

DATA_DIR = pathlib.Path(__file__).parent / "data"
HELD_OUT = DATA_DIR / "test_video_structuralize.mp4"  # 426x240: 16:9, NTSC rate
MODALITIES = ("rgb", "flow")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """{modality: (run dir, export dir, tsn-eval scores of the held-out video (C,))}."""
    base = tmp_path_factory.mktemp("dis_short_side")
    (base / "list.csv").write_text("part_0.mp4,arm wrestling,train\ntest.avi,talking,train\n"
                                   f"{HELD_OUT.name},talking,test\n")
    succeeded(run_module("tsn_tf.input.ingestion.ingest_main", f"--video_dir={DATA_DIR}",
                   "--list_format=csv",
                   f"--list_files={base / 'list.csv'}", f"--output={base / 'shards'}",
                   "--flow=dis", "--short_side=72", "--workers=0", "--num_shards=1"))
    out = {}
    for seed, modality in enumerate(MODALITIES):
        run_dir = base / f"run_{modality}"
        succeeded(run_module("tsn_tf.trainers.train", f"--train_shards={base / 'shards'}/train-*",
                       f"--model_dir={run_dir}", f"--modality={modality}", "--backbone=tiny",
                       "--input_size=32", "--num_segments=2", "--batch_size=2",
                       "--train_steps=1", "--noprogress"))
        # Scores of order 1 (a 1-step model scores ~0): 1e-4 then sees any skew.
        from tsn_tf.trainers import model_dir as model_dir_lib
        save_drawn_weights(model_dir_lib.restore_model(str(run_dir)), run_dir, seed,
                           checkpoint_number=100)
        export = succeeded(run_module("tsn_tf.export.export_main", f"--model_dir={run_dir}",
                                f"--export_base={base / 'models'}", f"--model_name={modality}",
                                "--eval_crops=1", "--nowarmup")).stdout.strip().splitlines()[-1]
        succeeded(run_module("tsn_tf.trainers.evaluate", f"--model_dir={run_dir}",
                       f"--eval_shards={base / 'shards'}/test-*", "--eval_crops=1",
                       f"--output_dir={base / 'eval'}"))
        ids, scores, _, names, _ = reports.load_stream(base / "eval" / f"scores_{modality}.npz")
        assert list(ids) == [HELD_OUT.stem]
        out[modality] = (run_dir, export, scores[0])
    return out


@pytest.mark.slow
def test_the_run_and_the_export_record_the_shards_preprocessing(trained):
    run_dir, export, _ = trained["flow"]
    recorded = json.loads((run_dir / "preprocessing.json").read_text())
    assert recorded["resize"] == "short_side=72" and recorded["flow_algorithm"] == "dis"
    assert recorded["jpeg_quality"] == 90 and recorded["flow_bound"] == 20.0
    assert recorded["flow_parameters"]["algorithm"] == "dis"
    assert recorded["flow_parameters"]["PatchSize"] == 8  # OpenCV's DIS preset MEDIUM
    info = json.loads((pathlib.Path(export) / "assets.extra" / "tsn_export.json").read_text())
    assert info["preprocessing"] == recorded and info["snippets_per_second"] == 1.0


SCORE_VIDEO = r"""
import json, sys
from tsn_tf.export import predict
model = predict.load_served_model(sys.argv[1])
print(json.dumps(predict.score_video(sys.argv[2], [model], weights=[1.0]).scores.tolist()))
"""


@pytest.mark.slow
@pytest.mark.parametrize("modality", MODALITIES)
def test_predict_on_the_held_out_file_gives_tsn_eval_scores(trained, modality):
    _, export, eval_scores = trained[modality]
    assert np.abs(eval_scores).max() > 0.5
    result = succeeded(run_python(SCORE_VIDEO, export, HELD_OUT))
    served = np.array(json.loads(result.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(served, eval_scores, atol=1e-4)


def _softmax(scores):
    exp = np.exp(scores - scores.max())
    return exp / exp.sum()


@pytest.mark.slow
def test_tsn_predict_fuses_as_tsn_eval_and_reports_overrides(trained):
    models = f"--model={trained['rgb'][1]},{trained['flow'][1]}"
    expected = _softmax(trained["rgb"][2] + 1.5 * trained["flow"][2])
    result = succeeded(run_module("tsn_tf.export.predict_main", models, HELD_OUT))
    assert "differs from training" not in result.stderr
    printed = dict(printed_ranking(result.stdout))
    labels = ["arm wrestling", "talking"]
    np.testing.assert_allclose([printed[name] for name in labels], expected, atol=6e-5)

    # tsn-predict's defaults before the record: 340x256 frames (Farneback for speed)
    other = succeeded(run_module("tsn_tf.export.predict_main", models, "--frame_size=340x256",
                           "--flow_algorithm=farneback", HELD_OUT))
    assert "resize='340x256' (training: 'short_side=72')" in other.stderr
    assert "flow_algorithm='farneback' (training: 'dis')" in other.stderr
    assert other.stderr.count("differs from training") == 2  # rgb: resize; flow: both
    skewed = dict(printed_ranking(other.stdout))
    assert np.abs(np.array([skewed[name] for name in labels]) - expected).max() > 1e-3
