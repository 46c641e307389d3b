"""Regression tests for the TimeDistributed trap (DESIGN.md §2)."""
import subprocess
import sys
import textwrap

import keras
import numpy as np
import tensorflow as tf

from tsn_tf import backbones
from tsn_tf.model import build_tsn, with_num_segments
from tsn_tf.time_distributed import TimeDistributed

SIZE = 32


def _backbone(channels=3):
    return backbones.get_backbone("tiny", input_shape=(SIZE, SIZE, channels))


def _clips(batch, segments, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, segments, SIZE, SIZE, 3)).astype("float32")


def _conv_ops(function, spec):
    graph = tf.function(function).get_concrete_function(spec).graph
    return sum(op.type == "Conv2D" for op in graph.get_operations())


def test_equals_backbone_applied_per_segment():
    backbone = _backbone()
    clips = _clips(2, 4)
    folded = TimeDistributed(backbone)(clips, training=False)
    per_segment = np.stack([backbone(clips[:, k], training=False) for k in range(4)], axis=1)
    np.testing.assert_allclose(folded, per_segment, rtol=1e-5, atol=1e-6)


def test_one_backbone_call_in_the_traced_graph():
    backbone = _backbone()
    spec = tf.TensorSpec((None, 25, SIZE, SIZE, 3))
    ours = _conv_ops(lambda x: TimeDistributed(backbone)(x, training=False), spec)
    stock = _conv_ops(lambda x: keras.layers.TimeDistributed(backbone)(x, training=False), spec)
    assert ours == 2  # tiny has two convolutions
    assert stock == 25 * 2  # the trap this layer exists to avoid


def test_none_segments_inside_tf_function():
    backbone = _backbone()
    inputs = keras.Input((None, SIZE, SIZE, 3))
    model = keras.Model(inputs, TimeDistributed(backbone)(inputs))
    run = tf.function(lambda x: model(x, training=False),
                      input_signature=[tf.TensorSpec((None, None, SIZE, SIZE, 3))])
    for segments in (3, 5):
        clips = _clips(2, segments, seed=segments)
        expected = np.stack([backbone(clips[:, k], training=False) for k in range(segments)], 1)
        np.testing.assert_allclose(run(clips), expected, rtol=1e-5, atol=1e-6)


def test_train_and_eval_models_share_weights():
    train_model = build_tsn(5, backbone="tiny", num_segments=3, input_size=SIZE)
    eval_model = with_num_segments(train_model, 25)
    assert [id(w) for w in eval_model.weights] == [id(w) for w in train_model.weights]
    classifier = train_model.get_layer("classifier").layer
    classifier.bias.assign(np.arange(5, dtype="float32"))
    clips = _clips(2, 25)
    per_segment = train_model.get_layer("classifier")(train_model.get_layer("backbone")(clips))
    np.testing.assert_allclose(eval_model(clips), np.mean(per_segment, axis=1), rtol=1e-5, atol=1e-6)


def test_k25_saved_model_matches_eager_in_a_fresh_process(tmp_path):
    model = with_num_segments(build_tsn(4, backbone="tiny", num_segments=3, input_size=SIZE), 25)
    model.get_layer("classifier").layer.kernel.assign(
        np.random.default_rng(0).normal(size=(32, 4)).astype("float32"))
    clips = _clips(2, 25)  # batch 2 != K
    np.save(tmp_path / "clips.npy", clips)
    np.save(tmp_path / "eager.npy", model(clips, training=False))
    model.export(str(tmp_path / "sm"), verbose=False)
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({str(tmp_path / 'sm')!r})
        out = loaded.serve(tf.constant(np.load({str(tmp_path / 'clips.npy')!r})))
        np.save({str(tmp_path / 'served.npy')!r}, out.numpy())
    """)
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=120)
    np.testing.assert_allclose(np.load(tmp_path / "served.npy"), np.load(tmp_path / "eager.npy"),
                               atol=1e-5)
