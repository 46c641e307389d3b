"""Segment sampling against the NumPy references of DESIGN.md §5."""
import collections
import itertools

import numpy as np
import pytest
import tensorflow as tf

from distribution import assert_fits
from tsn_tf.input.pipeline import sampling

RNG = np.random.default_rng(0)
CASES = [(int(RNG.integers(1, 120)), int(RNG.integers(1, 26)), int(RNG.integers(1, 7)))
         for _ in range(60)] + [(1, 3, 1), (3, 3, 5), (4, 3, 5), (5, 3, 5), (7, 3, 5),
                                (32, 25, 5), (31, 25, 6), (25, 25, 1), (26, 25, 1)]


def _train_in_map(num_frames, num_segments, length, seeds):
    dataset = tf.data.Dataset.from_tensor_slices(seeds).map(
            lambda seed: sampling.train_offsets(num_frames, num_segments, length, seed))
    return np.stack(list(dataset.as_numpy_iterator()))


@pytest.mark.parametrize("num_frames,num_segments,length", CASES)
def test_train_offsets_within_reference_support(num_frames, num_segments, length):
    seeds = np.stack([np.arange(20), np.arange(20) * 7 + 1], axis=1)
    support = sampling.np_train_offset_support(num_frames, num_segments, length)
    eager = np.stack([sampling.train_offsets(num_frames, num_segments, length, s).numpy()
                      for s in seeds[:3]])
    mapped = _train_in_map(num_frames, num_segments, length, seeds)
    np.testing.assert_array_equal(eager, mapped[:3])
    for offsets in mapped:
        assert offsets.shape == (num_segments,)
        assert all(o in r for o, r in zip(offsets, support)), (offsets, support)
        if (num_frames - length + 1) // num_segments <= 0:
            assert np.all(np.diff(offsets) >= 0)


@pytest.mark.parametrize("num_frames,num_segments,length", [(20, 3, 1), (10, 3, 5), (6, 4, 1)])
def test_train_offsets_cover_their_support(num_frames, num_segments, length):
    seeds = np.stack([np.arange(400), np.full(400, 3)], axis=1)
    mapped = _train_in_map(num_frames, num_segments, length, seeds)
    support = sampling.np_train_offset_support(num_frames, num_segments, length)
    reference = np.stack([sampling.np_train_offsets(num_frames, num_segments, length, RNG)
                          for _ in range(400)])
    for segment, allowed in enumerate(support):
        assert set(mapped[:, segment]) == set(allowed) == set(reference[:, segment])


def test_train_offsets_depend_only_on_the_seed():
    first = sampling.train_offsets(100, 3, 1, [5, 6]).numpy()
    np.testing.assert_array_equal(first, sampling.train_offsets(100, 3, 1, [5, 6]).numpy())
    others = {tuple(sampling.train_offsets(100, 3, 1, [5, s]).numpy()) for s in range(10)}
    assert len(others) > 1


@pytest.mark.parametrize("num_frames,num_segments,length", CASES)
def test_eval_offsets_and_snippets_equal_reference(num_frames, num_segments, length):
    expected = sampling.np_eval_offsets(num_frames, num_segments, length)
    offsets = sampling.eval_offsets(num_frames, num_segments, length)
    np.testing.assert_array_equal(offsets.numpy(), expected)
    mapped = tf.data.Dataset.from_tensors(num_frames).map(
            lambda n: sampling.eval_offsets(n, num_segments, length))
    np.testing.assert_array_equal(next(iter(mapped)).numpy(), expected)
    indices = sampling.snippet_indices(offsets, length, num_frames).numpy()
    np.testing.assert_array_equal(
            indices, sampling.np_snippet_indices(expected, length, num_frames))
    assert indices.min() >= 0 and indices.max() <= num_frames - 1


def test_snippet_repeats_last_frame_past_the_end():
    np.testing.assert_array_equal(sampling.snippet_indices([0, 2], 5, 4).numpy(),
                                  [[0, 1, 2, 3, 3], [2, 3, 3, 3, 3]])


@pytest.mark.parametrize("num_frames,frame_rate,fps", [
        (280, 28.0, 1.0), (300, 30000 / 1001, 1.0), (32, 30.0, 1.0), (1, 25.0, 1.0),
        (164, 25.0, 2.0), (100, 12.5, 0.5)])
def test_untrimmed_offsets_equal_reference(num_frames, frame_rate, fps):
    expected = sampling.np_untrimmed_offsets(num_frames, frame_rate, fps)
    offsets = sampling.untrimmed_offsets(num_frames, frame_rate, fps).numpy()
    np.testing.assert_array_equal(offsets, expected)
    assert offsets[0] == 0 and offsets[-1] <= num_frames - 1


def _sorted_draw_probabilities(span, num_segments):
    """{sorted K-tuple: probability} of K independent uniform draws from range(span), sorted."""
    outcomes = list(itertools.product(range(span), repeat=num_segments))
    counts = collections.Counter(tuple(sorted(draw)) for draw in outcomes)
    return {key: count / len(outcomes) for key, count in counts.items()}


def test_short_video_draws_by_hand():
    # N=4, K=3, L=3: span 2 < K and N > K. Three fair bits, sorted: the number
    # of ones is Binomial(3, 1/2).
    assert _sorted_draw_probabilities(2, 3) == {
            (0, 0, 0): 1 / 8, (0, 0, 1): 3 / 8, (0, 1, 1): 3 / 8, (1, 1, 1): 1 / 8}


@pytest.mark.parametrize("num_frames,num_segments,length", [(4, 3, 3), (7, 4, 5), (6, 5, 5)])
def test_short_video_branch_draws_k_independent_offsets(num_frames, num_segments, length):
    """N > K but N - L + 1 < K: K independent uniform draws, sorted (not one for all K)."""
    span = num_frames - length + 1
    assert 0 < span < num_segments < num_frames
    probabilities = _sorted_draw_probabilities(span, num_segments)
    seeds = np.stack([np.arange(4000), np.full(4000, 11)], axis=1)
    drawn = collections.Counter(map(tuple, _train_in_map(num_frames, num_segments, length, seeds)))
    assert set(drawn) <= set(probabilities)
    cells = sorted(probabilities)
    assert_fits([drawn[cell] for cell in cells], [probabilities[cell] for cell in cells])


def test_short_branch_needs_more_frames_than_segments():
    """By hand, L = 3: N = K = 5 gives span 3 < K and N > K false: zeros (tsn-pytorch's
    third branch); N = 6 > K = 5 gives span 4: sorted draws from range(4)."""
    seeds = np.stack([np.arange(50), np.full(50, 5)], axis=1)
    np.testing.assert_array_equal(_train_in_map(5, 5, 3, seeds), np.zeros((50, 5)))
    drawn = _train_in_map(6, 5, 3, seeds)
    assert set(drawn.ravel()) == {0, 1, 2, 3}


@pytest.mark.parametrize("num_frames,num_segments,length,expected", [
    # tick = (N - L + 1) / K; offset i = int(tick / 2 + i * tick), worked by hand
    (10, 3, 1, [1, 5, 8]),      # tick 3.33: 1.67, 5.00, 8.33
    (10, 3, 5, [1, 3, 5]),      # tick 2: 1, 3, 5
    (100, 4, 1, [12, 37, 62, 87]),   # tick 25: 12.5, 37.5, 62.5, 87.5
    (3, 5, 1, [0, 0, 1, 2, 2]),      # tick 0.6: 0.3, 0.9, 1.5, 2.1, 2.7
])
def test_eval_offsets_worked_by_hand(num_frames, num_segments, length, expected):
    """Golden values independent of the module's NumPy reference."""
    assert sampling.eval_offsets(num_frames, num_segments, length).numpy().tolist() == expected
    assert sampling.np_eval_offsets(num_frames, num_segments, length).tolist() == expected


def _mmaction2_untrimmed_frame_inds(total_frames, clip_len, clip_interval):
    """mmaction2 `UntrimmedSampleFrames.transform` (frame_interval 1, start_index 0),
    transcribed from mmaction/datasets/transforms/loading.py: (T, clip_len)."""
    clip_centers = np.arange(clip_interval // 2, total_frames, clip_interval)
    frame_inds = clip_centers[:, None] + np.arange(-(clip_len // 2), clip_len - clip_len // 2)[None, :]
    return np.clip(frame_inds, 0, total_frames - 1)


@pytest.mark.parametrize("num_frames,interval,items", [
        (100, 16, 1), (100, 16, 5), (417, 16, 5), (24, 16, 5), (9, 16, 5), (8, 16, 1),
        (37, 5, 5), (40, 6, 6), (3, 5, 5), (1, 16, 1)])
def test_interval_snippets_read_mmaction2_frames(num_frames, interval, items):
    expected = _mmaction2_untrimmed_frame_inds(num_frames, items, interval)
    centres = sampling.interval_centres(num_frames, interval)
    offsets = sampling.centred_offsets(centres, items)
    indices = sampling.snippet_indices(offsets, items, num_frames).numpy().reshape(-1, items)
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(centres.numpy(), expected[:, items // 2] if len(expected)
                                  else np.zeros([0], int))
