"""Partial BN: only the first BN trains; frozen statistics stay put in a training step."""
import numpy as np
import tensorflow as tf
import keras

from tsn_tf.model import build_tsn
from tsn_tf.partial_bn import apply_partial_bn, batch_norm_layers

SIZE = 32


def test_trainable_set():
    model = build_tsn(3, backbone="tiny", num_segments=2, input_size=SIZE)
    first, second = batch_norm_layers(model)
    assert first.trainable and not second.trainable
    trainable = {w.path for w in model.trainable_weights}
    assert {w.path for w in first.trainable_weights} <= trainable
    assert not trainable & {w.path for w in second.weights}
    assert not first.synchronized


def test_first_bn_synchronized_with_replicas():
    backbone = build_tsn(3, backbone="tiny", num_segments=2, input_size=SIZE,
                         num_replicas=2).get_layer("backbone").layer
    first, second = batch_norm_layers(backbone)
    assert first.synchronized and not second.synchronized


def test_inception_v3_freezes_all_but_first():
    from tsn_tf import backbones
    backbone = backbones.get_backbone("inception_v3", input_shape=(75, 75, 3))
    first = apply_partial_bn(backbone)
    layers = batch_norm_layers(backbone)
    assert layers[0] is first and len(layers) == 94
    assert [layer.trainable for layer in layers].count(True) == 1


def test_frozen_statistics_do_not_move_in_a_training_step():
    model = build_tsn(3, backbone="tiny", num_segments=2, input_size=SIZE)
    first, second = batch_norm_layers(model)
    before = {id(layer): [w.numpy().copy() for w in layer.weights] for layer in (first, second)}
    optimizer = keras.optimizers.SGD(0.1)
    clips = np.random.default_rng(0).normal(3.0, 2.0, (4, 2, SIZE, SIZE, 3)).astype("float32")
    labels = np.array([0, 1, 2, 0])
    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(labels, model(clips, training=True),
                                                            from_logits=True)
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_weights),
                                  model.trainable_weights))
    for after, old in zip(second.weights, before[id(second)]):
        np.testing.assert_array_equal(after.numpy(), old)
    moved = [not np.array_equal(after.numpy(), old) for after, old in zip(first.weights, before[id(first)])]
    assert all(moved)  # gamma, beta, moving mean, moving variance
