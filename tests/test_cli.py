"""The console scripts as a user runs them: --help, quiet start, one-line errors on real files."""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import DATA_DIR, write_records
from export_helpers import LABELS, make_run_dir
from tsn_tf.input.pipeline import frame_check
from tsn_tf.input.contract import schema

BIN = pathlib.Path(sys.executable).parent


def run_tool(tool, *args, env=None, timeout=300):
    """Runs console script `tool` with TF_CPP_MIN_LOG_LEVEL unset, as a user's shell has it."""
    clean = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([str(BIN / tool), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**clean, **(env or {})})


# --- 6. --help: the tool's own flags ------------------------------------------------------

TOOLS = [  # two in the fast suite
    ("tsn-ingest", "--short_side"),
    ("tsn-train", "--batch_size"),
    pytest.param("tsn-eval", "--eval_crops", marks=pytest.mark.slow),
    pytest.param("tsn-fuse", "--fusion_weights", marks=pytest.mark.slow),
    pytest.param("tsn-export", "--export_base", marks=pytest.mark.slow),
    pytest.param("tsn-predict", "--flow_algorithm", marks=pytest.mark.slow),
    pytest.param("tsn-demo", "--videos_per_class", marks=pytest.mark.slow),
    pytest.param("tsn-features", "--interval", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("tool, own_flag", TOOLS)
def test_help_lists_the_tools_own_flags_and_nothing_of_tf(tool, own_flag):
    result = run_tool(tool, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{tool}: ")  # the tool's docstring
    assert f"  {own_flag}:" in result.stdout and "  --[no]verbose:" in result.stdout
    assert "Try --helpfull" not in result.stdout
    for foreign in ("--logtostderr", "--only_check_args", "--tt_check_filter"):  # absl, TF
        assert foreign not in result.stdout
    assert result.stderr == ""  # no TF start-up lines


# --- 4 and 11. one-line errors, quiet unless --verbose ---------------------------------------

def test_errors_are_one_line_and_verbose_shows_tf_logs_and_the_traceback(tmp_path):
    missing = tmp_path / "no_run"
    quiet = run_tool("tsn-export", f"--model_dir={missing}", f"--export_base={tmp_path}")
    assert quiet.returncode == 1
    assert len(quiet.stderr.splitlines()) == 1 and quiet.stderr.startswith("error: ")
    assert str(missing) in quiet.stderr
    # TF turns oneDNN on by itself only on some CPUs; its start-up line needs it on.
    verbose = run_tool("tsn-export", f"--model_dir={missing}", f"--export_base={tmp_path}",
                       "--verbose", env={"TF_ENABLE_ONEDNN_OPTS": "1"})
    assert verbose.returncode == 1
    assert "oneDNN custom operations are on" in verbose.stderr  # TF's C++ start-up line
    assert "Traceback (most recent call last)" in verbose.stderr


def _frames(count, size=(40, 32)):
    rng = np.random.default_rng(0)
    return [schema.jpeg_bytes(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
            for _ in range(count)]


def _record(media_id, rgb_jpegs):
    return schema.VideoRecord(media_id=media_id, label_indices=[1], label_strings=[LABELS[1]],
                              height=32, width=40, frame_rate=25.0, rgb_jpegs=rgb_jpegs,
                              timestamps_us=[40000 * i for i in range(len(rgb_jpegs))])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny RGB run folder (6 classes, K=2, 32 px)."""
    return make_run_dir(tmp_path_factory.mktemp("cli_run") / "rgb", "rgb")


def _eval(run_dir, shards, tmp_path):
    return run_tool("tsn-eval", f"--model_dir={run_dir}", f"--eval_shards={shards}",
                    "--eval_crops=1", "--eval_segments=2", f"--output_dir={tmp_path / 'eval'}")


@pytest.mark.parametrize("bad, explained", [
    (b"GIF89a not a jpeg", ""),  # named by the pipeline's check
    (b"\xff\xd8\xff\xe0 cut short", r" (starts with b'\xff\xd8\xff\xe0 cut')")])  # frame_check
def test_eval_names_the_shard_and_video_of_a_frame_that_is_no_jpeg(run_dir, tmp_path, bad,
                                                                   explained):
    frames = _frames(6)
    bad_frames = frames[:1] + [bad] * 5  # whichever frames eval samples
    write_records(tmp_path / "a-00000-of-00002.tfrecord", [_record("good", frames)])
    bad_shard = write_records(tmp_path / "a-00001-of-00002.tfrecord",
                              [_record("good_too", frames), _record("v_broken", bad_frames)])
    result = _eval(run_dir, tmp_path / "a-*.tfrecord", tmp_path)
    assert result.returncode == 1
    # (libjpeg itself may print "Improper call to JPEG library ..." lines first)
    assert [line for line in result.stderr.splitlines() if "JPEG library" not in line] == [
        f"error: shard {bad_shard}, video v_broken: image/encoded frame 1 is not a JPEG"
        + explained]


def test_first_bad_frame_looks_at_every_stream(tmp_path):
    frames = _frames(4)
    record = _record("v_flow", frames)
    record.flow_x_jpegs, record.flow_y_jpegs = frames[:3], frames[:2] + [b"\x00" * 10]
    write_records(tmp_path / "good.tfrecord", [_record("fine", frames)])
    write_records(tmp_path / "bad.tfrecord", [record])
    assert frame_check.first_bad_frame(str(tmp_path / "good.tfrecord")) is None
    assert frame_check.first_bad_frame(str(tmp_path / "*.tfrecord")) == (
        f"shard {tmp_path / 'bad.tfrecord'}, video v_flow: FLOW_Y/image/encoded "
        "frame 2 is not a JPEG (starts with b'\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00')")
    not_a_decode_error = tf.errors.InvalidArgumentError(None, None, "shapes differ")
    assert frame_check.explain(not_a_decode_error, str(tmp_path / "*.tfrecord")) is None


def test_eval_names_a_truncated_shard(run_dir, tmp_path):
    shard = write_records(tmp_path / "t-00000-of-00001.tfrecord",
                          [_record("one", _frames(4)), _record("two", _frames(4))])
    data = pathlib.Path(shard).read_bytes()
    pathlib.Path(shard).write_bytes(data[:len(data) - 100])
    result = _eval(run_dir, shard, tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: Shard {shard} has no readable tsn-tf frame index"), lines[0]
    assert lines[0].endswith("or the file is truncated or corrupt."), lines[0]


# --- 7. --short_side with --frame_size; aspect-ratio changes ---------------------------------

def _csv(tmp_path, names):
    path = tmp_path / "train.csv"
    path.write_text("".join(f"{name},class_{i % 2}\n" for i, name in enumerate(names)))
    return path


def test_ingest_refuses_short_side_with_frame_size(tmp_path):
    result = run_tool("tsn-ingest", f"--video_dir={DATA_DIR}", "--list_format=csv",
                      f"--list_files={_csv(tmp_path, ['part_0.mp4'])}",
                      f"--output={tmp_path / 'out'}", "--short_side=72", "--frame_size=340x256")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: --short_side=72 and --frame_size=340x256 both set the stored frame size: "
        "pass one of them"]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_ingest_reports_once_how_many_videos_changed_aspect_ratio(tmp_path):
    # 340x256 (kept), 320x240 (4:3 -> 340x256: x0.996, within 1%), 426x240 (x0.748)
    names = ["part_0.mp4", "test.avi", "test_video_structuralize.mp4"]
    common = [f"--video_dir={DATA_DIR}", "--list_format=csv", "--modalities=rgb",
              "--max_frames=3", "--workers=0", f"--list_files={_csv(tmp_path, names)}"]
    squashed = run_tool("tsn-ingest", *common, f"--output={tmp_path / 'squashed'}")
    assert squashed.returncode == 0, squashed.stderr
    notes = [line for line in squashed.stderr.splitlines() if "aspect ratio" in line]
    assert notes == ["note: 1 of 3 videos changed aspect ratio to fit --frame_size=340x256: "
                     "width/height x0.75 to x0.75 of the source's (TSN's 340x256 does this); "
                     "--short_side keeps the aspect ratio."]
    manifest = json.loads((tmp_path / "squashed" / "manifest.json").read_text())
    factor = (340 / 256) / (426 / 240)
    assert manifest["aspect_ratio_changed"] == {"videos": 1, "min_factor": round(factor, 4),
                                                "max_factor": round(factor, 4)}
    kept = run_tool("tsn-ingest", *common, "--short_side=72", f"--output={tmp_path / 'kept'}")
    assert kept.returncode == 0, kept.stderr
    assert "aspect ratio" not in kept.stderr


def test_fuse_names_a_bad_weight_and_a_missing_score_file(tmp_path):
    scores = f"--scores={tmp_path / 'rgb.npz'},{tmp_path / 'flow.npz'}"
    weights = run_tool("tsn-fuse", scores, "--fusion_weights=1,x")
    assert weights.returncode == 1
    assert weights.stderr.splitlines()[0] == ("FATAL Flags parsing error: flag --fusion_weights="
                                              "['1', 'x']: --fusion_weights takes numbers, "
                                              "comma separated")
    missing = run_tool("tsn-fuse", scores)
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        f"error: Score file {tmp_path / 'rgb.npz'} not found (written by tsn-eval)."]
