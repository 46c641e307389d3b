"""A video's flow over several processes equals the serial loop; progress inside a video."""
import io

import pytest

from export_helpers import make_run_dir, run_module
from tsn_tf.export import saved_model
from tsn_tf.input.ingestion import encode, flow_pool, progress, video


def test_frame_ranges_cover_the_pairs_in_order():
    # linspace(0, 10, 5) = 0, 2.5, 5, 7.5, 10, rounded half to even
    assert flow_pool.frame_ranges(10, 4) == [(0, 2), (2, 5), (5, 8), (8, 10)]
    assert flow_pool.frame_ranges(3, 8) == [(0, 1), (1, 2), (2, 3)]
    assert flow_pool.frame_ranges(5, 1) == [(0, 5)]


def test_parallel_flow_of_a_real_clip_has_the_serial_bytes(data_dir):
    """TV-L1 flow and warped flow of 12 frames on 2 processes (in 8 ranges) = 1 process."""
    frames = video.read_video(data_dir / "part_0.mp4", short_side=48, max_frames=12).frames
    bgr = [frame[..., ::-1].copy() for frame in frames]
    options = encode.IngestOptions(modalities=("rgb", "flow", "warped_flow"), size=None,
                                   short_side=48)
    serial = encode.encode_frames(bgr, options)
    text = io.StringIO()
    bar = progress.pairs_bar(11, "part_0", stream=text, delay=0)
    parallel = encode.encode_frames(bgr, options, workers=2, progress=bar)
    bar.close()
    assert len(serial.flow_x_jpegs) == len(serial.warped_flow_y_jpegs) == 11
    for field in ("rgb_jpegs", "flow_x_jpegs", "flow_y_jpegs", "warped_flow_x_jpegs",
                  "warped_flow_y_jpegs"):
        assert getattr(parallel, field) == getattr(serial, field), field
    assert "11/11 pairs" in text.getvalue() and "pair/s ETA" in text.getvalue()


@pytest.mark.slow
def test_ingest_shows_progress_inside_a_slow_video(data_dir, capsys, monkeypatch):
    """TV-L1 at 340x256: the video's bar counts its pairs on stderr (shown at once here;
    ingestion's 2 s delay would hide it on a fast, idle CPU)."""
    monkeypatch.setattr(progress, "PAIRS_BAR_DELAY_S", 0.0)
    options = encode.IngestOptions(modalities=("flow",), max_frames=5)
    record = encode.ingest_video(data_dir / "part_0.mp4", media_id="part_0",
                                 label_indices=[0], label_strings=["a"], options=options)
    assert len(record.flow_x_jpegs) == 4
    err = capsys.readouterr().err
    assert "part_0 flow:" in err and "4/4 pairs" in err and "ETA" in err


@pytest.mark.slow
def test_tsn_predict_spreads_tvl1_over_workers_with_the_serial_scores(tmp_path, data_dir):
    """--flow_workers=2 and 1 print the same scores, and a bar of the video's 7 pairs."""
    export = saved_model.export_saved_model(make_run_dir(tmp_path / "run", "flow"),
                                            str(tmp_path / "models"), "flow",
                                            warmup_requests=False)
    printed = {}
    for workers in (1, 2):
        result = run_module("tsn_tf.export.predict_main", f"--model={export}",
                            "--max_frames=8", f"--flow_workers={workers}",
                            data_dir / "part_0.mp4")
        assert result.returncode == 0, result.stderr[-3000:]
        assert "part_0.mp4 flow:" in result.stderr and "7/7 pairs" in result.stderr
        printed[workers] = [line for line in result.stdout.splitlines() if "\t" in line]
    assert len(printed[1]) == 5 and printed[2] == printed[1]
