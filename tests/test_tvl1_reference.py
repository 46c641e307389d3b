"""The NumPy TV-L1 references (tests/tvl1_reference.py) against hand-worked values.

Building blocks are checked against numbers worked out by hand from the
OpenCV sources (pyrDown's 5-tap kernel and reflect-101 border, the a = -0.5
bicubic weights, GPU resize sampling at dst * 1.25, borders of the gradient,
divergence and dual step, the stopping rule); whole runs against a known
translation, and loosely against cv2's CPU TV-L1 (a different algorithm).
"""
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import test_flow
import test_tvl1
import tvl1_reference as ref

DATA = Path(__file__).parent / "data"
F = np.float32


def epe(a, b):
    """Mean end-point error between two (H, W, 2) flows."""
    return float(np.hypot(a[..., 0] - b[..., 0], a[..., 1] - b[..., 1]).mean())


def textured_shift(shift, size=(85, 64), **kwargs):
    """`test_flow.textured_shift` at 85x64 by default."""
    return test_flow.textured_shift(shift, size, **kwargs)


# --------------------------------------------------------------------------
# pyrDown (OpenCV 2.4 gpu::pyrDown)


def test_pyr_down_hand_worked_5_tap_reflect101():
    # separable input: the result is the outer product of the 1-D results
    rows = np.array([1, 2, 3], F)
    cols = np.array([0, 16, 32, 64, 128], F)
    out = ref.pyr_down(np.outer(rows, cols))
    # rows (reflect 101: -2->2, -1->1, 3->1, 4->0), kernel [1 4 6 4 1]/16 at 0, 2:
    #   (3 + 4*2 + 6*1 + 4*2 + 3)/16 = 1.75 ; (1 + 4*2 + 6*3 + 4*2 + 1)/16 = 2.25
    # cols at 0, 2, 4 (5 -> 3, 6 -> 2):
    #   (32 + 64 + 0 + 64 + 32)/16 = 12 ; (0 + 64 + 192 + 256 + 128)/16 = 40 ;
    #   (32 + 256 + 768 + 256 + 32)/16 = 84
    expected = np.outer([1.75, 2.25], [12.0, 40.0, 84.0]).astype(F)
    assert out.dtype == F and out.shape == (2, 3)
    np.testing.assert_array_equal(out, expected)


def test_pyr_down_sizes_round_up_and_agree_with_the_cpu_definition():
    image = np.random.default_rng(1).uniform(0, 255, (33, 47)).astype(F)
    out = ref.pyr_down(image)
    assert out.shape == (17, 24)  # ((rows+1)/2, (cols+1)/2)
    # cv2.pyrDown: the same kernel and default border; summation order differs
    np.testing.assert_allclose(out, cv2.pyrDown(image), rtol=0, atol=1e-3)


def test_tsn_pyramid_levels_340x256():
    shapes = [(256, 340)]
    image = np.zeros(shapes[0], F)
    for _ in range(4):
        image = ref.pyr_down(image)
        shapes.append(image.shape)
    assert shapes == [(256, 340), (128, 170), (64, 85), (32, 43), (16, 22)]


# --------------------------------------------------------------------------
# bicubic warp (tvl1flow.cu bicubicCoeff / warpBackwardKernel)

# Keys, a = -0.5, at a position 0.25 past a pixel: taps at distances
# 1.25, 0.25, 0.75, 1.75 (pixels x0-1 .. x0+2), worked by hand:
#   w(0.25) = 1.5/64 - 2.5/16 + 1             =  0.8671875
#   w(0.75) = 1.5*27/64 - 2.5*9/16 + 1        =  0.2265625
#   w(1.25) = -0.5*125/64 + 2.5*25/16 - 5 + 2 = -0.0703125
#   w(1.75) = -0.5*343/64 + 2.5*49/16 - 7 + 2 = -0.0234375
QUARTER_WEIGHTS = [-0.0703125, 0.8671875, 0.2265625, -0.0234375]


def test_bicubic_weights_hand_worked():
    got = ref.bicubic_coeff(np.array([1.25, 0.25, -0.75, -1.75], F))
    np.testing.assert_array_equal(got, QUARTER_WEIGHTS)
    np.testing.assert_array_equal(ref.bicubic_coeff(np.array([0, 1, -1, 2, 2.5], F)), [1, 0, 0, 0, 0])
    assert sum(QUARTER_WEIGHTS) == 1.0


def test_warp_backward_hand_worked_with_clamped_taps():
    row = np.array([0, 10, 20, 40, 80], F)
    I1 = np.tile(row, (5, 1))
    I1x, I1y = ref.centered_gradient(I1)
    I0 = np.full_like(I1, 3.0)
    u1 = np.full_like(I1, 0.25)
    u2 = np.zeros_like(I1)
    I1w, I1wx, I1wy, grad, rho = ref.warp_backward(I0, I1, I1x, I1y, u1, u2)
    # x = 1: taps 0..3 -> 10*0.8671875 + 20*0.2265625 - 40*0.0234375 = 12.265625
    # x = 4: taps 3..6, clamped to 4 -> 40*(-0.0703125) + 80*(1.0703125) = 82.8125
    np.testing.assert_allclose(I1w[2, 1], 12.265625, rtol=1e-6)
    np.testing.assert_allclose(I1w[2, 4], 82.8125, rtol=1e-6)
    # I1x = [5, 10, 15, 30, 20]; at x = 1 (taps 0..3):
    #   5*-0.0703125 + 10*0.8671875 + 15*0.2265625 + 30*-0.0234375 = 11.015625
    np.testing.assert_allclose(I1wx[2, 1], 11.015625, rtol=1e-6)
    np.testing.assert_array_equal(I1wy, 0)
    np.testing.assert_allclose(grad[2, 1], 11.015625 ** 2, rtol=1e-6)
    # rho = I1w - I1wx*u1 - I1wy*u2 - I0
    np.testing.assert_allclose(rho[2, 1], 12.265625 - 11.015625 * 0.25 - 3.0, rtol=1e-6)
    # x = 0, u = -0.25: taps -2..1 (clamped to 0), weights w(1.75) w(0.75) w(0.25) w(1.25)
    u1[:, 0] = -0.25
    I1w = ref.warp_backward(I0, I1, I1x, I1y, u1, u2)[0]
    np.testing.assert_allclose(I1w[2, 0], 10 * -0.0703125, rtol=1e-6)


def test_warp_backward_identity_at_integer_flow():
    image = np.random.default_rng(2).uniform(0, 255, (9, 11)).astype(F)
    I1x, I1y = ref.centered_gradient(image)
    zero = np.zeros_like(image)
    I1w, I1wx, I1wy, _, rho = ref.warp_backward(image, image, I1x, I1y, zero, zero)
    np.testing.assert_array_equal(I1w, image)
    np.testing.assert_array_equal(I1wx, I1x)
    np.testing.assert_array_equal(rho, 0)


# --------------------------------------------------------------------------
# gradient, divergence, the two steps


def test_centered_gradient_borders_are_half_one_sided():
    row = np.array([0, 1, 4, 9], F)
    dx, dy = ref.centered_gradient(np.stack([row, row, row]))
    np.testing.assert_array_equal(dx[1], [0.5, 2.0, 4.0, 2.5])
    np.testing.assert_array_equal(dy, 0)
    dx, dy = ref.centered_gradient(np.stack([row, row, row], axis=1))
    np.testing.assert_array_equal(dy[:, 1], [0.5, 2.0, 4.0, 2.5])


def test_divergence_backward_zero_outside():
    v1 = np.array([[1, 2, 4], [8, 16, 32]], F)
    v2 = np.array([[3, 5, 7], [11, 13, 17]], F)
    # (v1 - v1 left) + (v2 - v2 above), with 0 outside on the left / top
    expected = np.array([[1 + 3, (2 - 1) + 5, (4 - 2) + 7],
                         [8 + (11 - 3), (16 - 8) + (13 - 5), (32 - 16) + (17 - 7)]], F)
    np.testing.assert_array_equal(ref.divergence(v1, v2), expected)


def test_dual_step_hand_worked_forward_gradient_zero_at_last_row_and_column():
    u1 = np.array([[0, 3], [4, 0]], F)
    zero = np.zeros_like(u1)
    taut = 0.25 / 0.3
    p11, p12, p21, p22 = ref.estimate_dual_variables(u1, zero, zero, zero, zero, zero, taut)
    # (0,0): grad (3, 4), |.| = 5; (0,1): (0, -3); (1,0): (-4, 0); (1,1): (0, 0)
    np.testing.assert_allclose(p11, [[taut * 3 / (1 + taut * 5), 0],
                                     [-taut * 4 / (1 + taut * 4), 0]], rtol=1e-6)
    np.testing.assert_allclose(p12, [[taut * 4 / (1 + taut * 5), -taut * 3 / (1 + taut * 3)],
                                     [0, 0]], rtol=1e-6)
    np.testing.assert_array_equal(p21, 0)
    np.testing.assert_array_equal(p22, 0)


def test_estimate_u_thresholding_branches():
    # I1wx = 1, I1wy = 0; l_t = 0.15*0.3 = 0.045; u = 0 and dual variables 0,
    # so u_new = d1 and rho = rho_c
    shape = (1, 5)
    I1wx, I1wy = np.ones(shape, F), np.zeros(shape, F)
    grad = np.array([[1, 1, 1, 0, 1e-8]], F)
    rho_c = np.array([[-1.0, 1.0, 0.02, 0.5, 1e-10]], F)
    zero = np.zeros(shape, F)
    u1_new, u2_new, error = ref.estimate_u(I1wx, I1wy, grad, rho_c, zero, zero, zero, zero,
                                           zero, zero, 0.15 * 0.3, 0.3, True)
    # rho < -l_t*grad: +l_t*I1wx; rho > l_t*grad: -l_t*I1wx (also when grad = 0);
    # in between: -rho/grad*I1wx, unless grad <= FLT_EPSILON: 0
    # (the last pixel: |1e-10| <= 0.045e-8, grad 1e-8 < 1.19e-7; -rho/grad would be -0.01)
    np.testing.assert_allclose(u1_new, [[0.045, -0.045, -0.02, -0.045, 0]], rtol=1e-6)
    np.testing.assert_array_equal(u2_new, 0)
    np.testing.assert_allclose(error, u1_new ** 2, rtol=1e-6)
    assert ref.estimate_u(I1wx, I1wy, grad, rho_c, zero, zero, zero, zero,
                          zero, zero, 0.045, 0.3, False)[2] is None


# --------------------------------------------------------------------------
# resizing and the 0.8 pyramid (OpenCV 4 cuda::resize)


def test_resize_by_0_8_samples_at_dst_times_1_25():
    src = np.array([[0, 10, 20, 30, 40, 50]] * 3, F)
    out = ref.resize_scale(src, 0.8)
    assert out.shape == (2, 5)  # 3*0.8 = 2.4 -> 2, 6*0.8 = 4.8 -> 5
    # src_x = 0, 1.25, 2.5, 3.75, 5 (1/0.8, not 6/5; no half-pixel centres)
    np.testing.assert_allclose(out, [[0, 12.5, 25, 37.5, 50]] * 2, rtol=1e-6)


def test_resize_up_to_size_clamps_the_last_tap():
    src = np.array([[0, 10, 20, 30]] * 2, F)
    out = ref.resize_to(src, (2, 5))
    # factor float(4/5): src_x = 0, .8, 1.6, 2.4, 3.2; x2 = 4 read at 3
    np.testing.assert_allclose(out, [[0, 8, 16, 24, 30]] * 2, rtol=1e-5)


def test_denseflow_pyramid_sizes_340x256():
    expected = [(256, 340), (205, 272), (164, 218), (131, 174), (105, 139)]
    assert ref.pyramid_shapes((256, 340)) == expected
    image = np.zeros((256, 340), F)
    shapes = [image.shape]
    for _ in range(4):
        image = ref.resize_scale(image, 0.8)
        shapes.append(image.shape)
    assert shapes == expected
    assert ref.pyramid_shapes((24, 30)) == [(24, 30), (19, 24)]  # next 15x19 < 16: dropped


@pytest.mark.parametrize("variant, factor", [(ref.tsn_tvl1, 2.0), (ref.denseflow_tvl1, 1.25)])
def test_flow_is_resized_to_the_finer_level_and_scaled(variant, factor):
    # 2.4: gpu::resize then x2 (even where the sizes grow 22 -> 43);
    # 4.x: cuda::resize then x 1/0.8
    log = []
    variant(*textured_shift((1.0, 0.5)), iterations=20, log=log)
    levels = log[::5]
    for coarse_last, fine_first in zip(log[4::5], levels[1:]):
        for coarse, fine in zip(coarse_last["u_out"], fine_first["u_in"]):
            np.testing.assert_array_equal(
                fine, ref.resize_to(coarse, fine_first["shape"]) * np.float32(factor))
    np.testing.assert_array_equal(levels[0]["u_in"][0], 0)  # coarsest level starts at 0


def test_levels_each_variant_runs_on_85x64():
    prev, nxt = textured_shift((1.0, 0.5))
    levels = {}
    for variant in (ref.tsn_tvl1, ref.denseflow_tvl1):
        log = []
        variant(prev, nxt, iterations=2, log=log)
        assert len(log) == 5 * len(set(entry["shape"] for entry in log))  # 5 warps a level
        levels[variant] = [entry["shape"] for entry in log[::5]]
    # pyrDown: 64x85 -> 32x43 -> 16x22 (-> 8x11 < 16, dropped), coarsest first
    assert levels[ref.tsn_tvl1] == [(16, 22), (32, 43), (64, 85)]
    # x0.8 rounded: 51.2x68 -> 51x68 -> 41x54 (40.8x54.4) -> 33x43 -> 26x34
    assert levels[ref.denseflow_tvl1] == [(26, 34), (33, 43), (41, 54), (51, 68), (64, 85)]


# --------------------------------------------------------------------------
# sums and the stopping rule (procOneScale)


def test_gpu24_float_sum_emulation():
    assert ref._gpu24_sum_float(np.ones((64, 85), F)) == 64 * 85
    big = np.random.default_rng(3).uniform(0, 1, (300, 700)).astype(F)
    np.testing.assert_allclose(ref._gpu24_sum_float(big), big.sum(dtype=np.float64), rtol=1e-5)
    # float32 tiles summed in float32 round where a double sum does not
    tiles = np.full((64, 85), 1.0 + 2.0 ** -20, F)
    assert ref._cuda4_sum_double(tiles) == 64 * 85 * (1.0 + 2.0 ** -20)


def test_identical_frames_stop_each_warp_after_two_iterations():
    image = (np.random.default_rng(4).uniform(0, 255, (20, 24))).astype(np.uint8)
    for variant in (ref.tsn_tvl1, ref.denseflow_tvl1):
        log = []
        flow = variant(image, image, log=log)
        np.testing.assert_array_equal(flow, 0)
        # n = 0: no sum (even); n = 1: sum (prevError = -eps^2*area < eps^2*area) = 0
        assert all(entry["iterations"] == 2 and entry["sums"] == [(1, 0.0)] for entry in log)


@pytest.mark.parametrize("variant", [ref.tsn_tvl1, ref.denseflow_tvl1])
def test_sums_follow_the_odd_iteration_schedule(variant):
    log = []
    variant(*textured_shift((1.5, -0.75)), log=log)
    for entry in log:
        eps, sums, n_run = entry["scaled_epsilon"], entry["sums"], entry["iterations"]
        assert sums[0][0] == 1
        for (n_a, error), (n_b, _) in zip(sums, sums[1:]):
            # prevError = error, then -eps per unsummed step: the next sum is at
            # the first odd n_a + 2m with error - (2m - 1) eps < eps
            assert error > eps and n_b == n_a + 2 * (int(error // (2 * eps)) + 1)
        n_last, error_last = sums[-1]
        if error_last <= eps:
            assert n_run == n_last + 1
        else:  # ran out of iterations before the next scheduled sum
            assert n_run == ref.ITERATIONS
            assert n_last + 2 * (int(error_last // (2 * eps)) + 1) >= ref.ITERATIONS


# --------------------------------------------------------------------------
# input conversion


def test_float_frames_are_taken_as_0_to_1_and_scaled_by_255():
    np.testing.assert_array_equal(ref.to_gpu_float(np.array([[0, 128, 255]], np.uint8)),
                                  [[0, 128, 255]])
    np.testing.assert_array_equal(ref.to_gpu_float(np.array([[0, 0.5, 1]], F)),
                                  [[0, 127.5, 255]])
    with pytest.raises(ValueError):
        ref.to_gpu_float(np.zeros((4, 4, 3), np.uint8))


# --------------------------------------------------------------------------
# whole runs


@pytest.mark.parametrize("variant", [ref.tsn_tvl1, ref.denseflow_tvl1])
@pytest.mark.parametrize("shift", [(1.5, -0.75), (-2.25, 1.0)])
def test_recovers_a_sub_pixel_translation(variant, shift):
    prev, nxt = textured_shift(shift)
    flow = variant(prev, nxt)
    assert flow.shape == (64, 85, 2) and flow.dtype == F
    interior = flow[8:-8, 8:-8]
    error = np.hypot(interior[..., 0] - shift[0], interior[..., 1] - shift[1])
    assert error.mean() < 0.1 and np.percentile(error, 95) < 0.2


def demo_pair(first, second, size):
    """Two frames of tests/data/demo.mp4, grey then resized (denseflow's order)."""
    capture = cv2.VideoCapture(str(DATA / "demo.mp4"))
    frames = {}
    for index in range(second + 1):
        ok, frame = capture.read()
        assert ok
        if index in (first, second):
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            frames[index] = cv2.resize(grey, size, interpolation=cv2.INTER_LINEAR)
    capture.release()
    return frames[first], frames[second]


@pytest.mark.parametrize("size,bound", [((85, 64), 0.5),
                                         pytest.param((340, 256), 1.0, marks=pytest.mark.slow)])
@pytest.mark.parametrize("frames", [(10, 11), (30, 31)])
def test_close_to_cpu_tvl1_on_real_frames(frames, size, bound):
    prev, nxt = demo_pair(*frames, size)
    with test_tvl1.ipp(False):
        cpu = cv2.optflow.DualTVL1OpticalFlow_create().calc(prev, nxt, None)
    start = time.perf_counter()
    tsn = ref.tsn_tvl1(prev, nxt)
    middle = time.perf_counter()
    dense = ref.denseflow_tvl1(prev, nxt)
    end = time.perf_counter()
    print("demo.mp4 %s %s: EPE tsn-cpu %.3f, denseflow-cpu %.3f, tsn-denseflow %.3f; "
          "%.2f s, %.2f s" % (frames, size, epe(tsn, cpu), epe(dense, cpu), epe(tsn, dense),
                              middle - start, end - middle))
    # loose sanity bounds: different algorithms (cv2's CPU TV-L1: 10 x 30 iterations,
    # median, Keys a = -0.75), same model and parameters
    assert epe(tsn, cpu) < bound and epe(dense, cpu) < bound
