"""tsn-train / tsn-eval / tsn-fuse as real processes on real shards."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import write_tiny_shards
from tsn_tf.schedules import TSNSchedule

TRAIN = [sys.executable, "-m", "tsn_tf.trainers.train"]
COMMON = ["--backbone=tiny", "--input_size=32", "--num_segments=2", "--batch_size=4",
          "--noprogress"]


def _train(shards, model_dir, *extra, check=True, timeout=300):
    return subprocess.run([*TRAIN, f"--train_shards={shards}", f"--model_dir={model_dir}",
                           *COMMON, *extra], capture_output=True, text=True, timeout=timeout,
                          check=check)


def _logged(model_dir, tag):
    """{step: value} of a scalar in the run's train events."""
    values = {}
    for path in tf.io.gfile.glob(os.path.join(model_dir, "train", "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == tag:
                    values[event.step] = float(tf.make_ndarray(value.tensor))
    return values


def _wait_for(predicate, process, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        assert process.poll() is None, process.communicate()[1][-3000:]
        time.sleep(0.2)
    raise TimeoutError


@pytest.mark.parametrize("flag, message", [
    ("--num_segments=0", "flag --num_segments=0: 0 is not a positive integer"),
    ("--batch_size=0", "flag --batch_size=0: 0 is not a positive integer"),
    ("--modality=warped_flow", "does not have"),
    ("--train_shards=/nonexistent/*.tfrecord", "No TFRecord shards match"),
    ("--modality=audio --resize_in=step", "--resize_in=step is for the video streams"),
])
def test_bad_flags_fail_early_naming_the_flag(tiny_shards, tmp_path, flag, message):
    result = _train(tiny_shards, tmp_path, *flag.split(), check=False)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_resume_after_sigkill_keeps_step_optimizer_and_schedule(tiny_shards, tmp_path):
    flags = ["--train_steps=60", "--save_every=3", "--log_every=1", "--lr_steps=30",
             "--learning_rate=0.01"]
    process = subprocess.Popen([*TRAIN, f"--train_shards={tiny_shards}", f"--model_dir={tmp_path}",
                                *COMMON, *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    _wait_for(lambda: tf.train.latest_checkpoint(tmp_path / "ckpt") not in (None, ), process)
    _wait_for(lambda: int(tf.train.latest_checkpoint(tmp_path / "ckpt").rsplit("-", 1)[1]) >= 6,
              process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = int(tf.train.latest_checkpoint(tmp_path / "ckpt").rsplit("-", 1)[1])
    assert 6 <= killed_at < 60
    saved = tf.train.load_checkpoint(str(tmp_path / "ckpt" / f"ckpt-{killed_at}"))
    momentum_keys = [k for k in saved.get_variable_to_shape_map() if k.startswith("optimizer/_variables/")]
    assert momentum_keys and any(np.abs(saved.get_tensor(k)).max() > 0 for k in momentum_keys)

    result = _train(tiny_shards, tmp_path, *flags)
    assert f"at step {killed_at}" in result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["step"] == 60
    learning_rates = _logged(tmp_path, "learning_rate")
    schedule = TSNSchedule(0.01, "multistep", boundaries=(30,))
    resumed_steps = [step for step in learning_rates if step > killed_at]
    assert resumed_steps == list(range(killed_at + 1, 61))
    for step in resumed_steps:  # logged at `done`, computed for the step before it
        assert learning_rates[step] == pytest.approx(float(schedule(step - 1)))


@pytest.mark.slow
def test_sigterm_saves_and_exits_cleanly(tiny_shards, tmp_path):
    process = subprocess.Popen([*TRAIN, f"--train_shards={tiny_shards}", f"--model_dir={tmp_path}",
                                *COMMON, "--train_steps=100000", "--save_every=100000",
                                "--log_every=1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    _wait_for(lambda: len(_logged(tmp_path, "loss")) >= 3, process)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-3000:]
    stopped = json.loads(out.strip().splitlines()[-1])
    assert 3 <= stopped["step"] < 100000
    assert stopped["checkpoint"].endswith(f"ckpt-{stopped['step']}")


@pytest.mark.slow
def test_short_training_beats_chance_on_held_out_videos_and_fuses(tiny_shards, tmp_path):
    test_shards = write_tiny_shards(tmp_path / "test", seed=7, split="test")
    eval_command = [sys.executable, "-m", "tsn_tf.trainers.evaluate", f"--eval_shards={test_shards}",
                    "--eval_segments=5", "--eval_crops=3", "--eval_batch_size=4"]
    score_files = []
    for modality in ("rgb", "flow"):
        model_dir = tmp_path / modality
        # 16 of 16 seeds at 100 % with these settings (40 steps at 0.05: 66.7 % in 8 of 16)
        _train(tiny_shards, model_dir, f"--modality={modality}", "--train_steps=80",
               "--learning_rate=0.02", "--save_every=80", "--deterministic")
        result = subprocess.run([*eval_command, f"--model_dir={model_dir}"], capture_output=True,
                                text=True, timeout=300, check=True)
        metrics = json.loads(result.stdout.strip().splitlines()[-1])
        assert metrics["videos"] == 12 and metrics["crops"] == 3
        assert metrics["top1"] > 66.0, metrics  # chance: 33 %
        assert (model_dir / "eval" / "confusion.png").stat().st_size > 100
        score_files.append(str(model_dir / "eval" / f"scores_{modality}.npz"))
    fused = subprocess.run([sys.executable, "-m", "tsn_tf.trainers.fuse",
                            f"--scores={','.join(score_files)}"], capture_output=True, text=True,
                           timeout=120, check=True)
    assert json.loads(fused.stdout.strip().splitlines()[-1])["top1"] > 66.0


def _weights(model_dir):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(model_dir / "ckpt"))
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()
            if key.startswith(("model/", "optimizer/_trainable_variables/"))}


@pytest.mark.slow
def test_deterministic_runs_repeat_exactly_for_a_seed(tiny_shards, tmp_path):
    flags = ["--modality=flow", "--train_steps=6", "--save_every=6", "--deterministic"]
    runs = {name: tmp_path / name for name in ("a", "b", "other_seed")}
    for name, model_dir in runs.items():
        _train(tiny_shards, model_dir, *flags, f"--seed={7 if name == 'other_seed' else 3}")
    first, second, other = (_weights(model_dir) for model_dir in runs.values())
    assert first.keys() == second.keys() and len(first) > 4
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    assert any(not np.array_equal(first[key], other[key]) for key in first)


def _event_tags(model_dir):
    tags = set()
    for path in tf.io.gfile.glob(os.path.join(model_dir, "train", "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    return tags


@pytest.mark.slow
def test_tensorboard_scalars_clip_images_and_profile_trace(tiny_shards, tmp_path):
    # also the deferred path: crops resized in the step
    _train(tiny_shards, tmp_path, "--modality=flow", "--train_steps=4", "--log_every=1",
           "--profile_steps=1,2", "--resize_in=step")
    assert {"loss", "accuracy", "learning_rate", "grad_norm", "clips_per_second",
            "input_wait_fraction", "input/clip_0"} <= _event_tags(tmp_path)
    traces = tf.io.gfile.glob(str(tmp_path / "train" / "plugins" / "profile" / "*" / "*.xplane.pb"))
    assert traces and os.path.getsize(traces[0]) > 1000


@pytest.mark.slow
def test_bfloat16_xla_and_accumulation_train(tiny_shards, tmp_path):
    # crops resized in the XLA-compiled step (by matmul: crop_and_resize has no XLA kernel)
    result = _train(tiny_shards, tmp_path, "--train_steps=2", "--accumulation=2",
                    "--mixed_precision=mixed_bfloat16", "--xla", "--save_every=2",
                    "--resize_in=step")
    assert json.loads(result.stdout.strip().splitlines()[-1])["step"] == 2
    losses = _logged(tmp_path, "loss")
    assert losses and all(np.isfinite(v) for v in losses.values())
