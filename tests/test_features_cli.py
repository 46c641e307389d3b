"""tsn-features end to end: shards in, BSN / BMN files out; tsn-eval's snippet scores,
resume, a broken and a short video, and one-line errors for bad input."""
import json
import os

import cv2
import numpy as np
import pandas as pd
import pytest

from conftest import write_records
from export_helpers import make_run_dir, run_module
from test_snippet_features import FPS, INTERVAL, _record
from tsn_tf.trainers import untrimmed

LENGTHS = {"long_a": 61, "long_b": 30}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("features_cli")
    records = [_record("long_a", 61, 0), _record("short", 3, 1),
               _record("broken", 40, 2, broken_frame=INTERVAL // 2), _record("long_b", 30, 3)]
    shards = write_records(folder / "untrimmed-00000-of-00001.tfrecord", records)
    return folder, shards, make_run_dir(folder / "rgb", "rgb", seed=1), \
        make_run_dir(folder / "flow", "flow", seed=2)


def _features(shards, output, *streams, extra=()):
    return run_module("tsn_tf.trainers.features", f"--shards={shards}",
                      f"--streams={','.join(streams)}", f"--output_dir={output}",
                      f"--interval={INTERVAL}", *extra)


@pytest.mark.slow
def test_features_equal_tsn_eval_and_resume(setup):
    folder, shards, rgb, flow = setup
    output = folder / "out"
    first = _features(shards, output, f"rgb:{rgb}", f"flow:{flow}", extra=["--outputs=both"])
    assert first.returncode == 1, first.stderr[-2000:]  # one video failed
    assert "error: broken: " in first.stderr and "not a JPEG" in first.stderr
    assert "note: short: shorter than one snippet" in first.stderr
    assert "Wrote the features of 2 videos" in first.stdout
    manifest = json.loads((output / "manifest.json").read_text())
    videos = manifest["videos"]
    assert {k: v["status"] for k, v in videos.items()} == {
            "long_a": "done", "long_b": "done", "short": "skipped", "broken": "failed"}
    assert "shorter than one snippet" in videos["short"]["reason"]
    assert not (output / "npy" / "short.npy").exists()
    blocks = manifest["run"]["streams"]
    assert [(b["modality"], b["kind"]) for b in blocks] == [
            ("rgb", "features"), ("rgb", "scores"), ("flow", "features"), ("flow", "scores")]

    for run_dir, modality in ((rgb, "rgb"), (flow, "flow")):
        result = run_module("tsn_tf.trainers.evaluate", "--untrimmed", f"--model_dir={run_dir}",
                            f"--eval_shards={folder / 'clean*.tfrecord'}", "--eval_crops=1",
                            f"--snippet_interval={INTERVAL}", "--snippets_per_chunk=3",
                            "--write_snippet_scores")
        assert result.returncode == 0, result.stderr[-2000:]
        expected = untrimmed.load_snippet_scores(
                os.path.join(run_dir, "eval", f"snippet_scores_{modality}.npz"))
        start, stop = next(b["columns"] for b in blocks
                           if b["modality"] == modality and b["kind"] == "scores")
        for media_id, frames in LENGTHS.items():
            features = np.load(output / "npy" / f"{media_id}.npy")
            times = np.load(output / "times" / f"{media_id}.npy")
            count = len(np.arange(INTERVAL // 2, frames - 1, INTERVAL))  # flow: N - 1 frames
            assert features.shape == (count, blocks[-1]["columns"][1]) == (count, 2 * (32 + 6))
            np.testing.assert_allclose(features[:, start:stop], expected[media_id][1][:count],
                                       rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(times, np.arange(INTERVAL // 2, frames - 1, INTERVAL)
                                       / FPS, atol=1e-6)
    # BMN's VideoDataSet._load_file: pd.read_csv(...).values, then transposed to (D, 100)
    video_df = pd.read_csv(output / "csv_mean_100" / "long_a.csv")
    assert video_df.values[:, :].T.shape == (blocks[-1]["columns"][1], 100)
    info = pd.read_csv(output / "video_info.csv")
    assert list(info.columns) == ["video", "numFrame", "seconds", "fps", "rfps", "subset",
                                  "featureFrame"]
    assert dict(zip(info.video, info.numFrame)) == LENGTHS

    before = {p: p.stat().st_mtime_ns for p in (output / "npy").iterdir()}
    again = _features(shards, output, f"rgb:{rgb}", f"flow:{flow}", extra=["--outputs=both"])
    assert "error: broken: " in again.stderr  # failures are retried, finished videos are not
    assert "note: short" not in again.stderr  # nor skipped ones
    assert "Wrote the features of 0 videos" in again.stdout and "(3 done or skipped earlier)" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in (output / "npy").iterdir()} == before
    other = make_run_dir(folder / "rgb_other", "rgb", seed=5)  # other weights, same folder
    refused = _features(shards, output, f"rgb:{other}", f"flow:{flow}", extra=["--outputs=both"])
    assert refused.returncode != 0 and "holds features of another run" in refused.stderr


@pytest.fixture(scope="module", autouse=True)
def clean_shard(setup):
    """The same long videos without the short and broken ones (tsn-eval's input)."""
    folder = setup[0]
    write_records(folder / "clean-00000-of-00001.tfrecord",
                  [_record("long_a", 61, 0), _record("long_b", 30, 3)])


@pytest.mark.slow
def test_bad_input_is_one_line(setup, tmp_path):
    folder, shards, rgb, flow = setup
    (tmp_path / "file").write_text("")
    cases = {
        "is a flow model, given as the rgb stream": _features(shards, tmp_path / "a",
                                                              f"rgb:{flow}"),
        "interval must be >= 5, the frames a flow snippet reads. Received: 4": run_module(
            "tsn_tf.trainers.features", f"--shards={shards}", f"--streams=flow:{flow}",
            f"--output_dir={tmp_path / 'b'}", "--interval=4"),
        "cannot be created": _features(shards, tmp_path / "file" / "out", f"rgb:{rgb}"),
        "is not modality:folder": _features(shards, tmp_path / "c", f"{rgb}"),
        "--shards or --videos (one of them)": run_module(
            "tsn_tf.trainers.features", f"--shards={shards}", f"--videos={shards}",
            f"--streams=rgb:{rgb}", f"--output_dir={tmp_path / 'd'}"),
        "template '{id}' must name only {media_id}": _features(
            shards, tmp_path / "e", f"rgb:{rgb}", extra=["--file_name={id}"]),
    }
    for expected, result in cases.items():
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0 and len(lines) == 1 and expected in lines[-1], \
            (expected, result.stderr[-1500:])


@pytest.mark.slow
def test_raw_videos_with_exports_equal_the_shards_with_runs(tmp_path):
    """tsn-features --videos (SavedModels, DIS flow of the snippets' pairs only) writes the
    features tsn-features --shards writes for the same file ingested as the runs record."""
    from test_feature_serving import moving_square
    from tsn_tf.export import saved_model
    from tsn_tf.input.contract.preprocessing import Preprocessing
    from tsn_tf.input.ingestion import encode

    video = tmp_path / "square.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (48, 36))
    for frame in moving_square(70, (48, 36), seed=4):
        writer.write(frame)
    writer.release()
    (tmp_path / "broken.avi").write_bytes(b"not a video")
    recorded = Preprocessing(resize="48x36", flow_algorithm="dis")
    runs, exports = {}, {}
    for seed, modality in enumerate(("rgb", "flow")):
        runs[modality] = make_run_dir(tmp_path / modality, modality, seed=seed)
        recorded.save(runs[modality])
        exports[modality] = saved_model.export_saved_model(runs[modality],
                                                           str(tmp_path / "models"), modality)
    record = encode.ingest_video(str(video), media_id="square", label_indices=[0],
                                 label_strings=["a"],
                                 options=encode.options_for(recorded, ["rgb", "flow"]))
    shards = write_records(tmp_path / "square-00000-of-00001.tfrecord", [record])

    from_shards = run_module("tsn_tf.trainers.features", f"--shards={shards}",
                             f"--streams=rgb:{runs['rgb']},flow:{runs['flow']}",
                             f"--output_dir={tmp_path / 'shards_out'}", "--interval=16",
                             "--outputs=both")
    assert from_shards.returncode == 0, from_shards.stderr[-2000:]
    from_videos = run_module("tsn_tf.trainers.features", f"--videos={tmp_path / '*.avi'}",
                             f"--streams=rgb:{exports['rgb']},flow:{exports['flow']}",
                             f"--output_dir={tmp_path / 'videos_out'}", "--interval=16",
                             "--outputs=both")
    assert from_videos.returncode == 1 and "error: broken: " in from_videos.stderr, \
        from_videos.stderr[-2000:]
    expected = np.load(tmp_path / "shards_out" / "npy" / "square.npy")
    assert expected.shape == (4, 2 * (32 + 6))  # centres 8, 24, 40, 56 of 69 flow frames
    np.testing.assert_allclose(np.load(tmp_path / "videos_out" / "npy" / "square.npy"),
                               expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "videos_out" / "times" / "square.npy"),
                               [0.8, 2.4, 4.0, 5.6], atol=1e-6)
    manifest = json.loads((tmp_path / "videos_out" / "manifest.json").read_text())
    assert manifest["videos"]["broken"]["status"] == "failed"
