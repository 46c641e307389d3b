"""The train step finishing deferred clips on the device equals training on finished clips."""
import functools

import numpy as np
import pytest
import tensorflow as tf

from tsn_tf.input.pipeline import train_clips
from tsn_tf.ops import deferred
from tsn_tf.model import build_tsn
from tsn_tf.schedules import TSNSchedule
from tsn_tf.trainers import train_loop

SIZE, SEGMENTS = 32, 2


def _weights_after_steps(inputs, labels, prepare, tmp_path, accumulation, jit_compile=False):
    strategy = tf.distribute.get_strategy()
    build = lambda: build_tsn(3, backbone="tiny", num_segments=SEGMENTS, input_size=SIZE,
                              dropout=0.0, modality="flow")
    tf.keras.utils.set_random_seed(0)
    state = train_loop.make_state(strategy, build, schedule=TSNSchedule(0.05, "constant"),
                                  momentum=0.9, model_dir=str(tmp_path))
    step = train_loop.make_train_step(strategy, state, modality="flow", clip_norm=20.0,
                                      weight_decay=5e-4, effective_batch=4,
                                      jit_compile=jit_compile, prepare=prepare)
    split = lambda t: tf.reshape(t, [accumulation, -1, *t.shape[1:]])
    batch = (tf.nest.map_structure(split, inputs), split(labels))
    losses = [float(step(batch)["loss"]) for _ in range(2)]
    return [w.numpy() for w in state.model.weights], losses


@pytest.mark.parametrize("accumulation,method,jit_compile", [
        (1, "crop_and_resize", False), (2, "crop_and_resize", False), (2, "matmul", True)])
def test_prepare_in_the_step_equals_finished_clips(tmp_path, accumulation, method, jit_compile):
    rng = np.random.default_rng(0)
    canvas = 38
    items = [rng.integers(0, 256, (SEGMENTS, 10, h, w, 1)).astype(np.uint8)
             for h, w in [(24, 28), (32, 32), (36, 30), (28, 36)]]
    inputs = {"frames": tf.stack([train_clips.on_canvas(tf.constant(i), canvas) for i in items]),
              "crop_size": tf.constant([i.shape[2:4] for i in items]),
              "flip": tf.constant([True, False, False, True])}
    labels = tf.constant([0, 1, 2, 1])
    finish = functools.partial(deferred.finish_deferred, modality="flow", output_size=SIZE,
                               mean=128.0, std=64.0)
    in_step, in_step_losses = _weights_after_steps(
            inputs, labels, functools.partial(finish, method=method), tmp_path / "a",
            accumulation, jit_compile)
    finished, finished_losses = _weights_after_steps(finish(inputs), labels, None,
                                                     tmp_path / "b", accumulation)
    np.testing.assert_allclose(in_step_losses, finished_losses, rtol=1e-6)
    assert in_step_losses[1] != in_step_losses[0]
    for a, b in zip(in_step, finished):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
