"""Optical flow of known shifts, and dense_flow's 8-bit quantization."""
import cv2
import numpy as np
import pytest

from tsn_tf.input.ingestion import flow


def textured_shift(shift, size=(64, 48), margin=10, seed=0):
    """Two uint8 frames of a smooth random texture whose content moves by `shift` px."""
    width, height = size
    texture = np.random.default_rng(seed).uniform(0, 255, (height + 2 * margin,
                                                           width + 2 * margin))
    texture = cv2.GaussianBlur(texture.astype(np.float32), (0, 0), 1.5)

    def view(dx, dy):
        matrix = np.float32([[1, 0, -(margin - dx)], [0, 1, -(margin - dy)]])
        image = cv2.warpAffine(texture, matrix, (width, height), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REFLECT)
        return np.clip(image + 0.5, 0, 255).astype(np.uint8)
    return view(0, 0), view(*shift)


@pytest.mark.parametrize("algorithm", flow.OPENCV_ALGORITHMS)  # TF TV-L1: test_tvl1.py
@pytest.mark.parametrize("shift", [(1.5, -0.75), (-2.25, 1.0)])
def test_known_shift_within_quantization_and_algorithm_error(algorithm, shift):
    prev, nxt = textured_shift(shift)
    estimated = flow.compute_flow(prev, nxt, algorithm)
    assert estimated.shape == (48, 64, 2) and estimated.dtype == np.float32
    restored = flow.dequantize_flow(*flow.quantize_flow(estimated, 20.0), 20.0)
    interior = restored[8:-8, 8:-8].reshape(-1, 2)
    step = 40.0 / 255
    np.testing.assert_allclose(interior.mean(axis=0), shift, atol=step / 2 + 0.1)
    assert np.percentile(np.abs(interior - shift), 90) < step / 2 + 0.25


def test_estimator_reuse_matches_fresh_call():
    prev, nxt = textured_shift((1.0, 0.5))
    estimator = flow.FlowEstimator("dis")
    first = estimator(prev, nxt)
    second = estimator(prev, nxt)
    np.testing.assert_allclose(first, second)
    np.testing.assert_allclose(first, flow.compute_flow(prev, nxt, "dis"))


def test_unknown_algorithm():
    with pytest.raises(ValueError, match="'raft'"):
        flow.FlowEstimator("raft")


def test_quantize_golden_values():
    values = np.array([[-25.0, -20.0, -10.0, 0.0, 0.0784, 10.0, 20.0, 33.0]], np.float32)
    x, y = flow.quantize_flow(np.stack([values, -values], axis=-1), bound=20.0)
    # dense_flow: v > H ? 255 : v < L ? 0 : cvRound(255 * (v - L) / (H - L))
    np.testing.assert_array_equal(x[0], [0, 0, 64, 128, 128, 191, 255, 255])
    np.testing.assert_array_equal(y[0], [255, 255, 191, 128, 127, 64, 0, 0])
    assert x.dtype == np.uint8 and x.flags.c_contiguous


def test_quantize_matches_reference_formula():
    rng = np.random.default_rng(1)
    values = rng.uniform(-30, 30, (256, 340, 2)).astype(np.float32)
    bound = 15.0
    reference = np.where(values > bound, 255, np.where(
            values < -bound, 0, np.rint(255 * (values.astype(np.float64) + bound) / (2 * bound))))
    x, y = flow.quantize_flow(values, bound)
    np.testing.assert_array_equal(np.stack([x, y], -1), reference.astype(np.uint8))


def test_round_trip_error_at_most_half_a_step():
    rng = np.random.default_rng(2)
    bound = 20.0
    values = rng.uniform(-bound, bound, (50, 60, 2)).astype(np.float32)
    restored = flow.dequantize_flow(*flow.quantize_flow(values, bound), bound)
    assert np.abs(restored - values).max() <= bound / 255 + 1e-5
    clipped = flow.dequantize_flow(*flow.quantize_flow(values * 3, bound), bound)
    assert np.abs(clipped).max() == pytest.approx(bound)


def test_bad_bound():
    with pytest.raises(ValueError, match="bound"):
        flow.quantize_flow(np.zeros((2, 2, 2), np.float32), 0)
