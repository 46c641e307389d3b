"""SegmentConsensus against NumPy references and the paper's derivatives."""
import numpy as np
import pytest
import tensorflow as tf
import keras

from tsn_tf.consensus import SegmentConsensus, interpolate_segment_weights

B, K, C, D = 4, 5, 7, 6


def _scores(seed=0):
    return np.random.default_rng(seed).normal(size=(B, K, C)).astype("float32")


def _features(seed=1):
    return np.random.default_rng(seed).normal(size=(B, K, D)).astype("float32")


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("mode, reference", [
    ("avg", lambda s: s.mean(1)),
    ("max", lambda s: s.max(1)),
    ("topk", lambda s: np.sort(s, axis=1)[:, -3:].mean(1)),
])
def test_fixed_modes_match_numpy(mode, reference):
    scores = _scores()
    out = SegmentConsensus(mode, k=3)(scores)
    np.testing.assert_allclose(out, reference(scores), rtol=1e-6, atol=1e-6)


def test_weighted_matches_numpy():
    layer = SegmentConsensus("weighted", num_segments=K)
    scores = _scores()
    layer.build(scores.shape)
    weights = np.random.default_rng(2).uniform(size=K).astype("float32")
    layer.segment_weights.assign(weights)
    np.testing.assert_allclose(layer(scores), np.einsum("k,bkc->bc", weights, scores), rtol=1e-5)


def test_attention_matches_numpy():
    layer = SegmentConsensus("attention")
    scores, features = _scores(), _features()
    layer.build([scores.shape, features.shape])
    w_att = np.random.default_rng(3).normal(size=D).astype("float32")
    layer.attention_kernel.assign(w_att)
    attention = _softmax(features @ w_att, axis=1)
    expected = (attention[..., None] * scores).sum(1)
    np.testing.assert_allclose(layer([scores, features]), expected, rtol=1e-5, atol=1e-6)


def _input_gradient(layer, scores):
    scores = tf.constant(scores)
    with tf.GradientTape() as tape:
        tape.watch(scores)
        total = tf.reduce_sum(layer(scores))
    return tape.gradient(total, scores).numpy()


def test_max_routes_gradient_to_argmax_only():
    scores = _scores()
    grad = _input_gradient(SegmentConsensus("max"), scores)
    expected = (scores == scores.max(axis=1, keepdims=True)).astype("float32")
    np.testing.assert_array_equal(grad, expected)


def test_topk_routes_gradient_to_selected_only():
    scores = _scores()
    grad = _input_gradient(SegmentConsensus("topk", k=2), scores)
    threshold = np.sort(scores, axis=1)[:, -2:-1]
    expected = np.where(scores >= threshold, 0.5, 0.0)
    np.testing.assert_allclose(grad, expected, atol=1e-7)


def test_avg_gradient_is_uniform():
    np.testing.assert_allclose(_input_gradient(SegmentConsensus("avg"), _scores()), 1.0 / K)


def test_weighted_gradient_is_segment_score():
    """dG/dw_k = F_k: the Jacobian of G[b, c] w.r.t. w[k] is scores[b, k, c]."""
    layer = SegmentConsensus("weighted", num_segments=K)
    scores = _scores()
    with tf.GradientTape() as tape:
        out = layer(scores)
    jacobian = tape.jacobian(out, layer.segment_weights).numpy()  # (B, C, K)
    np.testing.assert_allclose(jacobian, scores.transpose(0, 2, 1), rtol=1e-6)


def test_attention_gradient_matches_derivative():
    """dG_c/dF_kc = A_k: the attention weight of the segment."""
    layer = SegmentConsensus("attention")
    scores, features = tf.constant(_scores()), _features()
    layer.build([scores.shape, features.shape])
    layer.attention_kernel.assign(np.linspace(-1, 1, D).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(scores)
        total = tf.reduce_sum(layer([scores, features]))
    attention = _softmax(features @ layer.attention_kernel.numpy(), axis=1)
    np.testing.assert_allclose(tape.gradient(total, scores), np.repeat(attention[..., None], C, -1),
                               rtol=1e-5)


def test_weighted_interpolation_to_other_segment_counts():
    weights = np.array([0.2, 0.5, 0.3], "float32")
    np.testing.assert_allclose(interpolate_segment_weights(weights, 3), weights, rtol=1e-6)
    resampled = np.asarray(interpolate_segment_weights(weights, 25))
    positions = (np.arange(25) + 0.5) / 25 * 3 - 0.5
    reference = np.interp(positions, np.arange(3), weights)
    np.testing.assert_allclose(resampled, reference * weights.sum() / reference.sum(), rtol=1e-5)
    assert resampled.sum() == pytest.approx(weights.sum(), rel=1e-5)


def test_weighted_trained_on_3_evaluates_25_segments():
    layer = SegmentConsensus("weighted", num_segments=3)
    layer.build((None, 3, C))
    layer.segment_weights.assign([0.2, 0.5, 0.3])
    scores = np.random.default_rng(4).normal(size=(2, 25, C)).astype("float32")
    expected = np.einsum("k,bkc->bc", interpolate_segment_weights(layer.segment_weights.numpy(), 25), scores)
    np.testing.assert_allclose(layer(scores), expected, rtol=1e-5, atol=1e-6)
    constant = SegmentConsensus("weighted", num_segments=3)  # initial weights 1/3 each
    np.testing.assert_allclose(constant(scores), scores.mean(1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["avg", "max", "topk", "weighted"])
def test_config_round_trip(mode):
    layer = SegmentConsensus(mode, k=2, num_segments=K, name="c")
    clone = SegmentConsensus.from_config(layer.get_config())
    assert (clone.mode, clone.k, clone.num_segments, clone.name) == (mode, 2, K, "c")


def test_saved_model_round_trip(tmp_path):
    scores_in = keras.Input((K, C))
    features_in = keras.Input((K, D))
    out = SegmentConsensus("attention")([scores_in, features_in])
    model = keras.Model([scores_in, features_in], out)
    model.layers[-1].attention_kernel.assign(np.linspace(0, 1, D).astype("float32"))
    model.export(str(tmp_path / "sm"), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "sm"))
    inputs = [_scores(), _features()]
    np.testing.assert_allclose(reloaded.serve(inputs), model(inputs), rtol=1e-5, atol=1e-6)
    keras_path = tmp_path / "m.keras"
    model.save(keras_path)
    np.testing.assert_allclose(keras.saving.load_model(keras_path)(inputs), model(inputs), rtol=1e-6)


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="mode='median'"):
        SegmentConsensus("median")
    with pytest.raises(ValueError, match="num_segments"):
        SegmentConsensus("weighted")


# --- added after mutation testing (tests/scripts/mutation.py) -------------------

def test_interpolation_keeps_a_sum_other_than_one():
    weights = np.array([1.0, 2.0, 3.0], "float32")
    # 5 positions at (i + 0.5) / 5 * 3 - 0.5 = -0.2, 0.4, 1, 1.6, 2.2 -> clipped to [0, 2]
    reference = np.array([1.0, 1.4, 2.0, 2.6, 3.0])
    np.testing.assert_allclose(interpolate_segment_weights(weights, 5),
                               reference * 6.0 / reference.sum(), rtol=1e-6)


def test_defaults_are_average_and_top_3():
    scores = _scores()
    np.testing.assert_allclose(SegmentConsensus()(scores), scores.mean(1), rtol=1e-6, atol=1e-6)
    assert SegmentConsensus("topk").k == 3


def test_topk_caps_k_at_the_segments_not_the_classes():
    scores = np.random.default_rng(5).normal(size=(2, 3, 2)).astype("float32")   # K 3, C 2
    np.testing.assert_allclose(SegmentConsensus("topk", k=3)(scores), scores.mean(1), rtol=1e-6)
    np.testing.assert_allclose(SegmentConsensus("topk", k=5)(scores), scores.mean(1), rtol=1e-6)
    np.testing.assert_allclose(SegmentConsensus("topk", k=1)(scores), scores.max(1), rtol=1e-6)


def test_topk_with_unknown_segment_count():
    layer = SegmentConsensus("topk", k=2)
    traced = tf.function(layer, input_signature=[tf.TensorSpec((None, None, C))])
    scores = _scores()
    np.testing.assert_allclose(traced(scores), np.sort(scores, axis=1)[:, -2:].mean(1), rtol=1e-6)


def test_weighted_interpolates_when_segments_differ_but_equal_the_classes():
    layer = SegmentConsensus("weighted", num_segments=3)
    scores = np.random.default_rng(6).normal(size=(2, 5, 3)).astype("float32")   # K 5, C 3
    layer.build((None, 3, 3))
    np.testing.assert_allclose(layer(scores), scores.mean(1), rtol=1e-5, atol=1e-6)


def test_topk_k_is_checked_only_for_topk():
    with pytest.raises(ValueError, match="k=0"):
        SegmentConsensus("topk", k=0)
    SegmentConsensus("topk", k=1)
    SegmentConsensus("avg", k=0)


def test_attention_needs_two_inputs():
    with pytest.raises(ValueError, match=r"takes \[scores"):
        SegmentConsensus("attention").build((B, K, C))


def test_output_shapes():
    assert SegmentConsensus("avg").compute_output_shape((2, 3, 5)) == (2, 5)
    assert SegmentConsensus("attention").compute_output_shape([(2, 3, 5), (2, 3, 7)]) == (2, 5)


def test_registered_and_weight_names():
    """Saved models refer to these names."""
    assert keras.saving.get_registered_name(SegmentConsensus) == "tsn_tf>SegmentConsensus"
    weighted = SegmentConsensus("weighted", num_segments=3)
    weighted.build((None, 3, C))
    attention = SegmentConsensus("attention")
    attention.build([(None, 3, C), (None, 3, D)])
    assert (weighted.segment_weights.name, attention.attention_kernel.name) == \
        ("segment_weights", "attention_kernel")
