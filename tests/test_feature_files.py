"""Snippet feature files for BSN / BMN / G-TAD: the rescalings against NumPy
transcriptions of the originals written here."""
import math

import numpy as np
import pytest

from tsn_tf import feature_rescaling


# --- transcriptions of the originals ---------------------------------------------

def interp1d(x, y, axis=0):
    """scipy.interpolate.interp1d(x, y, axis=0) as BSN and mmaction2 call it (linear,
    out-of-range points an error), following scipy's _call_linear; scipy is not a
    dependency of tsn-tf."""
    assert axis == 0
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)

    def f(x_new):
        x_new = np.asarray(x_new, np.float64)
        if x_new.min() < x[0] or x_new.max() > x[-1]:
            raise ValueError("A value in x_new is out of the interpolation range.")
        hi = np.clip(np.searchsorted(x, x_new), 1, len(x) - 1)
        lo = hi - 1
        slope = (y[hi] - y[lo]) / (x[hi] - x[lo])[:, None]
        return slope * (x_new - x[lo])[:, None] + y[lo]
    return f


def bsn_pool_data(data, video_anno, interval, num_prop=100, num_bin=1, num_sample_bin=3):
    """BSN's poolData (data/activitynet_feature_cuhk/data_process.py, pool_type
    "mean"), its 16-frame snippets and 400 dims replaced by `interval` and D."""
    dims = data.shape[1]
    feature_frame = len(data) * interval
    video_frame = video_anno['duration_frame']
    video_second = video_anno['duration_second']
    corrected_second = float(feature_frame) / video_frame * video_second
    fps = float(video_frame) / video_second
    st = interval / fps

    if len(data) == 1:
        video_feature = np.stack([data] * num_prop)
        video_feature = np.reshape(video_feature, [num_prop, dims])
        return video_feature

    x = [st / 2 + ii * st for ii in range(len(data))]
    f = interp1d(x, data, axis=0)

    video_feature = []
    zero_sample = np.zeros(num_bin * dims)
    tmp_anchor_xmin = [1.0 / num_prop * i for i in range(num_prop)]
    tmp_anchor_xmax = [1.0 / num_prop * i for i in range(1, num_prop + 1)]

    num_sample = num_bin * num_sample_bin
    for idx in range(num_prop):
        xmin = max(x[0] + 0.0001, tmp_anchor_xmin[idx] * corrected_second)
        xmax = min(x[-1] - 0.0001, tmp_anchor_xmax[idx] * corrected_second)
        if xmax < x[0]:
            video_feature.append(zero_sample)
            continue
        if xmin > x[-1]:
            video_feature.append(zero_sample)
            continue

        plen = (xmax - xmin) / (num_sample - 1)
        x_new = [xmin + plen * ii for ii in range(num_sample)]
        y_new = f(x_new)
        y_new_pool = []
        for b in range(num_bin):
            tmp_y_new = np.mean(y_new, axis=0)  # sic: all of y_new, not the bin's slice
            y_new_pool.append(tmp_y_new)
        y_new_pool = np.stack(y_new_pool)
        y_new_pool = np.reshape(y_new_pool, [-1])
        video_feature.append(y_new_pool)
    video_feature = np.stack(video_feature)
    return video_feature


def mmaction2_pool_feature(data, num_proposals=100, num_sample_bins=3):
    """mmaction2's pool_feature (tools/data/activitynet/
    activitynet_feature_postprocessing.py, pool_type 'mean')."""
    if len(data) == 1:
        return np.concatenate([data] * num_proposals)
    x_range = list(range(len(data)))
    f = interp1d(x_range, data, axis=0)
    eps = 1e-4
    start, end = eps, len(data) - 1 - eps
    anchor_size = (end - start) / num_proposals
    ptr = start
    feature = []
    for _ in range(num_proposals):
        x_new = [ptr + i / num_sample_bins * anchor_size for i in range(num_sample_bins)]
        y_new = f(x_new)
        feature.append(np.mean(y_new, axis=0))
        ptr += anchor_size
    return np.stack(feature)


def bsn_tie_rows(data, interval, frame_rate, num_prop=100):
    """{bin: row} of the bins whose edge falls exactly on the first or last snippet
    centre (when 2T divides num_prop). BSN's float rounding decides whether such a
    bin lies outside (a zero row) or is the mean of points from the centre to 1e-4
    inside it, which is the snippet's feature interpolated 0.5e-4 s inside."""
    if len(data) == 1:
        return {}
    last, step = len(data), interval / frame_rate
    rows = {}
    for i in range(num_prop):
        if 2 * last * (i + 1) == num_prop:  # (i + 1) / P == 0.5 / T: ends on x_0
            rows[i] = data[0] + (data[1] - data[0]) * 0.5e-4 / step
        if 2 * last * i == num_prop * (2 * last - 1):  # i / P == 1 - 0.5 / T: starts on x_{T-1}
            rows[i] = data[-1] + (data[-2] - data[-1]) * 0.5e-4 / step
    return rows


def video_anno(num_frames, frame_rate):
    """What BSN's getDatasetDict takes from video_info.csv."""
    return {"duration_frame": num_frames, "duration_second": num_frames / frame_rate}


def random_features(num_snippets, dims, seed=0):
    return np.random.default_rng(seed).normal(size=(num_snippets, dims)).astype(np.float32)


# --- rescaling -------------------------------------------------------------------

@pytest.mark.parametrize("frame_rate", [30.0, 29.97, 25.0])
@pytest.mark.parametrize("interval", [16, 5])
@pytest.mark.parametrize("num_snippets", [1, 2, 7, 30, 50, 51, 130, 400])
def test_bsn_rescale_is_bsn_pool_data(num_snippets, interval, frame_rate):
    dims = 2 + num_snippets % 5
    features = random_features(num_snippets, dims, seed=num_snippets + interval)
    num_frames = num_snippets * interval + interval // 3  # a few frames no snippet covers
    expected = bsn_pool_data(features.astype(np.float64), video_anno(num_frames, frame_rate),
                             interval)
    got = feature_rescaling.bsn_rescale(features, interval=interval, frame_rate=frame_rate)
    assert got.shape == (100, dims)
    ties = bsn_tie_rows(features.astype(np.float64), interval, frame_rate)
    assert bool(ties) == (num_snippets in (2, 50))
    for row, tie_row in ties.items():  # either outcome is BSN's, by rounding
        for pooled in (expected[row], got[row]):
            assert not pooled.any() or np.allclose(pooled, tie_row, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.delete(got, list(ties), axis=0),
                               np.delete(expected, list(ties), axis=0), rtol=0, atol=1e-6)


@pytest.mark.parametrize("num_snippets", [3, 7, 30])
def test_bsn_rescale_gives_zero_rows_at_both_ends_of_short_videos(num_snippets):
    features = random_features(num_snippets, 3) + 5.0  # no value near zero
    expected = bsn_pool_data(features.astype(np.float64), video_anno(1000, 30.0), 16)
    got = feature_rescaling.bsn_rescale(features, interval=16, frame_rate=30.0)
    zero_rows = np.flatnonzero(~expected.any(axis=1))
    # bins before the first snippet centre (the first 0.5/T of the video), and after the last
    assert zero_rows[0] == 0 and zero_rows[-1] == 99
    assert len(zero_rows) >= 2 * (math.ceil(50 / num_snippets) - 1)
    np.testing.assert_array_equal(np.flatnonzero(~got.any(axis=1)), zero_rows)
    assert np.all(np.abs(np.delete(got, zero_rows, axis=0)) > 1.0)


def test_bsn_rescale_has_no_zero_rows_from_51_snippets():
    got = feature_rescaling.bsn_rescale(random_features(51, 3) + 5.0, interval=16,
                                        frame_rate=30.0)
    assert got.all()


@pytest.mark.parametrize("num_positions,samples", [(100, 3), (10, 2), (7, 5)])
@pytest.mark.parametrize("num_snippets", [1, 2, 7, 30, 130])
def test_mmaction2_rescale_is_pool_feature(num_snippets, num_positions, samples):
    features = random_features(num_snippets, 4, seed=num_snippets)
    expected = mmaction2_pool_feature(features.astype(np.float64), num_positions, samples)
    got = feature_rescaling.mmaction2_rescale(features, num_positions, samples)
    assert got.shape == (num_positions, 4)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_other_numbers_of_positions_follow_bsn_too():
    features = random_features(37, 3)
    expected = bsn_pool_data(features.astype(np.float64), video_anno(600, 25.0), 8,
                             num_prop=64, num_sample_bin=4)
    got = feature_rescaling.bsn_rescale(features, interval=8, frame_rate=25.0,
                                        num_positions=64, samples_per_position=4)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("rescale", [
    lambda f: feature_rescaling.bsn_rescale(f, interval=16, frame_rate=30.0),
    feature_rescaling.mmaction2_rescale])
def test_rescaling_no_snippets_is_a_one_line_error(rescale):
    with pytest.raises(ValueError, match=r"no snippets \(T = 0") as error:
        rescale(np.zeros((0, 4), np.float32))
    assert "\n" not in str(error.value)
