"""Metrics and fusion against hand-worked values and brute-force references."""
import numpy as np
import pytest

from tsn_tf import metrics
from tsn_tf.metrics import (DEFAULT_FUSION_WEIGHTS, average_precision, confusion_matrix, fuse_scores,
                            mean_average_precision, mean_class_accuracy, multi_hot, top_k_accuracy)

N, C = 40, 6


def _scores(seed=0):
    return np.random.default_rng(seed).normal(size=(N, C))


def _labels(seed=1):
    return np.random.default_rng(seed).integers(0, C, size=N)


def _rank(scores, i):
    """1-based rank of item i: higher scores first, ties by input order."""
    return 1 + sum(scores[j] > scores[i] or (scores[j] == scores[i] and j < i) for j in range(len(scores)))


def _precision_at(scores, relevant, i):
    rank = _rank(scores, i)
    return sum(relevant[j] and _rank(scores, j) <= rank for j in range(len(scores))) / rank


def _ap_brute_force(scores, relevant, interpolated=False):
    """Mean over relevant items of precision at its rank (or the best at that rank or below)."""
    values = []
    for i in np.flatnonzero(relevant):
        if interpolated:
            values.append(max(_precision_at(scores, relevant, j) for j in range(len(scores))
                              if _rank(scores, j) >= _rank(scores, i)))
        else:
            values.append(_precision_at(scores, relevant, i))
    return np.mean(values)


def _ap_voc_2011(scores, relevant):
    """ActivityNet's route: cumulative tp/fp, then VOC 2011 all-point interpolation."""
    hits = np.asarray(relevant)[np.argsort(-np.asarray(scores), kind="stable")]
    tp, fp = np.cumsum(hits), np.cumsum(~hits)
    recall, precision = tp / hits.sum(), tp / (tp + fp)
    mprec, mrec = np.hstack([[0], precision, [0]]), np.hstack([[0], recall, [1]])
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    changed = np.where(mrec[1:] != mrec[:-1])[0] + 1
    return np.sum((mrec[changed] - mrec[changed - 1]) * mprec[changed])


def test_top_k_accuracy_golden():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4], [0.3, 0.3, 0.4]])
    labels = np.array([1, 2, 0])
    assert top_k_accuracy(scores, labels, 1) == pytest.approx(1 / 3)
    assert top_k_accuracy(scores, labels, 2) == pytest.approx(1.0)  # row 2 tie: class 0 before class 1


@pytest.mark.parametrize("k", [1, 3, 6])
def test_top_k_accuracy_matches_loop(k):
    scores, labels = _scores(), _labels()
    hits = [sum(scores[n, c] > scores[n, labels[n]] for c in range(C)) < k for n in range(N)]
    assert top_k_accuracy(scores, labels, k) == pytest.approx(np.mean(hits))


def test_confusion_matrix_golden_and_loop():
    np.testing.assert_array_equal(confusion_matrix(np.array([0, 2, 2, 1]), np.array([0, 1, 2, 1]), 3),
                                  [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
    predictions, labels = _labels(seed=2), _labels()
    expected = np.zeros((C, C), int)
    for p, t in zip(predictions, labels):
        expected[t, p] += 1
    np.testing.assert_array_equal(confusion_matrix(predictions, labels, C), expected)


def test_mean_class_accuracy_golden_skips_absent_classes():
    # class 0: 1 of 2 right, class 1: 1 of 1, class 2 never a label (skipped), class 3: 0 of 1.
    scores = np.eye(4)[[0, 2, 1, 1]]
    labels = np.array([0, 0, 1, 3])
    assert mean_class_accuracy(scores, labels, 4) == pytest.approx((0.5 + 1.0 + 0.0) / 3)


def test_mean_class_accuracy_matches_loop():
    scores, labels = _scores(), _labels()
    predictions = scores.argmax(axis=1)
    recalls = [np.mean(predictions[labels == c] == c) for c in range(C) if np.any(labels == c)]
    assert mean_class_accuracy(scores, labels, C) == pytest.approx(np.mean(recalls))


def test_average_precision_golden():
    scores, relevant = np.array([0.9, 0.8, 0.7, 0.6]), np.array([True, False, True, True])
    assert average_precision(scores, relevant) == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    assert average_precision(scores, relevant, interpolated=True) == pytest.approx((1 + 3 / 4 + 3 / 4) / 3)


def test_average_precision_ties_keep_input_order():
    assert average_precision([0.5, 0.5], [False, True]) == pytest.approx(0.5)
    assert average_precision([0.5, 0.5], [True, False]) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_average_precision_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 8, size=25) / 8.0  # coarse values, so ties occur
    relevant = rng.random(25) < 0.4
    relevant[0] = True
    assert average_precision(scores, relevant) == pytest.approx(_ap_brute_force(scores, relevant))
    assert average_precision(scores, relevant, interpolated=True) == \
        pytest.approx(_ap_brute_force(scores, relevant, interpolated=True))
    assert average_precision(scores, relevant, interpolated=True) == pytest.approx(_ap_voc_2011(scores, relevant))


def test_mean_average_precision_skips_classes_without_positives():
    scores = _scores()
    targets = np.random.default_rng(3).random((N, C)) < 0.3
    targets[:, 4] = False
    expected = np.mean([_ap_brute_force(scores[:, c], targets[:, c]) for c in range(C) if c != 4])
    assert mean_average_precision(scores, targets) == pytest.approx(expected)


def test_mean_average_precision_golden():
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.3]])
    targets = multi_hot([[0], [1], [1]], 2)
    # class 0: order 0,2,1 -> relevant at rank 1 -> AP 1; class 1: order 1,2,0 -> ranks 1,2 -> AP 1.
    assert mean_average_precision(scores, targets) == pytest.approx(1.0)
    targets = multi_hot([[1], [], [0, 1]], 2)
    # class 0: relevant item 2 at rank 2 -> 1/2; class 1: order 1,2,0, relevant 2 (rank 2) and 0 (rank 3)
    # -> (1/2 + 2/3) / 2.
    assert mean_average_precision(scores, targets) == pytest.approx((0.5 + (0.5 + 2 / 3) / 2) / 2)


def test_multi_hot_golden():
    np.testing.assert_array_equal(multi_hot([[2], [], [0, 2]], 3),
                                  [[False, False, True], [False, False, False], [True, False, True]])


def test_fuse_scores_golden_and_defaults():
    rgb, flow = np.array([[1.0, 2.0]]), np.array([[4.0, -2.0]])
    np.testing.assert_allclose(fuse_scores([rgb, flow]), [[7.0, -1.0]])  # 1 * rgb + 1.5 * flow
    np.testing.assert_allclose(fuse_scores([rgb, flow], [2.0, 0.5]), [[4.0, 3.0]])
    warped = np.array([[2.0, 2.0]])
    np.testing.assert_allclose(fuse_scores([rgb, flow, warped]), [[6.0, 1.0]])
    assert DEFAULT_FUSION_WEIGHTS[2] == (1.0, 1.5)


def test_fuse_scores_matches_loop():
    arrays = [_scores(seed) for seed in range(4)]
    weights = [0.5, 1.0, 2.0, -1.0]
    expected = np.zeros((N, C))
    for n in range(N):
        for c in range(C):
            expected[n, c] = sum(w * a[n, c] for w, a in zip(weights, arrays))
    np.testing.assert_allclose(fuse_scores(arrays, weights), expected)


def test_bad_inputs_name_the_value():
    with pytest.raises(ValueError, match=r"score_list\[1\].shape=\(2, 3\), score_list\[0\].shape=\(2, 4\)"):
        fuse_scores([np.zeros((2, 4)), np.zeros((2, 3))])
    with pytest.raises(ValueError, match="Received: 4 score arrays"):
        fuse_scores([np.zeros(2)] * 4)
    with pytest.raises(ValueError, match="Received: 2 arrays"):
        fuse_scores([np.zeros(2)] * 2, [1.0])
    with pytest.raises(ValueError, match="Received: k=7"):
        top_k_accuracy(_scores(), _labels(), 7)
    with pytest.raises(ValueError, match="Received: min=0, max=6"):
        confusion_matrix(np.array([0, 6]), np.array([0, 1]), 6)
    with pytest.raises(ValueError, match="none True"):
        average_precision([0.1, 0.2], [False, False])
    with pytest.raises(ValueError, match=r"multi_hot.shape=\(3, 2\)"):
        mean_average_precision(np.zeros((3, 3)), np.zeros((3, 2)))


def test_default_fusion_weights_by_modality():
    assert metrics.default_fusion_weights(["rgb", "flow"]) == [1.0, 1.5]
    assert metrics.default_fusion_weights(["rgb", "flow", "warped_flow"]) == [1.0, 1.0, 0.5]
    assert metrics.default_fusion_weights(["rgb", "flow", "audio"]) == [1.0, 1.5, 1.0]
    with pytest.raises(ValueError, match="depth"):
        metrics.default_fusion_weights(["rgb", "depth"])
