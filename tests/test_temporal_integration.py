"""M-TWI, top-k and average pooling against NumPy references of the rules."""
import math

import numpy as np
import pytest
import tensorflow as tf

from tsn_tf.temporal_integration import (average_pooling, mtwi, mtwi_batch, top_k_pooling,
                                         window_geometry)

# One class, T = 5; worked by hand in test_mtwi_golden_one_class.
HAND_SCORES = np.array([[1.0], [5.0], [2.0], [0.0], [3.0]], dtype="float32")


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def _mtwi_reference(scores, snippet_rate=1.0, spans_s=(1, 2, 4, 8, 16), overlap=0.2,
                    min_top_k=15, top_k_fraction=0.25, normalize=True):
    """Straight from the rules: windows from 0 every step while start < T, cut at T."""
    num_snippets = scores.shape[0]
    per_span = []
    for span in spans_s:
        length = max(1, math.floor(span * snippet_rate + 0.5))
        step = math.ceil(length * (1 - overlap))
        windows = [scores[start:start + length].max(axis=0) for start in range(0, num_snippets, step)]
        k = max(min_top_k, math.floor(len(windows) * top_k_fraction))
        per_span.append(np.sort(np.array(windows), axis=0)[-k:].mean(axis=0))
    video = np.mean(per_span, axis=0)
    return _softmax(video) if normalize else video


def _random_scores(num_snippets, num_classes=4, seed=0):
    return np.random.default_rng(seed).normal(size=(num_snippets, num_classes)).astype("float32")


def test_window_geometry_at_one_fps_matches_the_paper():
    assert [window_geometry(span, 1.0, 0.2) for span in (1, 2, 4, 8, 16)] == \
        [(1, 1), (2, 2), (4, 4), (8, 7), (16, 13)]
    assert window_geometry(3, 0.5, 0.2) == (2, 2)  # 1.5 snippets rounds half up


def test_mtwi_golden_one_class():
    # span 1: windows 1,5,2,0,3 -> mean 2.2; span 2 (step 2): [1,5],[2,0],[3] -> 5,2,3 -> 10/3;
    # span 4 (step 4): [1,5,2,0],[3] -> 5,3 -> 4; spans 8 and 16: one window -> 5.
    expected = (2.2 + 10 / 3 + 4 + 5 + 5) / 5
    np.testing.assert_allclose(mtwi(HAND_SCORES, normalize=False), [expected], rtol=1e-6)
    # k = max(1, floor(n / 2)): span 1 -> top 2 of 5 windows (5, 3) -> 4; other spans -> 5.
    np.testing.assert_allclose(mtwi(HAND_SCORES, normalize=False, min_top_k=1, top_k_fraction=0.5),
                               [4.8], rtol=1e-6)


def test_mtwi_golden_softmax_comes_last():
    scores = np.concatenate([HAND_SCORES, np.zeros_like(HAND_SCORES)], axis=1)
    video = (2.2 + 10 / 3 + 4 + 5 + 5) / 5
    np.testing.assert_allclose(mtwi(scores), [1 / (1 + math.exp(-video)), 1 / (1 + math.exp(video))],
                               rtol=1e-5)


@pytest.mark.parametrize("num_snippets", [1, 3, 16, 17, 100])
def test_mtwi_matches_numpy_reference(num_snippets):
    scores = _random_scores(num_snippets, seed=num_snippets)
    np.testing.assert_allclose(mtwi(scores), _mtwi_reference(scores), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mtwi(scores, normalize=False), _mtwi_reference(scores, normalize=False),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("options", [
    dict(snippet_rate=2.0, spans_s=(1, 3), overlap=0.5),
    dict(spans_s=(2, 5), overlap=0.0, min_top_k=2, top_k_fraction=0.5),
    dict(snippet_rate=0.5, spans_s=(3, 4), overlap=0.25, min_top_k=1, top_k_fraction=0.1),
])
def test_mtwi_options_match_numpy_reference(options):
    scores = _random_scores(61, seed=7)
    np.testing.assert_allclose(mtwi(scores, normalize=False, **options),
                               _mtwi_reference(scores, normalize=False, **options), rtol=1e-5, atol=1e-6)


def test_mtwi_top_k_bites_when_there_are_many_windows():
    # 200 one-second windows: k = max(15, 50) = 50, not all 200.
    scores = _random_scores(200, seed=3)
    video = mtwi(scores, spans_s=(1,), normalize=False)
    np.testing.assert_allclose(video, np.sort(scores, axis=0)[-50:].mean(axis=0), rtol=1e-5)
    assert not np.allclose(video, scores.mean(axis=0), atol=1e-3)


def test_video_shorter_than_every_span_is_the_max():
    scores = _random_scores(4, seed=2)
    np.testing.assert_allclose(mtwi(scores, spans_s=(8, 16), normalize=False), scores.max(axis=0), rtol=1e-6)


def test_fewer_windows_than_k_averages_all_windows():
    scores = _random_scores(10, seed=4)  # span 2, step 2: 5 windows < 15
    pairs = scores.reshape(5, 2, -1).max(axis=1)
    np.testing.assert_allclose(mtwi(scores, spans_s=(2,), normalize=False), pairs.mean(axis=0), rtol=1e-6)


def test_single_snippet_gives_softmax_of_its_scores():
    scores = _random_scores(1, seed=5)
    np.testing.assert_allclose(mtwi(scores), _softmax(scores[0]), rtol=1e-5)
    np.testing.assert_allclose(top_k_pooling(scores, 3), _softmax(scores[0]), rtol=1e-5)
    np.testing.assert_allclose(average_pooling(scores), _softmax(scores[0]), rtol=1e-5)


def test_mtwi_in_tf_function_with_dynamic_length_traces_once():
    aggregate = tf.function(mtwi, input_signature=[tf.TensorSpec((None, 4), tf.float32)])
    for num_snippets in (1, 6, 37):
        scores = _random_scores(num_snippets, seed=num_snippets)
        np.testing.assert_allclose(aggregate(scores), _mtwi_reference(scores), rtol=1e-5, atol=1e-6)
    assert aggregate.experimental_get_tracing_count() == 1


def test_mtwi_survives_saved_model_round_trip(tmp_path):
    module = tf.Module()
    module.aggregate = tf.function(lambda scores: mtwi(scores),
                                   input_signature=[tf.TensorSpec((None, 4), tf.float32)])
    tf.saved_model.save(module, str(tmp_path))
    restored = tf.saved_model.load(str(tmp_path))
    for num_snippets in (2, 29):
        scores = _random_scores(num_snippets, seed=num_snippets)
        np.testing.assert_allclose(restored.aggregate(scores), _mtwi_reference(scores), rtol=1e-5, atol=1e-6)


def test_mtwi_batch_matches_per_video():
    videos = [_random_scores(n, seed=n) for n in (3, 20, 9)]
    ragged = tf.ragged.constant([v.tolist() for v in videos], ragged_rank=1, dtype=tf.float32)
    expected = np.stack([_mtwi_reference(v, spans_s=(1, 4)) for v in videos])
    np.testing.assert_allclose(mtwi_batch(ragged, spans_s=(1, 4)), expected, rtol=1e-5, atol=1e-6)


def test_top_k_pooling_and_average_pooling_match_numpy():
    scores = _random_scores(12, seed=6)
    np.testing.assert_allclose(top_k_pooling(scores, 4, normalize=False),
                               np.sort(scores, axis=0)[-4:].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(top_k_pooling(scores, 50, normalize=False), scores.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(average_pooling(scores), _softmax(scores.mean(axis=0)), rtol=1e-5)


def test_top_k_and_average_pooling_golden():
    np.testing.assert_allclose(top_k_pooling(HAND_SCORES, 2, normalize=False), [4.0])  # (5 + 3) / 2
    np.testing.assert_allclose(average_pooling(HAND_SCORES, normalize=False), [2.2], rtol=1e-6)


def test_short_burst_wins_under_mtwi_but_is_diluted_by_averaging():
    # 200 s video: class 0 is mildly high throughout (background-like), class 2 has a 20 s burst.
    scores = _random_scores(200, seed=8) * 0.5
    scores[:, 0] += 1.0
    scores[100:120, 2] += 6.0
    averaged, integrated = average_pooling(scores).numpy(), mtwi(scores).numpy()
    assert integrated[2] > averaged[2]
    assert np.argmax(averaged) == 0 and np.argmax(integrated) == 2


def test_bad_inputs_name_the_value():
    with pytest.raises(ValueError, match=r"Received: shape=\(2, 3, 4\)"):
        mtwi(np.zeros((2, 3, 4), "float32"))
    with pytest.raises(ValueError, match=r"Received: shape=\(0, 4\)"):
        average_pooling(np.zeros((0, 4), "float32"))
    with pytest.raises(ValueError, match="Received: overlap=1"):
        mtwi(HAND_SCORES, overlap=1)
    with pytest.raises(ValueError, match="Received: k=0"):
        top_k_pooling(HAND_SCORES, 0)
    aggregate = tf.function(mtwi, input_signature=[tf.TensorSpec((None, 4), tf.float32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least one snippet"):
        aggregate(np.zeros((0, 4), "float32"))


# --- added after mutation testing (tests/scripts/mutation.py) -------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(snippet_rate=0), "snippet_rate=0"),
    (dict(spans_s=(0,)), r"spans_s=\(0,\)"),
    (dict(spans_s=(1, -2)), r"spans_s=\(1, -2\)"),
    (dict(spans_s=()), r"spans_s=\(\)"),
    (dict(min_top_k=0), "min_top_k=0"),
    (dict(top_k_fraction=-0.1), "top_k_fraction=-0.1"),
])
def test_bad_mtwi_arguments_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mtwi(HAND_SCORES, **kwargs)


def test_boundary_arguments_are_valid():
    # k = 1 is the max; top_k_fraction 0 leaves k = min_top_k
    np.testing.assert_allclose(top_k_pooling(HAND_SCORES, 1, normalize=False), [5.0])
    scores = _random_scores(40, seed=9)
    np.testing.assert_allclose(mtwi(scores, top_k_fraction=0.0, min_top_k=3),
                               _mtwi_reference(scores, top_k_fraction=0.0, min_top_k=3),
                               rtol=1e-5, atol=1e-6)


def test_integer_scores_are_averaged_as_floats():
    scores = np.array([[1], [2]], np.int32)
    np.testing.assert_allclose(average_pooling(scores, normalize=False), [1.5])


def test_mtwi_batch_rejects_a_dense_tensor():
    with pytest.raises(ValueError, match="tf.RaggedTensor"):
        mtwi_batch(tf.zeros((2, 3, 4)))
